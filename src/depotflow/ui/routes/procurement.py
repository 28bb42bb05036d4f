"""Purchase orders (ui.md §4.3 B1-B4, §6.1-6.3): the list, a new order, the detail page with its tabs
(details, lines, receive, quality, files, history), the header edit form (B3.1), the receive form and what it lands on (B4), the reversal of a lot receipt
(B3.3), QC records and their release.

Every route calls the procurement services in-process, mirrors the API route(s) it is the browser
form of and requires the same permission. Writes answer 303 + flash (or HX-Redirect for htmx);
refused writes roll back and re-render the form with inline errors and the typed values (422), or
answer 409 with the reason.
"""

import importlib
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response, StreamingResponse

from depotflow.core.errors import Conflict, DepotflowError, NotFound
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.core.settings import Settings
from depotflow.domains.approval import permissions as approval_permissions
from depotflow.domains.audit import permissions as audit_permissions
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.schemas import AuditFilter
from depotflow.domains.company import service as company_service
from depotflow.domains.file import permissions as file_permissions
from depotflow.domains.file import service as file_service
from depotflow.domains.file.router import content_disposition
from depotflow.domains.file.schemas import FileFilter
from depotflow.domains.identity import service as identity_service
from depotflow.domains.part import service as part_service
from depotflow.domains.procurement import permissions
from depotflow.domains.procurement import service as procurement_service
from depotflow.domains.procurement.enums import OBJECT_TYPE, RECEIVABLE, TERMINAL, OrderState
from depotflow.domains.procurement.errors import AttachmentNotFound, LineNotFound, OverReceipt, ReceivedLotNotFound
from depotflow.domains.procurement.schemas import (
    MAX_ID,
    NULLABLE_HEADER,
    NULLABLE_LINE,
    LineCreate,
    LineRead,
    LineUpdate,
    OrderCreate,
    OrderFilter,
    OrderRead,
    OrderUpdate,
    ReceiveRequest,
)
from depotflow.domains.stock import permissions as stock_permissions
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import QC_OBJECT_TYPE, LocationType, QcResult
from depotflow.domains.stock.schemas import LocationFilter, LotRead, QcRecordCreate, QcRecordUpdate
from depotflow.ui import forms, i18n, labels, signing
from depotflow.ui.forms import FormErrors
from depotflow.ui.listing import fetch_list, list_query
from depotflow.ui.render import flash, is_htmx, locale_of, render, render_fragment, toast_oob, ui_state
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import WebUser, web_requirement
from depotflow.web.deps import ReadSessionDep, SessionDep, client_ip

router = ui_router()


def _(message: str) -> str:  # marks msgids for extraction; translated at render time
    return message


BASE = "/web/procurement"
PROC = "/modules/depo_procurement/api"
ORDERS_API = f"{PROC}/purchase-orders"
ORDER_API = f"{ORDERS_API}/{{order_id}}"

Viewer = Annotated[WebUser, Depends(web_requirement(permissions.VIEW))]
Adder = Annotated[WebUser, Depends(web_requirement(permissions.ADD))]
Changer = Annotated[WebUser, Depends(web_requirement(permissions.CHANGE))]
Receiver = Annotated[WebUser, Depends(web_requirement(permissions.RECEIVE))]
Reverser = Annotated[WebUser, Depends(web_requirement(permissions.REVERSE_RECEIPT))]
FlowStarter = Annotated[WebUser, Depends(web_requirement(approval_permissions.CREATE))]
QcRecorder = Annotated[WebUser, Depends(web_requirement(stock_permissions.QC_RECORD))]
FileViewer = Annotated[WebUser, Depends(web_requirement(file_permissions.VIEW))]
AuditViewer = Annotated[WebUser, Depends(web_requirement(audit_permissions.VIEW))]
OrderId = Annotated[int, Path(gt=0, le=MAX_ID)]

CURRENCIES = ("RON", "EUR", "USD", "GBP", "CHF")
CONTAINER_ROWS = 3
CONTAINER_FLAGS = ("is_damaged", "is_unsealed", "is_mislabeled")
# Yes/no questions of a receipt that may also be left unanswered (None).
RECEIPT_CHECKS = ("containers_cleaned", "accord_ba", "is_list_supplier", "clean_transport")
SHOWN_TABS = ("details", "lines", "receive", "quality", "files", "history")
HISTORY_LIMIT = 100
REASON_MAX = 2000

# The lot a receipt just created, for the banner on the Receipts tab (B4): a signed, short-lived
# cookie read once, like the flash message.
RECEIPT_COOKIE = "df_receipt"

# Explicit transitions (PATCH .../state): the verb in the URL, the target state, labels and styles.
TRANSITIONS: dict[str, tuple[OrderState, str, str, str]] = {
    "cancel": (
        OrderState.CANCELLED,
        _("Cancel order"),
        "outline-danger",
        _("The order becomes CANCELLED and cannot be reopened."),
    ),
    "refuse": (
        OrderState.REFUSED,
        _("Refuse order"),
        "danger",
        _("The order becomes REFUSED and cannot be reopened."),
    ),
    "finish": (
        OrderState.FINISHED,
        _("Finish short"),
        "outline-secondary",
        _("The order becomes FINISHED although not every line was fully received."),
    ),
}


@dataclass(frozen=True, slots=True)
class Action:
    """One button of the action bar (macros/ui.html action_bar)."""

    slug: str
    label: str
    style: str
    url: str
    enabled: bool = True
    reason: str = ""
    kind: str = "post"  # link | dialog | post
    confirm: str = ""


@dataclass(frozen=True, slots=True)
class Tab:
    slug: str
    label: str
    url: str
    count: int | None = None


# --- small helpers -----------------------------------------------------------------------------


def _t(request: Request, msgid: str, **variables: Any) -> str:
    return i18n.translate(locale_of(request), msgid, **variables)


def _settings(request: Request) -> Settings:
    return ui_state(request).settings


def _done(request: Request, url: str, message: str) -> Response:
    """A successful write: 303 to `url` (HX-Redirect for htmx), with a flash message."""
    response: Response
    if is_htmx(request):
        response = Response(status_code=200, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    flash(response, request, message)
    return response


async def _undo(session: AsyncSession, exc: DepotflowError) -> None:
    """A caught domain error: keep what the error says must be kept (a failed password), else nothing."""
    if exc.commit_before_raise:
        await session.commit()
    else:
        await session.rollback()


def _status_of(exc: DepotflowError) -> int:
    return 422 if exc.status in (400, 422) else exc.status


class FormReader:
    """Form fields into the values of an API input model; unparsable entries become field errors."""

    def __init__(self, form: FormData, locale: str) -> None:
        self.form = form
        self.locale = locale
        self.errors = FormErrors()

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def integer(self, name: str) -> int | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.errors.add(name, forms.message_for("int_parsing", self.locale))
            return None
        if not 0 < value <= MAX_ID:
            self.errors.add(name, forms.message_for("enum", self.locale))
            return None
        return value

    def decimal(self, name: str) -> Decimal | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return i18n.parse_decimal_input(raw, self.locale)
        except ValueError as exc:
            self.errors.add(name, forms.message_for(str(exc), self.locale))
            return None

    def date(self, name: str) -> str | None:
        return self.text(name) or None

    def flag(self, name: str) -> bool:
        return self.text(name) in ("true", "on", "1", "yes")

    def answer(self, name: str) -> bool | None:
        """A yes/no select that may be left unanswered."""
        return {"yes": True, "no": False}.get(self.text(name))

    def validate(self, model: type[BaseModel], data: Mapping[str, Any], *, keep_none: Collection[str] = ()) -> Any:
        """The model, or None with the errors added (parse errors of a field win over the model's).
        Fields left empty are left out, except `keep_none` (an explicit null clears them)."""
        payload = {k: v for k, v in data.items() if v is not None or (k in keep_none and k not in self.errors.fields)}
        try:
            result = model.model_validate(payload)
        except ValidationError as exc:
            for name, message in forms.from_validation(exc, self.locale).fields.items():
                self.errors.add(name, message)
            self.errors.summary.extend(forms.from_validation(exc, self.locale).summary)
            return None
        return None if self.errors else result


def _domain_errors(request: Request, exc: DepotflowError) -> FormErrors:
    errors = forms.from_domain(exc, locale_of(request))
    if exc.fields:
        # The summary always says what went wrong as a whole, not only which fields.
        errors.summary.insert(0, exc.message)
    return errors


def _panel_builder() -> Callable[..., Awaitable[Any]] | None:
    """`depotflow.ui.approval_panel.approval_panel`, when that module is installed."""
    try:
        module = importlib.import_module("depotflow.ui.approval_panel")
    except ImportError:
        return None
    builder = getattr(module, "approval_panel", None)
    return builder if callable(builder) else None


async def _approval_panel(
    request: Request, session: AsyncSession, user: WebUser, *, object_type: str, object_id: int
) -> Any:
    builder = _panel_builder()
    if builder is None:
        return None
    return await builder(
        session,
        user.actor,
        object_type=object_type,
        object_id=object_id,
        secret=_settings(request).resolved_secret_key(),
    )


# --- list (B1) ---------------------------------------------------------------------------------


def _order_filter(request: Request) -> tuple[OrderFilter, dict[str, str]]:
    params = request.query_params
    state_raw = (params.get("state") or "").strip()
    state = state_raw if state_raw in {s.value for s in OrderState} else None
    supplier_raw = (params.get("supplier_id") or "").strip()
    supplier_id = int(supplier_raw) if supplier_raw.isdigit() and 0 < int(supplier_raw) <= MAX_ID else None
    filters = OrderFilter(state=OrderState(state) if state else None, supplier_id=supplier_id)
    shown = {"state": state or "", "supplier_id": str(supplier_id) if supplier_id else ""}
    return filters, shown


@router.get("/procurement", openapi_extra=mirrors(f"GET {ORDERS_API}", f"GET {PROC}/order-statuses"))
async def order_list(request: Request, user: Viewer, session: ReadSessionDep) -> Response:
    query = list_query(request)
    filters, shown = _order_filter(request)
    page = await fetch_list(
        query,
        lambda page, sort: procurement_service.list_orders(
            session, filters=filters, page=page, sort=sort, search=query.q
        ),
    )
    rows = await procurement_service.order_reads(session, user.actor, list(page.items))
    supplier_name = ""
    if filters.supplier_id is not None:
        refs = await company_service.company_refs(session, {filters.supplier_id})
        supplier_name = refs[filters.supplier_id].name if filters.supplier_id in refs else ""
    states = await procurement_service.list_states(session)
    ctx = {
        "page": page,
        "rows": rows,
        "q": query.q or "",
        "filters": shown,
        "supplier_name": supplier_name,
        "state_options": [
            (s.slug.value, _t(request, labels.state_msgid("purchase_order", s.slug.value))) for s in states
        ],
        "filtered": bool(query.q or filters.state or filters.supplier_id),
        "may_add": user.actor.has(permissions.ADD),
    }
    return render(request, "pages/procurement/list.html", ctx, blocks=("results",))


# --- create (B2) -------------------------------------------------------------------------------


async def _warehouses(session: AsyncSession) -> list[tuple[int, str]]:
    page = await stock_service.list_locations(
        session,
        filters=LocationFilter(type=LocationType.WAREHOUSE, is_active=True),
        page=PageRequest(offset=0, limit=500),
        sort=None,
        search=None,
    )
    return [(loc.id, f"{loc.code} · {loc.name}") for loc in page.items]


async def _new_page(
    request: Request, session: AsyncSession, values: Mapping[str, str], errors: FormErrors, status: int = 200
) -> Response:
    supplier_name = ""
    raw = values.get("supplier_id", "")
    if raw.isdigit() and 0 < int(raw) <= MAX_ID:
        refs = await company_service.company_refs(session, {int(raw)})
        supplier_name = refs[int(raw)].name if int(raw) in refs else ""
    ctx = {
        "values": values,
        "errors": errors,
        "supplier_name": supplier_name,
        "warehouses": await _warehouses(session),
        "currencies": [(c, c) for c in CURRENCIES],
    }
    return render(request, "pages/procurement/new.html", ctx, status=status)


def _header_fields(reader: FormReader) -> dict[str, Any]:
    """The order header as typed, in the new-order form and the header edit form alike."""
    return {
        "description": reader.text("description"),
        "supplier_reference": reader.text("supplier_reference"),
        "currency": reader.text("currency") or None,
        "issue_date": reader.date("issue_date"),
        "target_date": reader.date("target_date"),
        "destination_id": reader.integer("destination_id"),
        "delivery_address": reader.text("delivery_address"),
        "notes": reader.text("notes"),
    }


@router.get("/procurement/new", openapi_extra=mirrors(f"POST {ORDERS_API}"))
async def new_order_page(request: Request, user: Adder, session: ReadSessionDep) -> Response:
    return await _new_page(request, session, {}, FormErrors())


@router.post("/procurement/new", openapi_extra=mirrors(f"POST {ORDERS_API}"))
async def create_order(request: Request, user: Adder, session: SessionDep) -> Response:
    form = await request.form()
    reader = FormReader(form, locale_of(request))
    data = reader.validate(
        OrderCreate,
        {"supplier_id": reader.integer("supplier_id"), **_header_fields(reader)},
    )
    errors = reader.errors
    if data is not None:
        try:
            order = await procurement_service.create_order(session, user.actor, data=data)
        except DepotflowError as exc:
            await _undo(session, exc)
            errors = _domain_errors(request, exc)
        else:
            return _done(
                request,
                f"{BASE}/{order.id}/lines",
                _t(request, "Purchase order %(reference)s created. Add its lines.", reference=order.reference),
            )
    return await _new_page(request, session, forms.form_values(form), errors, status=422)


# --- the detail page (B3) ----------------------------------------------------------------------


def _tabs(order: OrderRead, actor: Actor, *, files: int) -> list[Tab]:
    url = f"{BASE}/{order.id}"
    tabs = [Tab("details", _("Details"), url), Tab("lines", _("Lines"), f"{url}/lines", order.line_count)]
    if _receiving_open(order):
        tabs.append(Tab("receive", _("Receipts"), f"{url}/receive"))
        tabs.append(Tab("quality", _("Quality"), f"{url}/quality"))
    tabs.append(Tab("files", _("Files"), f"{url}/files", files))
    if actor.has(audit_permissions.VIEW):
        tabs.append(Tab("history", _("History"), f"{url}/history"))
    return tabs


def _receiving_open(order: OrderRead) -> bool:
    """Receipts and their QC exist from issue on (a finished order keeps showing them)."""
    return order.state in RECEIVABLE or order.state is OrderState.FINISHED


def _actions(request: Request, order: OrderRead, actor: Actor) -> list[Action]:
    """What the actor may do to the order now, from the domain's answer (OrderRead carries the
    policy's allowed transitions); the services check again when the action arrives."""
    url = f"{BASE}/{order.id}"
    actions: list[Action] = []
    if order.editable and actor.has(permissions.CHANGE):
        actions.append(Action("edit", _t(request, "Edit"), "outline-primary", f"{url}/edit", kind="link"))
    if order.state in RECEIVABLE and actor.has(permissions.RECEIVE):
        actions.append(Action("receive", _t(request, "Receive goods"), "primary", f"{url}/receive", kind="link"))
    if order.state is OrderState.PENDING and order.approval_flow_id is None and actor.has(approval_permissions.CREATE):
        actions.append(
            Action(
                "start_approval",
                _t(request, "Submit for approval"),
                "primary",
                f"{url}/approval",
                enabled=order.line_count > 0,
                reason="" if order.line_count else _t(request, "Add at least one line before signing."),
            )
        )
    for verb, (target, label, style, _consequence) in TRANSITIONS.items():
        if target in order.allowed_transitions:
            actions.append(Action(verb, _t(request, label), style, f"{url}/{verb}/dialog", kind="dialog"))
    return actions


async def _order(session: AsyncSession, actor: Actor, order_id: int) -> OrderRead:
    """Raises: OrderNotFound (the error page answers 404)."""
    order = await procurement_service.get_order(session, order_id)
    return (await procurement_service.order_reads(session, actor, [order]))[0]


async def _file_count(session: AsyncSession, order_id: int) -> int:
    page = await file_service.list_files(
        session,
        filters=FileFilter(entity_type=OBJECT_TYPE, entity_id=order_id),
        page=PageRequest(offset=0, limit=1),
        sort=None,
        search=None,
    )
    return page.total


async def _detail(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    order_id: int,
    tab: str,
    extra: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    order: OrderRead | None = None,
) -> Response:
    order = order or await _order(session, user.actor, order_id)
    tabs = _tabs(order, user.actor, files=await _file_count(session, order.id))
    if tab not in {t.slug for t in tabs}:
        raise TabNotAvailable(_t(request, "This section is not available for this order now."))
    created_by = ""
    if order.created_by_id is not None:
        created_by = await _username(session, order.created_by_id)
    ctx: dict[str, Any] = {
        "order": order,
        "tab": tab,
        "tabs": tabs,
        "actions": _actions(request, order, user.actor),
        "created_by": created_by,
        "panel": None,
        "action_error": None,
        "overdue_days": _overdue_days(order),
        "may_change": user.actor.has(permissions.CHANGE) and order.editable,
    }
    ctx.update(extra or {})
    return render(request, "pages/procurement/detail.html", ctx, blocks=("detail-body",), status=status)


def _overdue_days(order: OrderRead) -> int:
    """Days past the target date of an order still open (0: not overdue)."""
    if order.target_date is None or order.state in TERMINAL:
        return 0
    return max((date.today() - order.target_date).days, 0)


class TabNotAvailable(NotFound):
    code = "web.tab_not_available"


async def _username(session: AsyncSession, user_id: int) -> str:
    try:
        found = await identity_service.get_user(session, user_id)
    except DepotflowError:
        return ""
    return str(found.username)


class StaleForm(Conflict):
    """The order changed after the form was opened (its `version` no longer matches)."""

    code = "web.stale_form"


def _version(order: OrderRead | Any) -> str:
    """What a form sends back to prove it shows the order as it is now (optimistic concurrency)."""
    updated: datetime = order.updated_at
    return updated.isoformat()


def _check_version(request: Request, reader: "FormReader", order: Any) -> None:
    """Raises: StaleForm. Call with the order locked (`procurement_service.lock_order`)."""
    if reader.text("version") != _version(order):
        raise StaleForm(
            _t(
                request,
                "%(reference)s was changed after you opened this form. Review the current values and save again.",
                reference=order.reference,
            )
        )


def _header_values(order: OrderRead) -> dict[str, str]:
    """The edit form filled with the stored header."""
    return {
        "description": order.description,
        "supplier_reference": order.supplier_reference,
        "currency": order.currency,
        "issue_date": order.issue_date.isoformat() if order.issue_date else "",
        "target_date": order.target_date.isoformat() if order.target_date else "",
        "destination_id": str(order.destination_id) if order.destination_id is not None else "",
        "delivery_address": order.delivery_address,
        "notes": order.notes,
        "version": _version(order),
    }


async def _details_tab(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    order_id: int,
    *,
    editing: bool = False,
    values: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
    action_error: str | None = None,
    status: int = 200,
) -> Response:
    order = await _order(session, user.actor, order_id)
    may_edit = user.actor.has(permissions.CHANGE) and order.editable
    panel = await _approval_panel(request, session, user, object_type=OBJECT_TYPE, object_id=order.id)
    extra: dict[str, Any] = {
        "panel": panel,
        "editing": editing and may_edit,
        "may_edit": may_edit,
        "values": values if values is not None else _header_values(order),
        "errors": errors or FormErrors(),
        "warehouses": await _warehouses(session) if editing and may_edit else [],
        "currencies": [(c, c) for c in sorted({*CURRENCIES, order.currency})],
        "action_error": action_error,
    }
    return await _detail(request, session, user, order_id, "details", extra, status=status, order=order)


@router.get("/procurement/{order_id}", openapi_extra=mirrors(f"GET {ORDER_API}", f"GET {ORDER_API}/approval-flow"))
async def order_details(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
    return await _details_tab(request, session, user, order_id)


@router.get("/procurement/{order_id}/details", openapi_extra=mirrors(f"GET {ORDER_API}"))
async def order_details_tab(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
    return await order_details(request, order_id, user, session)


# --- header edit (B3.1) ---------------------------------------------------------------------------


@router.get("/procurement/{order_id}/edit", openapi_extra=mirrors(f"PATCH {ORDER_API}"))
async def edit_order_page(request: Request, order_id: OrderId, user: Changer, session: ReadSessionDep) -> Response:
    """The Details tab with the header as a form, while the domain lets the header change (409 with
    its reason otherwise)."""
    order = await procurement_service.get_order(session, order_id)
    try:
        await procurement_service.ensure_editable(session, order)
    except DepotflowError as exc:
        return await _details_tab(request, session, user, order_id, action_error=exc.message, status=409)
    return await _details_tab(request, session, user, order_id, editing=True)


@router.post("/procurement/{order_id}/edit", openapi_extra=mirrors(f"PATCH {ORDER_API}"))
async def update_order(request: Request, order_id: OrderId, user: Changer, session: SessionDep) -> Response:
    form = await request.form()
    reader = FormReader(form, locale_of(request))
    data = reader.validate(
        OrderUpdate,
        _header_fields(reader),
        keep_none=NULLABLE_HEADER,
    )
    errors, status = reader.errors, 422
    values: Mapping[str, str] | None = forms.form_values(form)
    if data is not None:
        try:
            locked = await procurement_service.lock_order(session, order_id)
            # The domain's rule first (pending and unsigned), then whether the form is current.
            await procurement_service.ensure_editable(session, locked)
            _check_version(request, reader, locked)
            order = await procurement_service.update_order(session, user.actor, order_id=order_id, data=data)
        except StaleForm as exc:
            await _undo(session, exc)
            errors, status, values = FormErrors(summary=[exc.message]), 409, None
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403, 404):
                raise
            if exc.status == 409:  # refused by state: the page as it is now, with the domain's reason
                return await _details_tab(request, session, user, order_id, action_error=exc.message, status=409)
            errors, status = _domain_errors(request, exc), _status_of(exc)
        else:
            return _done(request, f"{BASE}/{order_id}", _t(request, "%(reference)s saved.", reference=order.reference))
    return await _details_tab(
        request, session, user, order_id, editing=True, values=values, errors=errors, status=status
    )


# --- approval ----------------------------------------------------------------------------------


@router.post("/procurement/{order_id}/approval", openapi_extra=mirrors(f"POST {ORDER_API}/approval-flow"))
async def start_approval(request: Request, order_id: OrderId, user: FlowStarter, session: SessionDep) -> Response:
    order = await procurement_service.get_order(session, order_id)
    try:
        await procurement_service.start_approval(session, user.actor, order_id=order_id)
    except DepotflowError as exc:
        await _undo(session, exc)
        if exc.status in (401, 403):
            raise
        return await _details_tab(
            request,
            session,
            user,
            order_id,
            action_error=exc.message,
            status=409 if exc.status == 404 else _status_of(exc),
        )
    return _done(
        request,
        f"{BASE}/{order_id}",
        _t(request, "%(reference)s was submitted for approval.", reference=order.reference),
    )


# --- explicit transitions: cancel, refuse, finish (reason dialog, §5.5) -----------------------


def _transition_routes(verb: str) -> None:
    target = TRANSITIONS[verb][0]

    async def dialog(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
        order = await _order(session, user.actor, order_id)
        return _reason_form(request, order, verb, {}, FormErrors())

    async def apply(request: Request, order_id: OrderId, user: Viewer, session: SessionDep) -> Response:
        form = await request.form()
        reason = form.get("reason")
        reason_text = reason.strip()[:2000] if isinstance(reason, str) else ""
        locale = locale_of(request)
        try:
            order = await procurement_service.change_state(
                session, user.actor, order_id=order_id, state_name=target.value, reason=reason_text or None
            )
        except DepotflowError as exc:
            # The service decides (transition, permission, then reason); nothing it wrote is kept.
            await _undo(session, exc)
            if exc.status in (401, 403, 404):
                raise
            errors = FormErrors()
            if exc.code == "procurement.reason_required":
                errors.add("reason", forms.message_for("missing", locale))
            else:
                errors.add(None, exc.message)
            current = await _order(session, user.actor, order_id)
            return _reason_form(request, current, verb, {"reason": reason_text}, errors, status=_status_of(exc))
        return _done(
            request,
            f"{BASE}/{order_id}",
            _t(
                request,
                "%(reference)s is now %(state)s.",
                reference=order.reference,
                state=_t(request, _state_msgid(target)),
            ),
        )

    router.add_api_route(
        f"/procurement/{{order_id}}/{verb}/dialog",
        dialog,
        methods=["GET"],
        openapi_extra=mirrors(f"PATCH {ORDER_API}/state"),
        name=f"procurement_{verb}_dialog",
    )
    router.add_api_route(
        f"/procurement/{{order_id}}/{verb}",
        apply,
        methods=["POST"],
        openapi_extra=mirrors(f"PATCH {ORDER_API}/state"),
        name=f"procurement_{verb}",
    )


def _state_msgid(state: OrderState) -> str:
    return labels.state_msgid("purchase_order", state.value)


def _reason_form(
    request: Request,
    order: OrderRead,
    verb: str,
    values: Mapping[str, str],
    errors: FormErrors,
    *,
    status: int = 200,
) -> Response:
    target, label, style, consequence = TRANSITIONS[verb]
    ctx = {
        "order": order,
        "verb": verb,
        "label": label,
        "style": style,
        "consequence": consequence,
        "reason_required": target is not OrderState.FINISHED,
        "allowed": target in order.allowed_transitions,
        "values": values,
        "errors": errors,
        "action_url": f"{BASE}/{order.id}/{verb}",
    }
    if is_htmx(request) and request.headers.get("hx-target") == "dialog-content":
        return render_fragment(request, "pages/procurement/_reason_dialog.html", {**ctx, "dialog": True}, status=status)
    return render(request, "pages/procurement/reason.html", {**ctx, "dialog": False}, status=status)


for _verb in TRANSITIONS:
    _transition_routes(_verb)


# --- lines (B3.2) ------------------------------------------------------------------------------


async def _lines(session: AsyncSession, order_id: int) -> list[LineRead]:
    page = await procurement_service.list_lines(
        session, order_id=order_id, page=PageRequest(offset=0, limit=1000), sort=None, search=None
    )
    return await procurement_service.line_reads(session, list(page.items))


async def _lines_tab(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    order_id: int,
    *,
    editing: int | None = None,
    values: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    order = await _order(session, user.actor, order_id)
    lines = await _lines(session, order_id)
    part_name = ""
    raw = (values or {}).get("part_id", "")
    if raw.isdigit() and 0 < int(raw) <= MAX_ID:
        found = await part_service.parts_by_id(session, {int(raw)})
        part_name = f"{found[0].ipn} · {found[0].name}" if found else ""
    extra = {
        "lines": lines,
        "editing": editing,
        "values": values or {},
        "errors": errors or FormErrors(),
        "part_name": part_name,
        "warehouses": await _warehouses(session),
        "line_total": {
            line.id: line.quantity * line.purchase_price for line in lines if line.purchase_price is not None
        },
    }
    return await _detail(request, session, user, order_id, "lines", extra, status=status, order=order)


@router.get("/procurement/{order_id}/lines", openapi_extra=mirrors(f"GET {ORDER_API}/items"))
async def lines_tab(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
    return await _lines_tab(request, session, user, order_id)


def _line_values(reader: FormReader, *, create: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "quantity": reader.decimal("quantity"),
        "supplier_part_id": reader.integer("supplier_part_id"),
        "purchase_price": reader.decimal("purchase_price"),
        "reference": reader.text("reference"),
        "destination_id": reader.integer("destination_id"),
        "notes": reader.text("notes"),
    }
    if create:
        values["part_id"] = reader.integer("part_id")
        if values["quantity"] is None and "quantity" not in reader.errors.fields:
            reader.errors.add("quantity", forms.message_for("decimal.required", reader.locale))
    return values


@router.post("/procurement/{order_id}/lines", openapi_extra=mirrors(f"POST {ORDER_API}/items"))
async def add_line(request: Request, order_id: OrderId, user: Changer, session: SessionDep) -> Response:
    form = await request.form()
    reader = FormReader(form, locale_of(request))
    data = reader.validate(LineCreate, _line_values(reader, create=True))
    errors = reader.errors
    status = 422
    if data is not None:
        try:
            line = await procurement_service.add_line(session, user.actor, order_id=order_id, data=data)
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403) or exc.code == "procurement.order_not_found":
                raise
            errors, status = _domain_errors(request, exc), _status_of(exc)
        else:
            return _done(request, f"{BASE}/{order_id}/lines", _t(request, "Line %(n)s added.", n=line.line_number))
    return await _lines_tab(
        request, session, user, order_id, values=forms.form_values(form), errors=errors, status=status
    )


@router.get("/procurement/{order_id}/lines/{line_id}/edit", openapi_extra=mirrors(f"PUT {ORDER_API}/items/{{item_id}}"))
async def edit_line_page(
    request: Request, order_id: OrderId, line_id: OrderId, user: Changer, session: ReadSessionDep
) -> Response:
    lines = await _lines(session, order_id)
    if line_id not in {line.id for line in lines}:
        raise LineNotFound(_t(request, "This order has no such line."))
    return await _lines_tab(request, session, user, order_id, editing=line_id)


@router.post("/procurement/{order_id}/lines/{line_id}", openapi_extra=mirrors(f"PUT {ORDER_API}/items/{{item_id}}"))
async def update_line(
    request: Request, order_id: OrderId, line_id: OrderId, user: Changer, session: SessionDep
) -> Response:
    form = await request.form()
    reader = FormReader(form, locale_of(request))
    data = reader.validate(LineUpdate, _line_values(reader, create=False), keep_none=NULLABLE_LINE)
    errors, status = reader.errors, 422
    if data is not None:
        try:
            line = await procurement_service.update_line(
                session, user.actor, order_id=order_id, line_id=line_id, data=data
            )
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403, 404):
                raise
            errors, status = _domain_errors(request, exc), _status_of(exc)
        else:
            return _done(request, f"{BASE}/{order_id}/lines", _t(request, "Line %(n)s saved.", n=line.line_number))
    return await _lines_tab(
        request, session, user, order_id, editing=line_id, values=forms.form_values(form), errors=errors, status=status
    )


@router.post(
    "/procurement/{order_id}/lines/{line_id}/delete", openapi_extra=mirrors(f"DELETE {ORDER_API}/items/{{item_id}}")
)
async def delete_line(
    request: Request, order_id: OrderId, line_id: OrderId, user: Changer, session: SessionDep
) -> Response:
    try:
        await procurement_service.delete_line(session, user.actor, order_id=order_id, line_id=line_id)
    except DepotflowError as exc:
        await _undo(session, exc)
        if exc.status in (401, 403, 404):
            raise
        errors = FormErrors()
        errors.add(None, exc.message)
        return await _lines_tab(request, session, user, order_id, errors=errors, status=_status_of(exc))
    return _done(request, f"{BASE}/{order_id}/lines", _t(request, "The line was removed."))


# --- receiving (B3.3, B4, §6.2) ----------------------------------------------------------------


async def _received_lots(session: AsyncSession, order_id: int, *, include_reversed: bool = False) -> list[LotRead]:
    """The lots received against the order; with `include_reversed`, reversed ones too (they stay
    in the order's history)."""
    page = await procurement_service.list_received(
        session,
        order_id=order_id,
        include_reversed=include_reversed,
        page=PageRequest(offset=0, limit=500),
        sort=None,
        search=None,
    )
    return await stock_service.lot_reads(session, list(page.items))


async def _reversible(session: AsyncSession, lot: LotRead) -> bool:
    """Whether `procurement_service.reverse` would take this lot now (the domain's own rule)."""
    return await procurement_service.reversal_refusal(session, lot_id=lot.id) is None


def _receipt_signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(ui_state(request).secret, salt="depotflow-procurement-receipt")


def _just_received(request: Request, order_id: int) -> dict[str, Any] | None:
    """The receipt the receipt cookie names, if it is one of this order's."""
    raw = request.cookies.get(RECEIPT_COOKIE)
    if not raw:
        return None
    try:
        value = _receipt_signer(request).loads(raw)
    except BadSignature:
        return None
    if not isinstance(value, dict) or value.get("order") != order_id:
        return None
    return value


@router.get("/procurement/{order_id}/receive", openapi_extra=mirrors(f"GET {ORDER_API}/received-items"))
async def receive_tab(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
    order = await _order(session, user.actor, order_id)
    lines = await _lines(session, order_id)
    lots = await _received_lots(session, order_id, include_reversed=True)
    may_reverse = user.actor.has(permissions.REVERSE_RECEIPT)
    reversible = {lot.id for lot in lots if may_reverse and await _reversible(session, lot)}
    reversers = {lot.reversed_by_id for lot in lots if lot.reversed_by_id is not None}
    may_receive = order.state in RECEIVABLE and user.actor.has(permissions.RECEIVE)
    banner: dict[str, Any] | None = None
    cookie = _just_received(request, order_id)
    if cookie is not None:
        lot = next((x for x in lots if x.id == cookie.get("lot") and x.reversed_at is None), None)
        line = next((x for x in lines if lot is not None and x.id == lot.origin_line_id), None)
        if lot is not None:
            banner = {
                "lot": lot,
                "state": str(cookie.get("state") or lot.status.slug),
                "line": line if line is not None and line.remaining_quantity > 0 and may_receive else None,
            }
    extra = {
        "lines": lines,
        "lots": lots,
        "reversible": reversible,
        "reversers": {uid: await _username(session, uid) for uid in reversers},
        "may_receive": may_receive,
        "received": banner,
    }
    response = await _detail(request, session, user, order_id, "receive", extra, order=order)
    if cookie is not None:
        response.delete_cookie(RECEIPT_COOKIE, path=f"{BASE}/{order_id}")
    return response


async def _receive_page(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    order_id: int,
    line_id: int,
    values: Mapping[str, str],
    errors: FormErrors,
    *,
    status: int = 200,
) -> Response:
    order = await _order(session, user.actor, order_id)
    line = next((x for x in await _lines(session, order_id) if x.id == line_id), None)
    if line is None:
        raise LineNotFound(_t(request, "This order has no such line."))
    settings = _settings(request).procurement
    ctx = {
        "order": order,
        "line": line,
        "values": values,
        "errors": errors,
        "warehouses": await _warehouses(session),
        "default_location": line.destination_id or order.destination_id,
        "container_rows": range(CONTAINER_ROWS),
        "receivable": order.state in RECEIVABLE,
        "tolerance": settings.over_receipt_tolerance_percent if settings.over_receipt == "tolerance" else None,
    }
    return render(request, "pages/procurement/receive.html", ctx, status=status)


@router.get(
    "/procurement/{order_id}/receive/{line_id}",
    openapi_extra=mirrors(f"POST {ORDER_API}/receive-stock"),
)
async def receive_form(
    request: Request, order_id: OrderId, line_id: OrderId, user: Receiver, session: ReadSessionDep
) -> Response:
    return await _receive_page(request, session, user, order_id, line_id, {}, FormErrors())


def _containers(reader: FormReader) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(CONTAINER_ROWS):
        prefix = f"containers-{i}-"
        count_raw = reader.text(prefix + "num_containers")
        per_raw = reader.text(prefix + "products_per_container")
        flags = {flag: reader.flag(prefix + flag) for flag in CONTAINER_FLAGS}
        if not count_raw and not per_raw and not any(flags.values()):
            continue
        count = reader.integer(prefix + "num_containers")
        if not count_raw:
            reader.errors.add(prefix + "num_containers", forms.message_for("missing", reader.locale))
        per = reader.decimal(prefix + "products_per_container")
        if not per_raw:
            reader.errors.add(prefix + "products_per_container", forms.message_for("missing", reader.locale))
        rows.append({"num_containers": count or 1, "products_per_container": per or Decimal(1), "unit": "", **flags})
    return rows


@router.post(
    "/procurement/{order_id}/receive/{line_id}",
    openapi_extra=mirrors(f"POST {ORDER_API}/receive-stock"),
)
async def receive(
    request: Request, order_id: OrderId, line_id: OrderId, user: Receiver, session: SessionDep
) -> Response:
    form = await request.form()
    locale = locale_of(request)
    reader = FormReader(form, locale)
    quantity = reader.decimal("quantity")
    if quantity is None and "quantity" not in reader.errors.fields:
        reader.errors.add("quantity", forms.message_for("decimal.required", locale))
    temperature_control = reader.flag("temperature_control")
    data = reader.validate(
        ReceiveRequest,
        {
            "line_id": line_id,
            "quantity": quantity,
            "location_id": reader.integer("location_id"),
            "batch_code": reader.text("batch_code") or None,
            "supplier_batch_code": reader.text("supplier_batch_code"),
            "manufacturing_date": reader.date("manufacturing_date"),
            "expiry_date": reader.date("expiry_date"),
            "retest_date": reader.date("retest_date"),
            "expected_quantity": reader.decimal("expected_quantity"),
            "transferable": reader.flag("transferable"),
            "containers": _containers(reader),
            "supplier_ba_no": reader.text("supplier_ba_no"),
            "supplier_ba_date": reader.date("supplier_ba_date"),
            "temperature_control": temperature_control,
            "temperature_conditions_met": reader.answer("temperature_conditions_met") if temperature_control else None,
            "notes": reader.text("notes"),
            **{check: reader.answer(check) for check in RECEIPT_CHECKS},
        },
    )
    errors, status = reader.errors, 422
    if data is not None:
        try:
            lot = await procurement_service.receive(
                session, user.actor, order_id=order_id, data=data, policy=_settings(request).procurement
            )
        except OverReceipt as exc:
            await _undo(session, exc)
            errors = FormErrors()
            errors.add(
                "quantity",
                i18n.translate(
                    locale,
                    "Too much: %(ordered)s ordered, %(received)s received so far; at most %(allowed)s in total may be "
                    "received on this line.",
                    ordered=i18n.format_decimal(str(exc.details["ordered"]), locale=locale),
                    received=i18n.format_decimal(str(exc.details["received"]), locale=locale),
                    allowed=i18n.format_decimal(str(exc.details["allowed_total"]), locale=locale),
                ),
            )
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403) or exc.code in ("procurement.order_not_found", "procurement.line_not_found"):
                raise
            errors, status = _domain_errors(request, exc), _status_of(exc)
        else:
            read = (await stock_service.lot_reads(session, [lot]))[0]
            response = _done(
                request,
                f"{BASE}/{order_id}/receive",
                _t(
                    request,
                    "Lot %(batch)s received: %(state)s.",
                    batch=read.batch_code,
                    state=_t(request, _stock_state_msgid(read.status.slug)),
                ),
            )
            # The Receipts tab names the new lot and its initial state once, and offers the next receipt.
            response.set_cookie(
                RECEIPT_COOKIE,
                _receipt_signer(request).dumps({"order": order_id, "lot": read.id, "state": read.status.slug}),
                max_age=120,
                path=f"{BASE}/{order_id}",
                secure=request.url.scheme == "https",
                httponly=True,
                samesite="lax",
            )
            return response
    return await _receive_page(
        request, session, user, order_id, line_id, forms.form_values(form), errors, status=status
    )


def _stock_state_msgid(slug: str) -> str:
    return labels.state_msgid("stock", slug)


# --- receipt reversal (B3.3) ---------------------------------------------------------------------


async def _order_lot(request: Request, session: AsyncSession, order_id: int, stock_id: int) -> LotRead:
    """A lot received against this order. Raises: OrderNotFound, ReceivedLotNotFound (404)."""
    await procurement_service.get_order(session, order_id)
    try:
        lot = await procurement_service.received_lot(session, stock_id)
    except ReceivedLotNotFound:
        lot = None
    if lot is None or lot.origin_id != order_id:
        raise ReceivedLotNotFound(_t(request, "This order has no such received lot."), details={"stock_id": stock_id})
    return (await stock_service.lot_reads(session, [lot]))[0]


async def _reverse_form(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    order_id: int,
    stock_id: int,
    values: Mapping[str, str],
    errors: FormErrors,
    *,
    status: int = 200,
) -> Response:
    """The reason dialog (§5.5) of a receipt reversal, as the transitions' dialog."""
    order = await _order(session, user.actor, order_id)
    lot = await _order_lot(request, session, order_id, stock_id)
    unit = lot.part.unit
    quantity = i18n.format_decimal(str(lot.received_quantity), locale=locale_of(request))
    ctx = {
        "order": order,
        "label": _("Reverse receipt"),
        "title": _t(request, "Reverse receipt of lot %(batch)s", batch=lot.batch_code),
        "style": "danger",
        "consequence_text": _t(
            request,
            "Lot %(batch)s (%(quantity)s %(unit)s of %(part)s) is kept in the history, marked reversed; its "
            "stock leaves the warehouse and the order line takes the quantity back. This cannot be undone.",
            batch=lot.batch_code,
            quantity=quantity,
            unit=unit,
            part=lot.part.ipn,
        ),
        "reason_required": True,
        "allowed": await _reversible(session, lot),
        "values": values,
        "errors": errors,
        "action_url": f"{BASE}/{order_id}/lots/{stock_id}/reverse",
        "back_url": f"{BASE}/{order_id}/receive",
    }
    if is_htmx(request) and request.headers.get("hx-target") == "dialog-content":
        return render_fragment(request, "pages/procurement/_reason_dialog.html", {**ctx, "dialog": True}, status=status)
    return render(request, "pages/procurement/reason.html", {**ctx, "dialog": False}, status=status)


@router.get(
    "/procurement/{order_id}/lots/{stock_id}/reverse/dialog",
    openapi_extra=mirrors(f"DELETE {PROC}/stock-items/{{stock_id}}"),
)
async def reverse_dialog(
    request: Request, order_id: OrderId, stock_id: OrderId, user: Reverser, session: ReadSessionDep
) -> Response:
    return await _reverse_form(request, session, user, order_id, stock_id, {}, FormErrors())


@router.post(
    "/procurement/{order_id}/lots/{stock_id}/reverse",
    openapi_extra=mirrors(f"DELETE {PROC}/stock-items/{{stock_id}}"),
)
async def reverse_receipt(
    request: Request, order_id: OrderId, stock_id: OrderId, user: Reverser, session: SessionDep
) -> Response:
    form = await request.form()
    raw = form.get("reason")
    reason = raw.strip() if isinstance(raw, str) else ""
    locale = locale_of(request)
    lot = await _order_lot(request, session, order_id, stock_id)
    errors, status = FormErrors(), 422
    if not reason:
        errors.add("reason", forms.message_for("missing", locale))
    elif len(reason) > REASON_MAX:
        errors.add("reason", forms.message_for("string_too_long", locale))
    else:
        try:
            await procurement_service.reverse(session, user.actor, lot_id=stock_id, reason=reason)
        except DepotflowError as exc:
            # The service decides (the lot used since, the order closed by a decision...); nothing is kept.
            await _undo(session, exc)
            if exc.status in (401, 403, 404):
                raise
            errors.add(None, exc.message)
            status = _status_of(exc)
        else:
            return _done(
                request,
                f"{BASE}/{order_id}/receive",
                _t(request, "The receipt of lot %(batch)s was reversed.", batch=lot.batch_code),
            )
    return await _reverse_form(
        request, session, user, order_id, stock_id, {"reason": reason[: REASON_MAX + 1]}, errors, status=status
    )


# --- quality (B3.4, §6.3) ----------------------------------------------------------------------


async def _quality_tab(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    order_id: int,
    *,
    form_key: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
    status: int = 200,
) -> Response:
    order = await _order(session, user.actor, order_id)
    records = await stock_service.qc_reads(
        session, await procurement_service.list_qc_records(session, order_id=order_id)
    )
    lots = await _received_lots(session, order_id)
    panels: dict[int, Any] = {}
    for record in records:
        if record.flow_id is not None:
            panels[record.id] = await _approval_panel(
                request, session, user, object_type=QC_OBJECT_TYPE, object_id=record.id
            )
    extra = {
        "records": records,
        "lots": lots,
        "lot_by_id": {lot.id: lot for lot in lots},
        "qc_panels": panels,
        "may_record": user.actor.has(stock_permissions.QC_RECORD),
        "may_release": user.actor.has(stock_permissions.QC_RELEASE),
        # The first signature of a browser session also asks for the username (§11.200(a)(1)).
        "ask_username": user.actor.has(stock_permissions.QC_RELEASE)
        and await signing.asks_username(session, user.actor),
        "result_options": [(r.value, _t(request, labels.state_msgid("qc", r.value))) for r in QcResult],
        "lot_options": [(lot.id, f"{lot.batch_code} · {lot.part.ipn}") for lot in lots],
        "today": date.today().isoformat(),
        "form_key": form_key,
        "values": values or {},
        "errors": errors or FormErrors(),
    }
    return await _detail(request, session, user, order_id, "quality", extra, status=status, order=order)


@router.get("/procurement/{order_id}/quality", openapi_extra=mirrors(f"GET {ORDER_API}/qc-records"))
async def quality_tab(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
    return await _quality_tab(request, session, user, order_id)


@router.post("/procurement/{order_id}/quality", openapi_extra=mirrors(f"POST {ORDER_API}/qc-records"))
async def create_qc_record(request: Request, order_id: OrderId, user: QcRecorder, session: SessionDep) -> Response:
    form = await request.form()
    reader = FormReader(form, locale_of(request))
    data = reader.validate(
        QcRecordCreate,
        {
            "lot_id": reader.integer("lot_id"),
            "location_id": reader.integer("location_id"),
            "sampling_date": reader.date("sampling_date"),
            "sampled_quantity": reader.decimal("sampled_quantity"),
            "analysis_number": reader.text("analysis_number"),
            "analysis_date": reader.date("analysis_date"),
            "result": reader.text("result") or None,
            "comment": reader.text("comment"),
        },
    )
    errors, status = reader.errors, 422
    if data is not None:
        try:
            await procurement_service.create_qc_record(session, user.actor, order_id=order_id, data=data)
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403) or exc.code == "procurement.order_not_found":
                raise
            errors, status = _domain_errors(request, exc), _status_of(exc)
        else:
            return _done(request, f"{BASE}/{order_id}/quality", _t(request, "QC record saved."))
    return await _quality_tab(
        request, session, user, order_id, form_key="new", values=forms.form_values(form), errors=errors, status=status
    )


async def _qc_update(
    request: Request, order_id: int, qc_id: int, user: WebUser, session: AsyncSession, read_session: AsyncSession
) -> Response:
    form = await request.form()
    reader = FormReader(form, locale_of(request))
    confirm = reader.flag("confirm")
    password = form.get("password")
    # A confirmation is an electronic signature: the first of a session also gives the username.
    ask = confirm and await signing.asks_username(session, user.actor)
    typed_username = reader.text("username")
    fields: dict[str, Any] = {
        "confirm": confirm,
        "password": password if isinstance(password, str) and password else None,
        "reason": reader.text("reason") or None,
    }
    if not confirm:
        fields.update(
            {
                "sampling_date": reader.date("sampling_date"),
                "analysis_number": reader.text("analysis_number"),
                "analysis_date": reader.date("analysis_date"),
                "result": reader.text("result") or None,
                "comment": reader.text("comment"),
            }
        )
    else:
        if not fields["password"]:
            reader.errors.add("password", forms.message_for("missing", reader.locale))
        signing.check_username(reader.errors, asked=ask, typed=typed_username, locale=reader.locale)
    data = reader.validate(QcRecordUpdate, fields)
    errors, status = reader.errors, 422
    if data is not None:
        settings = _settings(request)
        try:
            if data.confirm:
                await procurement_service.get_order(session, order_id)
                await signing.verify_signer(
                    request,
                    read_session,
                    session,
                    user.actor,
                    password=data.password or "",
                    username=typed_username if ask else None,
                    purpose="the QC confirmation",
                )
            await procurement_service.update_qc_record(
                session,
                user.actor,
                order_id=order_id,
                qc_id=qc_id,
                data=data,
                ip_address=client_ip(request),
                user_agent=request.headers.get("user-agent"),
                secret=settings.resolved_secret_key(),
            )
            if data.confirm:
                await signing.record_identified(session, user.actor, asked=ask, order_id=order_id, qc_id=qc_id)
        except signing.SignerRejected as exc:
            # Counted toward the lockout and audited; the QC record is left as it was.
            await signing.settle_rejection(session, exc)
            errors, status = FormErrors(), 422
            if exc.username_wrong:
                errors.add("username", _t(request, signing.USERNAME_WRONG))
            if exc.password_wrong:
                errors.add("password", forms.message_for("password_rejected", reader.locale))
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403, 404):
                raise
            errors, status = _domain_errors(request, exc), _status_of(exc)
        else:
            message = _("QC result signed.") if data.confirm else _("QC record saved.")
            return _done(request, f"{BASE}/{order_id}/quality", _t(request, message))
    key = f"{'confirm' if confirm else 'edit'}-{qc_id}"
    values = {k: v for k, v in forms.form_values(form).items() if k != "password"}
    return await _quality_tab(
        request, session, user, order_id, form_key=key, values=values, errors=errors, status=status
    )


@router.post(
    "/procurement/{order_id}/quality/{qc_id}", openapi_extra=mirrors(f"PATCH {ORDER_API}/qc-records/{{qc_id}}")
)
async def update_qc_record(
    request: Request,
    order_id: OrderId,
    qc_id: OrderId,
    user: QcRecorder,
    read_session: ReadSessionDep,
    session: SessionDep,
) -> Response:
    return await _qc_update(request, order_id, qc_id, user, session, read_session)


# --- files (B3.5, §5.9) ------------------------------------------------------------------------


async def _files(session: AsyncSession, order_id: int) -> list[Any]:
    page = await file_service.list_files(
        session,
        filters=FileFilter(entity_type=OBJECT_TYPE, entity_id=order_id),
        page=PageRequest(offset=0, limit=200),
        sort=None,
        search=None,
    )
    return list(page.items)


async def _files_ctx(session: AsyncSession, user: WebUser, order: OrderRead, request: Request) -> dict[str, Any]:
    records = await _files(session, order.id)
    uploaders = {r.uploaded_by_id for r in records if r.uploaded_by_id is not None}
    names = {uid: await _username(session, uid) for uid in uploaders}
    return {
        "files": records,
        "uploaders": names,
        "may_upload": user.actor.has(permissions.CHANGE),
        "may_download": user.actor.has(file_permissions.VIEW),
        "max_mb": _settings(request).storage.max_upload_bytes // (1024 * 1024),
    }


@router.get("/procurement/{order_id}/files", openapi_extra=mirrors(f"GET {ORDER_API}/attachments"))
async def files_tab(request: Request, order_id: OrderId, user: Viewer, session: ReadSessionDep) -> Response:
    order = await _order(session, user.actor, order_id)
    extra = await _files_ctx(session, user, order, request)
    extra.update({"errors": FormErrors(), "values": {}})
    return await _detail(request, session, user, order_id, "files", extra, order=order)


@router.post("/procurement/{order_id}/files", openapi_extra=mirrors(f"POST {ORDER_API}/attachments"))
async def upload_files(request: Request, order_id: OrderId, user: Changer, session: SessionDep) -> Response:
    form = await request.form()
    locale = locale_of(request)
    uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    comment = form.get("comment")
    comment_text = comment.strip()[:2000] if isinstance(comment, str) else ""
    errors = FormErrors()
    stored = 0
    if not uploads:
        errors.add("files", i18n.translate(locale, "Choose at least one file."))
    else:
        try:
            await procurement_service.lock_order(session, order_id)
            for upload in uploads:
                await file_service.upload_file(
                    session,
                    user.actor,
                    request.app.state.blob_store,
                    source=upload.file,
                    filename=upload.filename,
                    limits=_settings(request).storage,
                    entity_type=OBJECT_TYPE,
                    entity_id=order_id,
                    description=comment_text,
                )
                stored += 1
        except DepotflowError as exc:
            await _undo(session, exc)
            if exc.status in (401, 403, 404):
                raise
            name = uploads[stored].filename or ""
            errors.add("files", f"{name}: {exc.message}")
    if not errors:
        message = i18n.translate(locale, "%(n)s file(s) uploaded.", n=stored)
        if is_htmx(request) and request.headers.get("hx-target") == "files-panel":
            order = await _order(session, user.actor, order_id)
            ctx = await _files_ctx(session, user, order, request)
            ctx.update({"order": order, "errors": FormErrors(), "values": {}, "toast": toast_oob(request, message)})
            return render_fragment(request, "pages/procurement/_files_panel.html", ctx)
        return _done(request, f"{BASE}/{order_id}/files", message)
    order = await _order(session, user.actor, order_id)
    ctx = await _files_ctx(session, user, order, request)
    ctx.update({"errors": errors, "values": {"comment": comment_text}})
    if is_htmx(request) and request.headers.get("hx-target") == "files-panel":
        ctx.update({"order": order, "toast": ""})
        return render_fragment(request, "pages/procurement/_files_panel.html", ctx, status=422)
    return await _detail(request, session, user, order_id, "files", ctx, status=422, order=order)


@router.post(
    "/procurement/{order_id}/files/{file_id}/delete",
    openapi_extra=mirrors(f"DELETE {ORDER_API}/attachments/{{attachment_id}}"),
)
async def delete_file(
    request: Request, order_id: OrderId, file_id: OrderId, user: Changer, session: SessionDep
) -> Response:
    await procurement_service.lock_order(session, order_id)
    record = await file_service.find_live_file(session, file_id)
    if record is None or record.entity_type != OBJECT_TYPE or record.entity_id != order_id:
        raise AttachmentNotFound(_t(request, "This order has no such file."))
    unused = await file_service.delete_file(session, user.actor, file_id=file_id)
    response = _done(request, f"{BASE}/{order_id}/files", _t(request, "%(name)s was deleted.", name=record.filename))
    if unused:
        response.background = BackgroundTask(
            file_service.collect_after_commit, request.app.state.db, request.app.state.blob_store, unused
        )
    return response


@router.get("/procurement/{order_id}/files/{file_id}", openapi_extra=mirrors("GET /api/files/{file_id}/content"))
async def download_file(
    request: Request, order_id: OrderId, file_id: OrderId, user: FileViewer, session: ReadSessionDep
) -> Response:
    await procurement_service.get_order(session, order_id)
    record = await file_service.find_live_file(session, file_id)
    if record is None or record.entity_type != OBJECT_TYPE or record.entity_id != order_id:
        raise AttachmentNotFound(_t(request, "This order has no such file."))
    chunks = await file_service.open_content(request.app.state.blob_store, record)
    return StreamingResponse(
        chunks,
        headers={
            "Content-Type": record.content_type,
            "Content-Length": str(record.size),
            "Content-Disposition": content_disposition(record.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


# --- history (B3.7, §5.14) ---------------------------------------------------------------------


async def _history(session: AsyncSession, order_id: int, line_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Audit entries of the order and of its lines, newest first."""
    subjects = [("procurement_order", order_id)] + [("procurement_order_line", i) for i in line_ids]
    entries: dict[int, dict[str, Any]] = {}
    for entity_type, entity_id in subjects:
        page = await audit_service.list_entries(
            session,
            filters=AuditFilter(entity_type=entity_type, entity_id=str(entity_id)),
            page=PageRequest(offset=0, limit=HISTORY_LIMIT),
            sort=None,
            search=None,
        )
        for entry in page.items:
            entries[entry.seq] = audit_service.entry_as_dict(entry)
    return [entries[seq] for seq in sorted(entries, reverse=True)][:HISTORY_LIMIT]


@router.get("/procurement/{order_id}/history", openapi_extra=mirrors("GET /api/audit/"))
async def history_tab(request: Request, order_id: OrderId, user: AuditViewer, session: ReadSessionDep) -> Response:
    order = await _order(session, user.actor, order_id)
    lines = await _lines(session, order_id)
    entries = await _history(session, order_id, [line.id for line in lines])
    return await _detail(request, session, user, order_id, "history", {"entries": entries}, order=order)
