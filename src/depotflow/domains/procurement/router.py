"""Routes of the procurement module (the seed's 27), under `/modules/depo_procurement/api`.

Thin: each route checks its permission, calls one use case and shapes the answer. State rules,
approval, receiving and QC live in the services.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile, status
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from depotflow.core.listing import Page
from depotflow.core.security import Actor
from depotflow.core.settings import Settings
from depotflow.domains.approval import permissions as approval_permissions
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.schemas import FlowRead, SignRequest
from depotflow.domains.config import service as config_service
from depotflow.domains.file import service as file_service
from depotflow.domains.file.schemas import FileFilter, FileRead
from depotflow.domains.identity import service as identity_service
from depotflow.domains.part import service as part_service
from depotflow.domains.part.schemas import PartFilter, PartRead
from depotflow.domains.procurement import permissions
from depotflow.domains.procurement import service as procurement_service
from depotflow.domains.procurement.enums import OBJECT_TYPE
from depotflow.domains.procurement.errors import AttachmentNotFound
from depotflow.domains.procurement.schemas import (
    MAX_ID,
    DocumentsRead,
    DocumentsUpdate,
    LineCreate,
    LineRead,
    LineUpdate,
    OrderCreate,
    OrderFilter,
    OrderRead,
    OrderUpdate,
    Reason,
    ReceiveRequest,
    StateRead,
    TemplateCodeRead,
)
from depotflow.domains.stock import permissions as stock_permissions
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.schemas import LotRead, QcRecordCreate, QcRecordRead, QcRecordUpdate, StatusRead
from depotflow.web.deps import (
    ListEnvelope,
    ListParamsDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    client_ip,
    envelope,
    require,
)

Viewer = Annotated[Actor, Depends(require(permissions.VIEW))]
Adder = Annotated[Actor, Depends(require(permissions.ADD))]
Changer = Annotated[Actor, Depends(require(permissions.CHANGE))]
Receiver = Annotated[Actor, Depends(require(permissions.RECEIVE))]
Reverser = Annotated[Actor, Depends(require(permissions.REVERSE_RECEIPT))]
Signer = Annotated[Actor, Depends(require(approval_permissions.SIGN))]
Withdrawer = Annotated[Actor, Depends(require(approval_permissions.WITHDRAW))]
FlowStarter = Annotated[Actor, Depends(require(approval_permissions.CREATE))]
QcRecorder = Annotated[Actor, Depends(require(stock_permissions.QC_RECORD))]
PathId = Annotated[int, Path(gt=0, le=MAX_ID)]
ATTACHMENT_ENTITY = OBJECT_TYPE

router = APIRouter(tags=["procurement"])


def _whole(items: list[object]) -> Page[object]:
    return Page(items=items, total=len(items), offset=0, limit=None)


async def _order_read(session: SessionDep, actor: Actor, order_id: int) -> OrderRead:
    order = await procurement_service.get_order(session, order_id)
    return (await procurement_service.order_reads(session, actor, [order]))[0]


async def _reauthenticate(
    request: Request,
    actor: Actor,
    read_session: AsyncSession,
    session: AsyncSession,
    settings: Settings,
    password: str,
    purpose: str,
) -> None:
    """Password re-entry for an electronic signature (counts toward the login lockout, audited)."""
    await identity_service.reauthenticate(
        read_session,
        session,
        actor,
        password=password,
        ip_address=client_ip(request),
        security=settings.security,
        identity=settings.identity,
        purpose=purpose,
    )


async def _flow_read(session: SessionDep, flow_id: int) -> FlowRead:
    flow = await approval_service.get_flow(session, flow_id)
    return (await approval_service.flow_reads(session, [flow]))[0]


# --- reference data ----------------------------------------------------------------------------


@router.get("/document-templates", response_model=ListEnvelope[TemplateCodeRead])
async def list_document_templates(actor: Viewer, session: SessionDep) -> ListEnvelope[TemplateCodeRead]:
    """Document template codes offered for purchase orders (config `procurement_document_templates`)."""
    config = await config_service.get_config(session)
    items = [
        TemplateCodeRead(code=code, name=name) for code, name in sorted(config.procurement_document_templates.items())
    ]
    return envelope(_whole(list(items)), items)


@router.get("/order-statuses", response_model=ListEnvelope[StateRead])
async def list_order_statuses(actor: Viewer, session: SessionDep) -> ListEnvelope[StateRead]:
    """The purchase order states with their stable slugs, ordered by value."""
    items = await procurement_service.list_states(session)
    return envelope(_whole(list(items)), items)


@router.get("/stock-statuses", response_model=ListEnvelope[StatusRead])
async def list_stock_statuses(actor: Viewer, session: SessionDep) -> ListEnvelope[StatusRead]:
    """The stock statuses (slug, flags `is_requestable`, `is_transferable`), ordered by value."""
    items = [stock_service.status_read(s) for s in await stock_service.list_statuses(session)]
    return envelope(_whole(list(items)), items)


@router.get("/parts", response_model=ListEnvelope[PartRead])
async def search_parts(actor: Viewer, session: SessionDep, params: ListParamsDep) -> ListEnvelope[PartRead]:
    """Active, purchaseable parts to order; search matches IPN, name and description."""
    page = await part_service.list_parts(
        session,
        filters=PartFilter(is_active=True, is_purchaseable=True),
        page=params.page,
        sort=params.sort,
        search=params.search,
    )
    return envelope(page, await part_service.part_reads(session, list(page.items)))


# --- orders ------------------------------------------------------------------------------------


@router.get("/purchase-orders", response_model=ListEnvelope[OrderRead])
async def list_orders(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[OrderFilter, Query()]
) -> ListEnvelope[OrderRead]:
    """Orders, newest first. Filters: state, supplier_id, date_from/date_to (issue date); search:
    reference, description, supplier_reference. Sortable: created_at, reference, issue_date,
    target_date, state."""
    page = await procurement_service.list_orders(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await procurement_service.order_reads(session, actor, list(page.items)))


@router.post("/purchase-orders", response_model=OrderRead, status_code=status.HTTP_201_CREATED)
async def create_order(body: OrderCreate, actor: Adder, session: SessionDep) -> OrderRead:
    """Create a pending order: the server assigns PO-NNNN and starts the approval flow from the
    active template for purchase orders, if there is one."""
    order = await procurement_service.create_order(session, actor, data=body)
    return (await procurement_service.order_reads(session, actor, [order]))[0]


@router.get("/purchase-orders/{order_id}", response_model=OrderRead)
async def get_order(order_id: PathId, actor: Viewer, session: SessionDep) -> OrderRead:
    """One order, with `allowed_transitions` for the current user and `editable`."""
    return await _order_read(session, actor, order_id)


@router.patch("/purchase-orders/{order_id}", response_model=OrderRead)
async def update_order(order_id: PathId, body: OrderUpdate, actor: Changer, session: SessionDep) -> OrderRead:
    """Change the header (whitelisted fields only) while the order is pending and unsigned (409
    `procurement.order_locked` otherwise)."""
    order = await procurement_service.update_order(session, actor, order_id=order_id, data=body)
    return (await procurement_service.order_reads(session, actor, [order]))[0]


@router.patch("/purchase-orders/{order_id}/state", response_model=OrderRead)
async def change_state(
    order_id: PathId,
    actor: Viewer,
    session: SessionDep,
    state_name: Annotated[str, Query(min_length=1, max_length=40)],
    reason: Annotated[str | None, Query(max_length=2000)] = None,
) -> OrderRead:
    """Take an explicit transition: `cancelled` (pending; the creator or procurement.cancel),
    `refused` (pending or issued; procurement.refuse), `finished` (issued or receiving;
    procurement.finish). A reason is required, except to finish a fully received order."""
    order = await procurement_service.change_state(
        session, actor, order_id=order_id, state_name=state_name, reason=reason
    )
    return (await procurement_service.order_reads(session, actor, [order]))[0]


@router.patch("/purchase-orders/{order_id}/documents", response_model=DocumentsRead)
async def update_documents(
    order_id: PathId, body: DocumentsUpdate, actor: Changer, session: SessionDep
) -> DocumentsRead:
    """Replace the order's free-form `documents` bookkeeping (a JSON object up to 64 KiB)."""
    order = await procurement_service.update_documents(session, actor, order_id=order_id, documents=body.documents)
    return DocumentsRead(documents=order.documents)


# --- approval ----------------------------------------------------------------------------------


@router.get("/purchase-orders/{order_id}/approval-flow", response_model=FlowRead)
async def get_approval_flow(order_id: PathId, actor: Viewer, session: SessionDep) -> FlowRead:
    """The order's approval flow (404 `procurement.no_approval_flow` when none was started)."""
    await procurement_service.get_order(session, order_id)
    flow = await procurement_service.require_flow(session, order_id)
    return (await approval_service.flow_reads(session, [flow]))[0]


@router.post("/purchase-orders/{order_id}/approval-flow", response_model=FlowRead, status_code=status.HTTP_201_CREATED)
async def start_approval_flow(order_id: PathId, actor: FlowStarter, session: SessionDep) -> FlowRead:
    """Start the approval flow from the active template, when the order was created before one
    existed (409 when it has one; 404 `approval.template_not_found` without a template)."""
    flow = await procurement_service.start_approval(session, actor, order_id=order_id)
    return (await approval_service.flow_reads(session, [flow]))[0]


@router.post("/purchase-orders/{order_id}/sign", response_model=FlowRead)
async def sign_order(
    order_id: PathId,
    body: SignRequest,
    request: Request,
    actor: Signer,
    read_session: ReadSessionDep,
    session: SessionDep,
    settings: SettingsDep,
) -> FlowRead:
    """Sign the order's approval with a re-entered password (approve, or reject with a reason).
    When every required officer has signed the order is issued; a rejection refuses it."""
    await procurement_service.get_order(session, order_id)
    flow = await procurement_service.require_flow(session, order_id)
    await _reauthenticate(request, actor, read_session, session, settings, body.password, "the signature")
    flow = await approval_service.sign(
        session,
        actor,
        flow_id=flow.id,
        decision=body.decision,
        meaning=body.meaning,
        reason=body.reason,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        secret=settings.resolved_secret_key(),
    )
    return await _flow_read(session, flow.id)


@router.delete("/purchase-orders/{order_id}/signatures/{user_id}", response_model=FlowRead)
async def withdraw_signature(
    order_id: PathId,
    user_id: PathId,
    actor: Withdrawer,
    session: SessionDep,
    settings: SettingsDep,
    reason: Annotated[Reason, Query()],
) -> FlowRead:
    """Withdraw a user's signature (kept, marked withdrawn, with the reason). An issued order with no
    receipt goes back to pending; once goods were received the signatures stay (409)."""
    await procurement_service.get_order(session, order_id)
    flow = await procurement_service.require_flow(session, order_id)
    flow = await approval_service.withdraw_signature(
        session, actor, flow_id=flow.id, user_id=user_id, reason=reason, secret=settings.resolved_secret_key()
    )
    return await _flow_read(session, flow.id)


# --- lines -------------------------------------------------------------------------------------


@router.get("/purchase-orders/{order_id}/items", response_model=ListEnvelope[LineRead])
async def list_items(
    order_id: PathId, actor: Viewer, session: SessionDep, params: ListParamsDep
) -> ListEnvelope[LineRead]:
    """The order's lines in line order, with part details and received/remaining quantities."""
    page = await procurement_service.list_lines(
        session, order_id=order_id, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await procurement_service.line_reads(session, list(page.items)))


@router.post("/purchase-orders/{order_id}/items", response_model=LineRead, status_code=status.HTTP_201_CREATED)
async def add_item(order_id: PathId, body: LineCreate, actor: Changer, session: SessionDep) -> LineRead:
    """Add a line (pending, unsigned orders only); the currency defaults to the order's."""
    line = await procurement_service.add_line(session, actor, order_id=order_id, data=body)
    return (await procurement_service.line_reads(session, [line]))[0]


@router.put("/purchase-orders/{order_id}/items/{item_id}", response_model=LineRead)
async def update_item(
    order_id: PathId, item_id: PathId, body: LineUpdate, actor: Changer, session: SessionDep
) -> LineRead:
    """Change a line (pending, unsigned orders only); fields left out stay."""
    line = await procurement_service.update_line(session, actor, order_id=order_id, line_id=item_id, data=body)
    return (await procurement_service.line_reads(session, [line]))[0]


@router.delete("/purchase-orders/{order_id}/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(order_id: PathId, item_id: PathId, actor: Changer, session: SessionDep) -> Response:
    """Remove a line (pending, unsigned orders only)."""
    await procurement_service.delete_line(session, actor, order_id=order_id, line_id=item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- receiving ---------------------------------------------------------------------------------


@router.post("/purchase-orders/{order_id}/receive-stock", response_model=LotRead, status_code=status.HTTP_201_CREATED)
async def receive_stock(
    order_id: PathId, body: ReceiveRequest, actor: Receiver, session: SessionDep, settings: SettingsDep
) -> LotRead:
    """Receive a delivery for one line into a warehouse: one lot, its receipt movement, the line's
    received quantity and the order's state, in one transaction. The lot starts in quarantine unless
    the part needs no QC release (and every receipt check passed)."""
    lot = await procurement_service.receive(session, actor, order_id=order_id, data=body, policy=settings.procurement)
    return (await stock_service.lot_reads(session, [lot]))[0]


@router.get("/purchase-orders/{order_id}/received-items", response_model=ListEnvelope[LotRead])
async def list_received_items(
    order_id: PathId,
    actor: Viewer,
    session: SessionDep,
    params: ListParamsDep,
    include_reversed: Annotated[bool, Query()] = False,
) -> ListEnvelope[LotRead]:
    """Lots received against the order, newest first, with part, balances and status."""
    page = await procurement_service.list_received(
        session,
        order_id=order_id,
        include_reversed=include_reversed,
        page=params.page,
        sort=params.sort,
        search=params.search,
    )
    return envelope(page, await stock_service.lot_reads(session, list(page.items)))


@router.delete("/stock-items/{stock_id}", response_model=LotRead)
async def reverse_received_item(
    stock_id: PathId, actor: Reverser, session: SessionDep, reason: Annotated[Reason, Query()]
) -> LotRead:
    """Reverse a receipt whose lot has no other movement and no QC record: the lot is kept, marked
    reversed and balanced by a reversal movement; the order's line and state follow."""
    lot = await procurement_service.reverse(session, actor, lot_id=stock_id, reason=reason)
    return (await stock_service.lot_reads(session, [lot]))[0]


# --- QC ----------------------------------------------------------------------------------------


@router.get("/purchase-orders/{order_id}/qc-records", response_model=ListEnvelope[QcRecordRead])
async def list_qc_records(order_id: PathId, actor: Viewer, session: SessionDep) -> ListEnvelope[QcRecordRead]:
    """QC records of the lots received against the order, newest first."""
    records = await procurement_service.list_qc_records(session, order_id=order_id)
    items = await stock_service.qc_reads(session, records)
    return envelope(_whole(list(items)), items)


@router.post("/purchase-orders/{order_id}/qc-records", response_model=QcRecordRead, status_code=status.HTTP_201_CREATED)
async def create_qc_record(
    order_id: PathId, body: QcRecordCreate, actor: QcRecorder, session: SessionDep
) -> QcRecordRead:
    """Record sampling (a sampling movement takes the sampled quantity out of the lot) and results."""
    record = await procurement_service.create_qc_record(session, actor, order_id=order_id, data=body)
    return (await stock_service.qc_reads(session, [record]))[0]


@router.patch("/purchase-orders/{order_id}/qc-records/{qc_id}", response_model=QcRecordRead)
async def update_qc_record(
    order_id: PathId,
    qc_id: PathId,
    body: QcRecordUpdate,
    request: Request,
    actor: QcRecorder,
    read_session: ReadSessionDep,
    session: SessionDep,
    settings: SettingsDep,
) -> QcRecordRead:
    """Change an unconfirmed record; `confirm: true` with `password` signs the result (qc.release):
    conform releases the lot to `ok`, non-conform moves it to `rejected`. Confirmed records are final."""
    if body.confirm:
        await procurement_service.get_order(session, order_id)
        assert body.password is not None  # the schema requires it with confirm
        await _reauthenticate(request, actor, read_session, session, settings, body.password, "the QC confirmation")
    record = await procurement_service.update_qc_record(
        session,
        actor,
        order_id=order_id,
        qc_id=qc_id,
        data=body,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        secret=settings.resolved_secret_key(),
    )
    return (await stock_service.qc_reads(session, [record]))[0]


# --- attachments -------------------------------------------------------------------------------


@router.get("/purchase-orders/{order_id}/attachments", response_model=ListEnvelope[FileRead])
async def list_attachments(
    order_id: PathId, actor: Viewer, session: SessionDep, params: ListParamsDep
) -> ListEnvelope[FileRead]:
    """The order's files, newest first; bytes are downloaded through `content_url` (authorised)."""
    await procurement_service.get_order(session, order_id)
    page = await file_service.list_files(
        session,
        filters=FileFilter(entity_type=ATTACHMENT_ENTITY, entity_id=order_id),
        page=params.page,
        sort=params.sort,
        search=params.search,
    )
    return envelope(page, [file_service.file_read(record) for record in page.items])


@router.post("/purchase-orders/{order_id}/attachments", response_model=FileRead, status_code=status.HTTP_201_CREATED)
async def upload_attachment(
    order_id: PathId,
    file: Annotated[UploadFile, File(description="The file; its type is sniffed from the bytes")],
    request: Request,
    actor: Changer,
    session: SessionDep,
    settings: SettingsDep,
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> FileRead:
    """Attach a file (delivery note, certificate of analysis...) through the file store."""
    await procurement_service.lock_order(session, order_id)
    record = await file_service.upload_file(
        session,
        actor,
        request.app.state.blob_store,
        source=file.file,
        filename=file.filename,
        limits=settings.storage,
        entity_type=ATTACHMENT_ENTITY,
        entity_id=order_id,
        description=comment.strip(),
    )
    return file_service.file_read(record)


@router.delete("/purchase-orders/{order_id}/attachments/{attachment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_attachment(
    order_id: PathId, attachment_id: PathId, request: Request, actor: Changer, session: SessionDep
) -> Response:
    """Remove one of the order's attachments (the record is kept, marked deleted); bytes another
    record still uses stay."""
    await procurement_service.lock_order(session, order_id)
    record = await file_service.find_live_file(session, attachment_id)
    if record is None or record.entity_type != ATTACHMENT_ENTITY or record.entity_id != order_id:
        raise AttachmentNotFound(
            f"Purchase order {order_id} has no attachment {attachment_id}.", details={"attachment_id": attachment_id}
        )
    unused = await file_service.delete_file(session, actor, file_id=attachment_id)
    store = request.app.state.blob_store
    task = BackgroundTask(file_service.collect_after_commit, request.app.state.db, store, unused) if unused else None
    return Response(status_code=status.HTTP_204_NO_CONTENT, background=task)
