"""The movement ledger: the only way stock quantities change.

Every change is a movement row (append-only, triggers refuse updates and deletes) and the balance of
the lot at the location moves by the same amount in the same transaction. Writers take the audit
chain's head first (`lock_chain`), so they run one after the other and a balance read here is the
balance the movement applies to; the balance row is locked too, and a check constraint refuses a
negative balance whatever path wrote it.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.errors import FieldError
from depotflow.core.security import Actor
from depotflow.domains.audit import service as audit_service
from depotflow.domains.stock import repository as stock_repo
from depotflow.domains.stock.enums import DECREASING, INCREASING, MovementKind
from depotflow.domains.stock.errors import (
    BatchCodeTaken,
    InsufficientStock,
    InvalidMovement,
    LotInUse,
    LotNotFound,
    LotReversed,
    StatusNotFound,
)
from depotflow.domains.stock.models import StockBalance, StockLot, StockMovement, StockStatus
from depotflow.domains.stock.schemas import StatusRead


async def get_status(session: AsyncSession, slug: str) -> StockStatus:
    """Raises: StatusNotFound."""
    status = await stock_repo.status_by_slug(session, slug)
    if status is None:
        raise StatusNotFound(f"Stock status {slug!r} does not exist.", details={"status": slug})
    return status


async def get_lot(session: AsyncSession, lot_id: int) -> StockLot:
    """Raises: LotNotFound."""
    lot = await session.get(StockLot, lot_id)
    if lot is None:
        raise LotNotFound(f"Stock lot {lot_id} does not exist.", details={"lot_id": lot_id})
    return lot


def _check_sign(kind: MovementKind, quantity: Decimal) -> None:
    if quantity == 0:
        raise InvalidMovement("A movement moves a quantity other than zero.")
    if (kind in INCREASING and quantity < 0) or (kind in DECREASING and quantity > 0):
        raise InvalidMovement(
            f"A {kind.value} movement cannot have the quantity {quantity}.",
            details={"kind": kind.value, "quantity": str(quantity)},
        )


async def post_movement(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    lot: StockLot,
    location_id: int,
    kind: MovementKind,
    quantity: Decimal,
    document_type: str = "",
    document_id: int | None = None,
    transfer_group: str | None = None,
    notes: str = "",
) -> StockMovement:
    """Append one movement and move the balance of (lot, location) by `quantity` (signed).

    Raises: InvalidMovement (zero, or a sign the kind does not allow), LotReversed, InsufficientStock.
    """
    _check_sign(kind, quantity)
    if lot.reversed_at is not None:
        raise LotReversed(f"Lot {lot.batch_code} was reversed; it takes no more movements.", details={"lot_id": lot.id})
    await audit_service.lock_chain(session)
    balance = await stock_repo.lock_balance(session, lot.id, location_id)
    current = balance.quantity if balance is not None else Decimal(0)
    after = current + quantity
    if after < 0:
        raise InsufficientStock(
            f"Lot {lot.batch_code} has {current} at this location; {-quantity} cannot be taken.",
            details={
                "lot_id": lot.id,
                "location_id": location_id,
                "available": str(current),
                "requested": str(-quantity),
            },
        )
    movement = StockMovement(
        lot_id=lot.id,
        part_id=lot.part_id,
        location_id=location_id,
        kind=kind.value,
        quantity=quantity,
        document_type=document_type,
        document_id=document_id,
        transfer_group=transfer_group,
        notes=notes,
        created_by_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(movement)
    if balance is None:
        session.add(
            StockBalance(
                lot_id=lot.id, part_id=lot.part_id, location_id=location_id, quantity=after, updated_at=utcnow()
            )
        )
    else:
        balance.quantity = after
        balance.updated_at = utcnow()
    await session.flush()
    return movement


async def receive_lot(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    part_id: int,
    batch_code: str,
    location_id: int,
    quantity: Decimal,
    status: StockStatus,
    origin_type: str,
    origin_id: int | None,
    origin_line_id: int | None = None,
    origin_reference: str = "",
    supplier_id: int | None = None,
    supplier_batch_code: str = "",
    manufacturing_date: date | None = None,
    expiry_date: date | None = None,
    retest_date: date | None = None,
    expected_quantity: Decimal | None = None,
    receipt: dict[str, Any] | None = None,
    findings: list[str] | None = None,
    notes: str = "",
) -> StockLot:
    """Create a lot and its receipt movement (one transaction, the caller's).

    Raises: BatchCodeTaken, InvalidMovement.
    """
    await audit_service.lock_chain(session)
    if await stock_repo.find_lot_by_batch(session, part_id, batch_code) is not None:
        raise BatchCodeTaken(
            f"The part already has a lot with batch code {batch_code!r}.",
            details={"part_id": part_id, "batch_code": batch_code},
            fields=[FieldError(("body", "batch_code"), "taken", "this part already has a lot with that batch code")],
        )
    now = utcnow()
    lot = StockLot(
        part_id=part_id,
        batch_code=batch_code,
        supplier_batch_code=supplier_batch_code,
        supplier_id=supplier_id,
        manufacturing_date=manufacturing_date,
        expiry_date=expiry_date,
        retest_date=retest_date,
        received_quantity=quantity,
        expected_quantity=expected_quantity,
        origin_type=origin_type,
        origin_id=origin_id,
        origin_line_id=origin_line_id,
        origin_reference=origin_reference,
        status_id=status.id,
        receipt=receipt or {},
        findings=findings or [],
        notes=notes,
        received_by_id=actor.user_id,
        created_at=now,
        status_changed_at=now,
    )
    session.add(lot)
    await session.flush()
    await post_movement(
        session,
        actor,
        lot=lot,
        location_id=location_id,
        kind=MovementKind.RECEIPT,
        quantity=quantity,
        document_type=origin_type,
        document_id=origin_id,
    )
    return lot


async def receipt_reversal_refusal(
    session: AsyncSession, /, *, lot: StockLot, has_qc_records: bool
) -> LotReversed | LotInUse | None:
    """Why the receipt of `lot` cannot be reversed now (the error `reverse_receipt` would raise), or
    None when it can: the lot is not reversed yet, has no QC record and no movement but its receipt.
    Pages use it to offer the action only where it would be taken."""
    if lot.reversed_at is not None:
        return LotReversed(f"Lot {lot.batch_code} was already reversed.", details={"lot_id": lot.id})
    movements = await stock_repo.movements_of_lot(session, lot.id)
    if has_qc_records or [m.kind for m in movements] != [MovementKind.RECEIPT.value]:
        return LotInUse(
            f"Lot {lot.batch_code} has been used since its receipt (movements or QC records); it cannot be reversed.",
            details={"lot_id": lot.id, "movements": [m.kind for m in movements], "qc_records": has_qc_records},
        )
    return None


async def reverse_receipt(
    session: AsyncSession, actor: Actor, /, *, lot: StockLot, reason: str, has_qc_records: bool
) -> StockMovement:
    """Undo a receipt nothing has used yet: a reversal movement brings the balance to zero and the
    lot is marked reversed (kept, with who, when and why).

    Raises: LotReversed, LotInUse.
    """
    await audit_service.lock_chain(session)
    refusal = await receipt_reversal_refusal(session, lot=lot, has_qc_records=has_qc_records)
    if refusal is not None:
        raise refusal
    receipt = (await stock_repo.movements_of_lot(session, lot.id))[0]
    reversal = await post_movement(
        session,
        actor,
        lot=lot,
        location_id=receipt.location_id,
        kind=MovementKind.REVERSAL,
        quantity=-receipt.quantity,
        document_type=receipt.document_type,
        document_id=receipt.document_id,
        notes=reason,
    )
    lot.reversed_at = utcnow()
    lot.reversed_by_id = actor.user_id
    lot.reversal_reason = reason
    await session.flush()
    return reversal


async def set_status(session: AsyncSession, actor: Actor, /, *, lot: StockLot, status: StockStatus) -> None:
    """Change a lot's status (audited by the session hook with before and after)."""
    if lot.status_id != status.id:
        lot.status_id = status.id
        lot.status_changed_at = utcnow()
        await session.flush()


async def list_statuses(session: AsyncSession, /) -> list[StockStatus]:
    """Every stock status, ordered by value."""
    return await stock_repo.all_statuses(session)


def status_read(status: StockStatus) -> StatusRead:
    return StatusRead(
        id=status.id,
        slug=status.slug,
        name=status.name,
        value=status.value,
        color=status.color,
        is_requestable=status.is_requestable,
        is_transferable=status.is_transferable,
    )
