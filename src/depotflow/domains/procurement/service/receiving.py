"""Order lines, receipts and their reversal, and the QC records of received lots.

A receipt is one transaction: the lot, its receipt movement and balance, the line's received
quantity and the order's state. Receipts on the same line are serialised (audit chain head, then
the line's row lock), so two concurrent receipts can never together exceed the over-receipt policy.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_reason
from depotflow.core.errors import DepotflowError, FieldError
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.core.settings import ProcurementSettings
from depotflow.domains.approval.models import ApprovalFlow
from depotflow.domains.company import service as company_service
from depotflow.domains.company.errors import SupplierPartNotFound
from depotflow.domains.part import service as part_service
from depotflow.domains.part.errors import PartNotFound
from depotflow.domains.part.models import Part
from depotflow.domains.procurement import repository as procurement_repo
from depotflow.domains.procurement.enums import RECEIVABLE, OrderState
from depotflow.domains.procurement.errors import (
    InvalidReceipt,
    LineHasReceipts,
    LineNotFound,
    NotReceivable,
    OrderClosed,
    OverReceipt,
    QcRecordNotFound,
    ReceivedLotNotFound,
    UnknownReference,
)
from depotflow.domains.procurement.models import PurchaseOrder, PurchaseOrderLine
from depotflow.domains.procurement.schemas import (
    NULLABLE_LINE,
    LineCreate,
    LineRead,
    LineUpdate,
    PartBrief,
    ReceiveRequest,
)
from depotflow.domains.procurement.service import orders
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import StatusSlug
from depotflow.domains.stock.models import QcRecord, StockLot
from depotflow.domains.stock.schemas import QcRecordCreate, QcRecordUpdate

# --- lines -------------------------------------------------------------------------------------


async def line_reads(session: AsyncSession, lines: Sequence[PurchaseOrderLine]) -> list[LineRead]:
    parts = {p.id: p for p in await part_service.part_reads(session, await _parts(session, lines))}
    return [
        LineRead(
            id=line.id,
            order_id=line.order_id,
            line_number=line.line_number,
            part_id=line.part_id,
            part=PartBrief(
                id=line.part_id,
                ipn=parts[line.part_id].ipn,
                name=parts[line.part_id].name,
                unit=parts[line.part_id].unit_code,
            ),
            supplier_part_id=line.supplier_part_id,
            quantity=line.quantity,
            received_quantity=line.received_quantity,
            remaining_quantity=max(line.quantity - line.received_quantity, Decimal(0)),
            purchase_price=line.purchase_price,
            currency=line.currency,
            reference=line.reference,
            destination_id=line.destination_id,
            notes=line.notes,
            created_at=line.created_at,
            updated_at=line.updated_at,
        )
        for line in lines
    ]


async def _parts(session: AsyncSession, lines: Sequence[PurchaseOrderLine]) -> list[Part]:
    return await part_service.parts_by_id(session, {line.part_id for line in lines})


async def list_lines(
    session: AsyncSession, /, *, order_id: int, page: PageRequest, sort: str | None, search: str | None
) -> Page[PurchaseOrderLine]:
    """Raises: OrderNotFound."""
    await orders.get_order(session, order_id)
    return await procurement_repo.LINES.fetch(
        session, procurement_repo.select_lines(order_id), page, sort=sort, search=search
    )


async def _get_line(session: AsyncSession, order: PurchaseOrder, line_id: int) -> PurchaseOrderLine:
    line = await procurement_repo.lock_line(session, order.id, line_id)
    if line is None:
        raise LineNotFound(
            f"Purchase order {order.reference} has no line {line_id}.",
            details={"order_id": order.id, "line_id": line_id},
        )
    return line


async def _check_line_refs(session: AsyncSession, order: PurchaseOrder, part_id: int, changes: dict[str, Any]) -> None:
    if "part_id" in changes:
        try:
            part = await part_service.get_part(session, part_id)
        except PartNotFound as exc:
            raise UnknownReference(
                exc.message, fields=[FieldError(("body", "part_id"), "unknown", "no such part")]
            ) from exc
        if not (part.is_active and part.is_purchaseable):
            raise UnknownReference(
                f"Part {part.ipn} is not an active, purchaseable part.",
                fields=[FieldError(("body", "part_id"), "not_purchaseable", "must be active and purchaseable")],
            )
    supplier_part_id = changes.get("supplier_part_id")
    if supplier_part_id is not None:
        try:
            supplier_part = await company_service.get_supplier_part(session, supplier_part_id)
        except SupplierPartNotFound as exc:
            raise UnknownReference(
                exc.message, fields=[FieldError(("body", "supplier_part_id"), "unknown", "no such supplier part")]
            ) from exc
        if supplier_part.supplier_id != order.supplier_id or supplier_part.part_id != part_id:
            raise UnknownReference(
                "The supplier part belongs to another supplier or part.",
                fields=[FieldError(("body", "supplier_part_id"), "mismatch", "not this supplier's offer of this part")],
            )
    if changes.get("destination_id") is not None:
        await orders.check_destination(session, changes["destination_id"], "destination_id")


async def add_line(session: AsyncSession, actor: Actor, /, *, order_id: int, data: LineCreate) -> PurchaseOrderLine:
    """Raises: OrderNotFound, OrderLocked, UnknownReference."""
    order = await orders.lock_order(session, order_id)
    await orders.ensure_editable(session, order)
    values = data.model_dump()
    await _check_line_refs(session, order, data.part_id, values)
    now = utcnow()
    line = PurchaseOrderLine(
        order_id=order.id,
        line_number=await procurement_repo.next_line_number(session, order.id),
        part_id=data.part_id,
        supplier_part_id=data.supplier_part_id,
        quantity=data.quantity,
        received_quantity=Decimal(0),
        purchase_price=data.purchase_price,
        currency=data.currency or order.currency,
        reference=data.reference,
        destination_id=data.destination_id,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    session.add(line)
    order.updated_at = now
    await session.flush()
    return line


async def update_line(
    session: AsyncSession, actor: Actor, /, *, order_id: int, line_id: int, data: LineUpdate
) -> PurchaseOrderLine:
    """Raises: OrderNotFound, LineNotFound, OrderLocked, UnknownReference."""
    order = await orders.lock_order(session, order_id)
    line = await _get_line(session, order, line_id)
    await orders.ensure_editable(session, order)
    changes = {
        key: value
        for key, value in data.model_dump(exclude_unset=True).items()
        if value is not None or key in NULLABLE_LINE
    }
    await _check_line_refs(session, order, line.part_id, changes)
    changed = {key: value for key, value in changes.items() if getattr(line, key) != value}
    for key, value in changed.items():
        setattr(line, key, value)
    if changed:
        line.updated_at = order.updated_at = utcnow()
    await session.flush()
    return line


async def delete_line(session: AsyncSession, actor: Actor, /, *, order_id: int, line_id: int) -> None:
    """Raises: OrderNotFound, LineNotFound, OrderLocked, LineHasReceipts."""
    order = await orders.lock_order(session, order_id)
    line = await _get_line(session, order, line_id)
    await orders.ensure_editable(session, order)
    if await procurement_repo.line_has_lots(session, line.id):
        raise LineHasReceipts(f"Line {line.line_number} has received lots.", details={"line_id": line.id})
    await session.delete(line)
    order.updated_at = utcnow()
    await session.flush()


# --- receiving ---------------------------------------------------------------------------------


def _findings(data: ReceiveRequest) -> list[str]:
    """The checks a receipt failed; any of them keeps the lot in quarantine."""
    found: list[str] = []
    for flag, label in (("is_damaged", "damaged"), ("is_unsealed", "unsealed"), ("is_mislabeled", "mislabeled")):
        count = sum(c.num_containers for c in data.containers if getattr(c, flag))
        if count:
            found.append(f"containers_{label}:{count}")
    checks = {
        "containers_not_cleaned": data.containers_cleaned,
        "not_in_accordance_with_supplier_certificate": data.accord_ba,
        "supplier_not_on_approved_list": data.is_list_supplier,
        "transport_not_clean": data.clean_transport,
        "temperature_conditions_not_met": data.temperature_conditions_met,
    }
    found.extend(name for name, passed in checks.items() if passed is False)
    return found


def _allowed_total(line: PurchaseOrderLine, policy: ProcurementSettings) -> Decimal:
    if policy.over_receipt == "tolerance":
        return line.quantity * (1 + policy.over_receipt_tolerance_percent / 100)
    return line.quantity


async def receive(
    session: AsyncSession, actor: Actor, /, *, order_id: int, data: ReceiveRequest, policy: ProcurementSettings
) -> StockLot:
    """Receive one delivery for one line.

    Raises: OrderNotFound, NotReceivable, LineNotFound, OverReceipt, InvalidReceipt, UnknownReference
    (location), stock's BatchCodeTaken.
    """
    order = await orders.lock_order(session, order_id)
    if OrderState(order.state) not in RECEIVABLE:
        raise NotReceivable(
            f"Purchase order {order.reference} is {order.state}: goods are received while it is issued or receiving.",
            details={"state": order.state},
        )
    line = await _get_line(session, order, data.line_id)
    allowed = _allowed_total(line, policy)
    if line.received_quantity + data.quantity > allowed:
        raise OverReceipt(
            f"Line {line.line_number} ordered {line.quantity}, has received {line.received_quantity}; "
            f"{data.quantity} more would exceed the {allowed} allowed.",
            details={
                "ordered": str(line.quantity),
                "received": str(line.received_quantity),
                "requested": str(data.quantity),
                "allowed_total": str(allowed),
            },
        )
    location_id = data.location_id or line.destination_id or order.destination_id
    if location_id is None:
        raise InvalidReceipt(
            "Name the warehouse the goods go to (the order and line have no destination).",
            fields=[FieldError(("body", "location_id"), "missing", "required")],
        )
    await orders.check_destination(session, location_id, "location_id")
    part = await part_service.get_part(session, line.part_id)
    if part.tracks_expiry and data.expiry_date is None and data.retest_date is None:
        raise InvalidReceipt(
            f"Part {part.ipn} tracks expiry: give an expiry or a retest date.",
            fields=[FieldError(("body", "expiry_date"), "missing", "expiry_date or retest_date is required")],
        )
    findings = _findings(data)
    if findings:
        status = StatusSlug.QUARANTINE
    elif not part.requires_qc_release:
        status = StatusSlug.OK
    else:
        status = StatusSlug.QUARANTINE_TRANSFERABLE if data.transferable else StatusSlug.QUARANTINE
    batch_code = data.batch_code or (
        f"{order.reference}-{line.line_number}-{await procurement_repo.lots_of_line(session, line.id) + 1}"
    )
    receipt = data.model_dump(
        mode="json",
        include={
            "transferable",
            "containers",
            "containers_cleaned",
            "supplier_ba_no",
            "supplier_ba_date",
            "accord_ba",
            "is_list_supplier",
            "clean_transport",
            "temperature_control",
            "temperature_conditions_met",
        },
    )
    lot = await stock_service.receive_lot(
        session,
        actor,
        part_id=line.part_id,
        batch_code=batch_code,
        location_id=location_id,
        quantity=data.quantity,
        status=await stock_service.get_status(session, status.value),
        origin_type=procurement_repo.ORIGIN,
        origin_id=order.id,
        origin_line_id=line.id,
        origin_reference=order.reference,
        supplier_id=order.supplier_id,
        supplier_batch_code=data.supplier_batch_code,
        manufacturing_date=data.manufacturing_date,
        expiry_date=data.expiry_date,
        retest_date=data.retest_date,
        expected_quantity=data.expected_quantity,
        receipt=receipt,
        findings=findings,
        notes=data.notes,
    )
    line.received_quantity += data.quantity
    line.updated_at = utcnow()
    await session.flush()
    await _settle_state(session, actor, order)
    return lot


async def _settle_state(session: AsyncSession, actor: Actor, order: PurchaseOrder) -> None:
    """Bring the order's state in line with its receipts: issued ↔ receiving ↔ finished."""
    summary = (await procurement_repo.line_summaries(session, [order.id]))[order.id]
    complete = summary.count > 0 and summary.fully_received == summary.count
    receipts = await procurement_repo.live_receipt_count(session, order.id)
    state = OrderState(order.state)
    if complete and state in RECEIVABLE:
        orders.close(order, actor, OrderState.FINISHED, orders.AUTO_FINISH_REASON)
    elif state is OrderState.ISSUED and receipts > 0:
        order.state = OrderState.RECEIVING.value
        order.updated_at = utcnow()
    elif state is OrderState.FINISHED and not complete:
        orders.reopen(order, OrderState.RECEIVING if receipts else OrderState.ISSUED)
    elif state is OrderState.RECEIVING and receipts == 0:
        order.state = OrderState.ISSUED.value
        order.updated_at = utcnow()
    await session.flush()


async def received_lot(session: AsyncSession, lot_id: int) -> StockLot:
    """A lot received through procurement. Raises: ReceivedLotNotFound."""
    lot = await session.get(StockLot, lot_id)
    if lot is None or lot.origin_type != procurement_repo.ORIGIN or lot.origin_id is None:
        raise ReceivedLotNotFound(
            f"No lot {lot_id} was received against a purchase order.", details={"stock_id": lot_id}
        )
    return lot


def _closed_to_reversal(order: PurchaseOrder) -> OrderClosed | None:
    if order.state == OrderState.FINISHED.value and order.close_reason != orders.AUTO_FINISH_REASON:
        return OrderClosed(
            f"{order.reference} was finished by hand ({order.close_reason}); its receipts stay as they are.",
            details={"state": order.state},
        )
    if order.state in (OrderState.CANCELLED.value, OrderState.REFUSED.value):
        return OrderClosed(f"{order.reference} is {order.state}; its receipts stay as they are.")
    return None


async def reversal_refusal(session: AsyncSession, /, *, lot_id: int) -> DepotflowError | None:
    """Why `reverse` would refuse the lot now (the error it would raise), or None when it would take
    it. Pages offer "Reverse receipt" only where this is None; `reverse` checks again under lock.

    Raises: ReceivedLotNotFound."""
    lot = await received_lot(session, lot_id)
    assert lot.origin_id is not None
    order = await orders.get_order(session, lot.origin_id)
    closed = _closed_to_reversal(order)
    if closed is not None:
        return closed
    return await stock_service.receipt_reversal_refusal(
        session, lot=lot, has_qc_records=await stock_service.has_qc_records(session, lot.id)
    )


async def reverse(session: AsyncSession, actor: Actor, /, *, lot_id: int, reason: str) -> StockLot:
    """Undo a receipt nothing has used yet: the lot is kept, marked reversed, balanced by a reversal
    movement; the line's received quantity and the order's state follow.

    Raises: ReceivedLotNotFound, stock's LotReversed / LotInUse.
    """
    lot = await received_lot(session, lot_id)
    assert lot.origin_id is not None
    assert lot.origin_line_id is not None
    order = await orders.lock_order(session, lot.origin_id)
    await session.refresh(lot)  # as it is now that writers are serialised (a concurrent reversal)
    closed = _closed_to_reversal(order)
    if closed is not None:
        raise closed
    set_reason(session.sync_session, reason)
    await stock_service.reverse_receipt(
        session, actor, lot=lot, reason=reason, has_qc_records=await stock_service.has_qc_records(session, lot.id)
    )
    line = await _get_line(session, order, lot.origin_line_id)
    line.received_quantity -= lot.received_quantity
    line.updated_at = utcnow()
    await session.flush()
    await _settle_state(session, actor, order)
    return lot


async def list_received(
    session: AsyncSession,
    /,
    *,
    order_id: int,
    include_reversed: bool,
    page: PageRequest,
    sort: str | None,
    search: str | None,
) -> Page[StockLot]:
    """Raises: OrderNotFound."""
    await orders.get_order(session, order_id)
    return await procurement_repo.RECEIVED.fetch(
        session, procurement_repo.select_received(order_id, include_reversed), page, sort=sort, search=search
    )


# --- QC records --------------------------------------------------------------------------------


async def list_qc_records(session: AsyncSession, /, *, order_id: int) -> list[QcRecord]:
    """The QC records of every lot received against the order, newest first. Raises: OrderNotFound."""
    await orders.get_order(session, order_id)
    return await stock_service.records_of_lots(session, await procurement_repo.lot_ids_of_order(session, order_id))


async def create_qc_record(session: AsyncSession, actor: Actor, /, *, order_id: int, data: QcRecordCreate) -> QcRecord:
    """Raises: OrderNotFound, UnknownReference (the lot was not received against this order), and the
    stock domain's LotReversed / InsufficientStock."""
    order = await orders.lock_order(session, order_id)
    lot = await session.get(StockLot, data.lot_id)
    if lot is None or lot.origin_type != procurement_repo.ORIGIN or lot.origin_id != order.id:
        raise UnknownReference(
            f"Lot {data.lot_id} was not received against {order.reference}.",
            fields=[FieldError(("body", "lot_id"), "unknown", "not a lot of this order")],
        )
    return await stock_service.create_qc_record(session, actor, data=data, lot=lot, order_id=order.id)


async def update_qc_record(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    order_id: int,
    qc_id: int,
    data: QcRecordUpdate,
    ip_address: str | None,
    user_agent: str | None,
    secret: str,
) -> QcRecord:
    """Raises: OrderNotFound, QcRecordNotFound, and the stock domain's QC errors."""
    order = await orders.lock_order(session, order_id)
    record = await session.get(QcRecord, qc_id)
    lot = await session.get(StockLot, record.lot_id) if record is not None else None
    if record is None or lot is None or lot.origin_type != procurement_repo.ORIGIN or lot.origin_id != order.id:
        raise QcRecordNotFound(f"Purchase order {order.reference} has no QC record {qc_id}.", details={"qc_id": qc_id})
    return await stock_service.update_qc_record(
        session, actor, record=record, data=data, ip_address=ip_address, user_agent=user_agent, secret=secret
    )


async def can_sign(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    """Officers sign only pending orders that have lines."""
    order = await session.get(PurchaseOrder, flow.object_id)
    if order is None:
        return None
    if order.state != OrderState.PENDING.value:
        return f"Purchase order {order.reference} is {order.state}; signatures are taken while it is pending."
    if (await procurement_repo.line_summaries(session, [order.id]))[order.id].count == 0:
        return f"Purchase order {order.reference} has no lines to approve."
    return None
