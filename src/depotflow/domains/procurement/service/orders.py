"""Purchase orders: creation with an atomic reference, the header, the state machine and approval.

Every use case that reads what it will change takes the audit chain's head first
(`audit_service.lock_chain`): writers then run one after the other, so a check and the change it
guards cannot interleave with another request's.
"""

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.canonical import canonical_json
from depotflow.core.clock import utcnow
from depotflow.core.context import set_reason
from depotflow.core.errors import FieldError, PermissionDenied
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import FlowStatus
from depotflow.domains.approval.errors import TemplateNotFound
from depotflow.domains.approval.models import ApprovalFlow
from depotflow.domains.approval.schemas import ObjectDescription
from depotflow.domains.audit import service as audit_service
from depotflow.domains.company import service as company_service
from depotflow.domains.company.errors import CompanyNotFound, NotASupplier
from depotflow.domains.procurement import policy
from depotflow.domains.procurement import repository as procurement_repo
from depotflow.domains.procurement.enums import OBJECT_TYPE, OrderState
from depotflow.domains.procurement.errors import (
    NoApprovalFlow,
    NotPending,
    OrderLocked,
    OrderNotFound,
    ReasonRequired,
    TransitionNotAllowed,
    UnknownReference,
    UnknownState,
)
from depotflow.domains.procurement.models import PurchaseOrder
from depotflow.domains.procurement.schemas import (
    NULLABLE_HEADER,
    OrderCreate,
    OrderFilter,
    OrderRead,
    OrderUpdate,
    Ref,
    StateRead,
)
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import LocationType
from depotflow.domains.stock.models import StockLocation

REFERENCE_SERIES = "PO"
# The close reason of an order that finished because every line was received (not by hand).
AUTO_FINISH_REASON = "All lines received"
MAX_DOCUMENTS_BYTES = 64 * 1024


def format_reference(number: int) -> str:
    """PO-0001 ... PO-9999, then PO-10000: the padding is a minimum width, never a limit."""
    return f"{REFERENCE_SERIES}-{number:04d}"


async def get_order(session: AsyncSession, order_id: int) -> PurchaseOrder:
    """Raises: OrderNotFound."""
    order = await session.get(PurchaseOrder, order_id)
    if order is None:
        raise OrderNotFound(f"Purchase order {order_id} does not exist.", details={"order_id": order_id})
    return order


async def lock_order(session: AsyncSession, order_id: int) -> PurchaseOrder:
    """The order, after the audit chain's head, locked and freshly read. Raises: OrderNotFound."""
    await audit_service.lock_chain(session)
    order = await procurement_repo.lock_order(session, order_id)
    if order is None:
        raise OrderNotFound(f"Purchase order {order_id} does not exist.", details={"order_id": order_id})
    await session.refresh(order)
    return order


async def list_states(session: AsyncSession, /) -> list[StateRead]:
    return [
        StateRead(slug=OrderState(s.slug), name=s.name, value=s.value, color=s.color, is_terminal=s.is_terminal)
        for s in await procurement_repo.states(session)
    ]


async def list_orders(
    session: AsyncSession, /, *, filters: OrderFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[PurchaseOrder]:
    """Newest first unless sorted otherwise; search: reference, description, supplier reference."""
    return await procurement_repo.ORDERS.fetch(
        session, procurement_repo.select_orders(filters), page, sort=sort, search=search
    )


async def order_reads(session: AsyncSession, actor: Actor, orders: Sequence[PurchaseOrder]) -> list[OrderRead]:
    """Read models for any number of orders in a constant number of queries."""
    states = {s.slug: s for s in await list_states(session)}
    suppliers = await company_service.company_refs(session, {o.supplier_id for o in orders})
    locations = await stock_service.locations_by_id(
        session, {o.destination_id for o in orders if o.destination_id is not None}
    )
    summaries = await procurement_repo.line_summaries(session, [o.id for o in orders])
    flows = await approval_service.flows_for_objects(
        session, object_type=OBJECT_TYPE, object_ids=[o.id for o in orders]
    )
    reads = []
    for o in orders:
        state = OrderState(o.state)
        flow = flows.get(o.id)
        supplier = suppliers[o.supplier_id]
        destination = locations.get(o.destination_id) if o.destination_id is not None else None
        summary = summaries[o.id]
        reads.append(
            OrderRead(
                id=o.id,
                reference=o.reference,
                supplier_id=o.supplier_id,
                supplier=Ref(id=supplier.id, code=supplier.code, name=supplier.name),
                state=state,
                state_detail=states[state],
                description=o.description,
                supplier_reference=o.supplier_reference,
                currency=o.currency,
                issue_date=o.issue_date,
                target_date=o.target_date,
                destination_id=o.destination_id,
                destination=Ref(id=destination.id, code=destination.code, name=destination.name)
                if destination
                else None,
                delivery_address=o.delivery_address,
                notes=o.notes,
                documents=o.documents or {},
                line_count=summary.count,
                fully_received_line_count=summary.fully_received,
                total_price=summary.total,
                approval_flow_id=flow.id if flow else None,
                approval_status=flow.status if flow else None,
                editable=policy.editable(state, signed=_signed(flow)),
                allowed_transitions=policy.allowed_targets(state, actor, is_creator=o.created_by_id == actor.user_id),
                created_by_id=o.created_by_id,
                created_at=o.created_at,
                updated_at=o.updated_at,
                issued_at=o.issued_at,
                closed_at=o.closed_at,
                closed_by_id=o.closed_by_id,
                close_reason=o.close_reason,
            )
        )
    return reads


def _signed(flow: ApprovalFlow | None) -> bool:
    return flow is not None and flow.status != FlowStatus.PENDING.value


async def check_destination(session: AsyncSession, location_id: int | None, field: str) -> None:
    if location_id is None:
        return
    location = await session.get(StockLocation, location_id)
    if location is None or not location.is_active:
        raise UnknownReference(
            f"Location {location_id} does not exist or is inactive.",
            fields=[FieldError(("body", field), "unknown", "no such active location")],
        )
    if location.type != LocationType.WAREHOUSE.value:
        raise UnknownReference(
            f"Location {location.code} is not a warehouse: goods are received into warehouses.",
            fields=[FieldError(("body", field), "not_warehouse", "must be a warehouse-type location")],
        )


async def create_order(session: AsyncSession, actor: Actor, /, *, data: OrderCreate) -> PurchaseOrder:
    """Create a pending order with the next PO-NNNN reference and start its approval flow (when an
    approval template for purchase orders is active).

    Raises: UnknownReference (supplier missing, not a supplier, or inactive; destination).
    """
    await audit_service.lock_chain(session)
    try:
        supplier = await company_service.get_active_supplier(session, data.supplier_id)
    except (CompanyNotFound, NotASupplier) as exc:
        raise UnknownReference(
            exc.message, fields=[FieldError(("body", "supplier_id"), "not_supplier", "must be an active supplier")]
        ) from exc
    await check_destination(session, data.destination_id, "destination_id")
    number = await procurement_repo.next_number(session, REFERENCE_SERIES)
    now = utcnow()
    order = PurchaseOrder(
        reference=format_reference(number),
        supplier_id=supplier.id,
        state=OrderState.PENDING.value,
        description=data.description,
        supplier_reference=data.supplier_reference,
        currency=data.currency or supplier.currency or "EUR",
        issue_date=data.issue_date,
        target_date=data.target_date,
        destination_id=data.destination_id,
        delivery_address=data.delivery_address,
        notes=data.notes,
        documents={},
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    # With no active template yet, POST .../approval-flow starts the flow once one exists.
    with contextlib.suppress(TemplateNotFound):
        await approval_service.start_flow(session, actor, object_type=OBJECT_TYPE, object_id=order.id)
    return order


async def find_flow(session: AsyncSession, order_id: int) -> ApprovalFlow | None:
    return await approval_service.find_flow(session, object_type=OBJECT_TYPE, object_id=order_id)


async def require_flow(session: AsyncSession, order_id: int) -> ApprovalFlow:
    """Raises: NoApprovalFlow."""
    flow = await find_flow(session, order_id)
    if flow is None:
        raise NoApprovalFlow(f"Purchase order {order_id} has no approval flow.", details={"order_id": order_id})
    return flow


async def start_approval(session: AsyncSession, actor: Actor, /, *, order_id: int) -> ApprovalFlow:
    """Start the order's approval flow from the active template (if creation could not).

    Raises: OrderNotFound, NotPending, approval's TemplateNotFound / FlowExists.
    """
    order = await lock_order(session, order_id)
    _require_pending(order)
    return await approval_service.start_flow(session, actor, object_type=OBJECT_TYPE, object_id=order.id)


def _require_pending(order: PurchaseOrder) -> None:
    if order.state != OrderState.PENDING.value:
        raise NotPending(
            f"Purchase order {order.reference} is {order.state}; approval happens while it is pending.",
            details={"state": order.state},
        )


async def ensure_editable(session: AsyncSession, order: PurchaseOrder) -> None:
    """Raises: OrderLocked (not pending, or somebody has signed)."""
    flow = await find_flow(session, order.id)
    if not policy.editable(OrderState(order.state), signed=_signed(flow)):
        why = "it is " + order.state if order.state != OrderState.PENDING.value else "its approval has signatures"
        raise OrderLocked(
            f"Purchase order {order.reference} can no longer be changed: {why}.",
            details={"state": order.state, "approval_status": flow.status if flow else None},
        )


async def update_order(session: AsyncSession, actor: Actor, /, *, order_id: int, data: OrderUpdate) -> PurchaseOrder:
    """Change whitelisted header fields of a pending, unsigned order.

    Raises: OrderNotFound, OrderLocked, UnknownReference (destination).
    """
    order = await lock_order(session, order_id)
    await ensure_editable(session, order)
    changes: dict[str, Any] = {
        key: value
        for key, value in data.model_dump(exclude_unset=True).items()
        if value is not None or key in NULLABLE_HEADER
    }
    if "destination_id" in changes:
        await check_destination(session, changes["destination_id"], "destination_id")
    issue = changes.get("issue_date", order.issue_date)
    target = changes.get("target_date", order.target_date)
    if issue is not None and target is not None and target < issue:
        raise UnknownReference(
            "target_date cannot be before issue_date.",
            fields=[FieldError(("body", "target_date"), "before_issue_date", "cannot be before issue_date")],
        )
    changed = {key: value for key, value in changes.items() if getattr(order, key) != value}
    for key, value in changed.items():
        setattr(order, key, value)
    if changed:
        order.updated_at = utcnow()
    await session.flush()
    return order


async def update_documents(
    session: AsyncSession, actor: Actor, /, *, order_id: int, documents: dict[str, Any]
) -> PurchaseOrder:
    """Replace the free-form bookkeeping of generated documents (any state; audited).

    Raises: OrderNotFound, UnknownReference (over 64 KiB).
    """
    if len(canonical_json(documents).encode()) > MAX_DOCUMENTS_BYTES:
        raise UnknownReference(
            "The documents field is limited to 64 KiB.",
            fields=[FieldError(("body", "documents"), "too_large", "at most 64 KiB of JSON")],
        )
    order = await lock_order(session, order_id)
    if order.documents != documents:
        order.documents = documents
        order.updated_at = utcnow()
        await session.flush()
    return order


async def change_state(
    session: AsyncSession, actor: Actor, /, *, order_id: int, state_name: str, reason: str | None
) -> PurchaseOrder:
    """Apply an explicit transition: cancel (pending; creator or procurement.cancel), refuse
    (pending/issued; procurement.refuse), finish (issued/receiving; procurement.finish). Each needs a
    reason, except finishing an order whose lines are all received.

    Raises: UnknownState, OrderNotFound, TransitionNotAllowed, PermissionDenied, ReasonRequired.
    """
    target = policy.parse_state(state_name)
    if target is None:
        raise UnknownState(
            f"{state_name!r} is not a purchase order state.",
            details={"known": [s.value for s in OrderState]},
            fields=[FieldError(("query", "state_name"), "unknown", "not a purchase order state")],
        )
    order = await lock_order(session, order_id)
    current = OrderState(order.state)
    transition = policy.EXPLICIT.get(target)
    if transition is None or current not in transition.source:
        raise TransitionNotAllowed(
            f"Purchase order {order.reference} cannot go from {current.value} to {target.value}"
            + (" by hand." if transition is None else "."),
            details={"from": current.value, "to": target.value},
        )
    if not policy.may_take(actor, transition, is_creator=order.created_by_id == actor.user_id):
        raise PermissionDenied(
            f"Moving an order to {target.value} needs the {transition.permission} permission.",
            details={"permission": transition.permission},
        )
    reason = reason.strip() if reason else None
    fully_received = False
    if target is OrderState.FINISHED:
        summary = (await procurement_repo.line_summaries(session, [order.id]))[order.id]
        fully_received = summary.count > 0 and summary.fully_received == summary.count
    if not reason and not fully_received:
        raise ReasonRequired(
            f"Moving an order to {target.value} needs a reason.",
            fields=[FieldError(("query", "reason"), "missing", "required")],
        )
    flow = await find_flow(session, order.id)
    if (
        flow is not None
        and target in (OrderState.CANCELLED, OrderState.REFUSED)
        and flow.status
        not in (
            FlowStatus.APPROVED.value,
            FlowStatus.REJECTED.value,
            FlowStatus.CANCELLED.value,
        )
    ):
        await approval_service.cancel_flow(session, actor, flow_id=flow.id, reason=reason or target.value)
    set_reason(session.sync_session, reason)
    close(order, actor, target, reason)
    await session.flush()
    return order


def close(order: PurchaseOrder, actor: Actor, target: OrderState, reason: str | None) -> None:
    now = utcnow()
    order.state = target.value
    order.closed_at = now
    order.closed_by_id = actor.user_id
    order.close_reason = reason
    order.updated_at = now


def reopen(order: PurchaseOrder, target: OrderState) -> None:
    order.state = target.value
    order.closed_at = None
    order.closed_by_id = None
    order.close_reason = None
    order.updated_at = utcnow()


# --- approval hooks ----------------------------------------------------------------------------


async def describe_order(session: AsyncSession, order_id: int) -> ObjectDescription | None:
    """What an officer signs: the header and every line (part, quantity, price)."""
    order = await session.get(PurchaseOrder, order_id)
    if order is None:
        return None
    lines = await procurement_repo.lines_of(session, order.id)
    return ObjectDescription(
        title=f"Purchase order {order.reference}",
        link=f"/modules/depo_procurement/api/purchase-orders/{order.id}",
        content={
            "reference": order.reference,
            "supplier_id": order.supplier_id,
            "currency": order.currency,
            "issue_date": _iso(order.issue_date),
            "target_date": _iso(order.target_date),
            "destination_id": order.destination_id,
            "description": order.description,
            "supplier_reference": order.supplier_reference,
            "lines": [
                {
                    "line_number": line.line_number,
                    "part_id": line.part_id,
                    "quantity": str(line.quantity),
                    "purchase_price": None if line.purchase_price is None else str(line.purchase_price),
                    "currency": line.currency,
                }
                for line in lines
            ],
        },
    )


def _iso(value: datetime | Any) -> str | None:
    return value.isoformat() if value is not None else None


async def on_flow_approved(session: AsyncSession, actor: Actor, flow: ApprovalFlow) -> None:
    """Every required officer has signed: the order is issued."""
    order = await lock_order(session, flow.object_id)
    if order.state == OrderState.PENDING.value:
        order.state = OrderState.ISSUED.value
        order.issued_at = utcnow()
        order.updated_at = order.issued_at
        await session.flush()


async def on_flow_rejected(session: AsyncSession, actor: Actor, flow: ApprovalFlow) -> None:
    """A must-sign officer refused: so is the order, with the officer's reason."""
    order = await lock_order(session, flow.object_id)
    if order.state in (OrderState.PENDING.value, OrderState.ISSUED.value):
        signatures = await approval_service.flow_reads(session, [flow])
        reasons = [s.reason for s in signatures[0].signatures if s.decision == "reject" and s.withdrawn_at is None]
        close(order, actor, OrderState.REFUSED, reasons[-1] if reasons else "Rejected in the approval flow")
        await session.flush()


async def on_flow_reopened(session: AsyncSession, actor: Actor, flow: ApprovalFlow) -> None:
    """A signature was withdrawn from a completed flow: an issued order with no receipt goes back to
    pending (the withdrawal check already refused it once goods were received)."""
    order = await lock_order(session, flow.object_id)
    if order.state == OrderState.ISSUED.value:
        order.state = OrderState.PENDING.value
        order.issued_at = None
        order.updated_at = utcnow()
        await session.flush()
    elif order.state == OrderState.REFUSED.value and flow.status != FlowStatus.REJECTED.value:
        reopen(order, OrderState.PENDING)
        await session.flush()


async def can_withdraw(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    order = await session.get(PurchaseOrder, flow.object_id)
    if order is None:
        return None
    if await procurement_repo.live_receipt_count(session, order.id) > 0 or order.state == OrderState.RECEIVING.value:
        return f"Goods were received against {order.reference}; its signatures stay."
    if order.state in (OrderState.FINISHED.value, OrderState.CANCELLED.value):
        return f"{order.reference} is {order.state}; its signatures stay."
    # Refused by hand (procurement.refuse): a withdrawal must not bring it back. Refused by an
    # officer's rejection: withdrawing that rejection reopens it (`on_flow_reopened`).
    if order.state == OrderState.REFUSED.value and flow.status != FlowStatus.REJECTED.value:
        return f"{order.reference} was refused; its signatures stay."
    return None
