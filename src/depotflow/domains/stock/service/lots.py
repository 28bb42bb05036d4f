"""Reading lots, statuses and the ledger; manual movements (adjustments, scrap, transfers); a lot's QC.

Read models are built for a whole page at once, in a constant number of queries. Manual movements go
through `ledger.post_movement` in the caller's transaction: a transfer is both halves or nothing.
"""

import uuid
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.errors import FieldError
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.domains.audit import service as audit_service
from depotflow.domains.stock import repository as stock_repo
from depotflow.domains.stock.enums import MovementKind
from depotflow.domains.stock.errors import (
    InvalidMovement,
    LotMismatch,
    LotNotFound,
    LotReversed,
    NotTransferable,
)
from depotflow.domains.stock.models import QcRecord, StockLot, StockMovement
from depotflow.domains.stock.schemas import (
    BalanceRead,
    LotFilter,
    LotQcRecordCreate,
    LotRead,
    ManualMovement,
    MovementFilter,
    MovementRead,
    PartRef,
    QcRecordCreate,
)
from depotflow.domains.stock.service import ledger, qc
from depotflow.domains.stock.service.locations import active_location

MANUAL_DOCUMENT = "manual"
MANUAL_KINDS = (MovementKind.ADJUSTMENT, MovementKind.SCRAP, MovementKind.TRANSFER_OUT)

# --- lots --------------------------------------------------------------------------------------


async def lot_reads(session: AsyncSession, lots: Sequence[StockLot]) -> list[LotRead]:
    """Read models with part, status, total and per-location balances: three queries for any number of
    lots (none for none)."""
    if not lots:
        return []
    parts = await stock_repo.part_summaries(session, {lot.part_id for lot in lots})
    statuses = await stock_repo.statuses_by_id(session, {lot.status_id for lot in lots})
    balances = await stock_repo.balances_with_codes(session, {lot.id for lot in lots})
    reads = []
    for lot in lots:
        part = parts[lot.part_id]
        held = balances.get(lot.id, [])
        reads.append(
            LotRead(
                id=lot.id,
                part_id=lot.part_id,
                part=PartRef(id=part.id, ipn=part.ipn, name=part.name, unit=part.unit),
                batch_code=lot.batch_code,
                supplier_batch_code=lot.supplier_batch_code,
                supplier_id=lot.supplier_id,
                manufacturing_date=lot.manufacturing_date,
                expiry_date=lot.expiry_date,
                retest_date=lot.retest_date,
                received_quantity=lot.received_quantity,
                expected_quantity=lot.expected_quantity,
                quantity=sum((b.quantity for b in held), Decimal(0)),
                balances=[
                    BalanceRead(location_id=b.location_id, location_code=b.location_code, quantity=b.quantity)
                    for b in held
                ],
                status=ledger.status_read(statuses[lot.status_id]),
                origin_type=lot.origin_type,
                origin_id=lot.origin_id,
                origin_line_id=lot.origin_line_id,
                origin_reference=lot.origin_reference,
                receipt=lot.receipt,
                findings=lot.findings,
                notes=lot.notes,
                received_by_id=lot.received_by_id,
                created_at=lot.created_at,
                status_changed_at=lot.status_changed_at,
                reversed_at=lot.reversed_at,
                reversed_by_id=lot.reversed_by_id,
                reversal_reason=lot.reversal_reason,
            )
        )
    return reads


async def list_lots(
    session: AsyncSession, /, *, filters: LotFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[StockLot]:
    """Lots, newest first unless sorted otherwise (created_at, batch_code, expiry_date); reversed lots
    only with `include_reversed`. Search matches batch_code and supplier_batch_code."""
    return await stock_repo.LOT_LISTING.fetch(session, stock_repo.select_lots(filters), page, sort=sort, search=search)


# --- movements ---------------------------------------------------------------------------------


def movement_read(movement: StockMovement) -> MovementRead:
    return MovementRead(
        id=movement.id,
        lot_id=movement.lot_id,
        part_id=movement.part_id,
        location_id=movement.location_id,
        kind=MovementKind(movement.kind),
        quantity=movement.quantity,
        document_type=movement.document_type,
        document_id=movement.document_id,
        transfer_group=movement.transfer_group,
        notes=movement.notes,
        created_by_id=movement.created_by_id,
        created_at=movement.created_at,
    )


async def list_movements(
    session: AsyncSession, /, *, filters: MovementFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[StockMovement]:
    """Ledger lines, newest first (then by id); search matches notes and document type."""
    return await stock_repo.MOVEMENT_LISTING.fetch(
        session, stock_repo.select_movements(filters), page, sort=sort, search=search
    )


def _invalid(message: str, field: str, code: str, **details: object) -> InvalidMovement:
    return InvalidMovement(message, details=details, fields=[FieldError(("body", field), code, message)])


def _check_manual(data: ManualMovement) -> None:
    """What the body alone decides: the kind, the quantity's sign and the destination."""
    if data.kind not in MANUAL_KINDS:
        raise _invalid(
            f"A {data.kind.value} movement cannot be posted by hand; use adjustment, scrap or transfer_out.",
            "kind",
            "not_manual",
            kind=data.kind.value,
        )
    if data.kind is MovementKind.ADJUSTMENT:
        if data.quantity == 0:
            raise _invalid("An adjustment moves a quantity other than zero.", "quantity", "zero")
    elif data.quantity <= 0:
        raise _invalid(
            f"A {data.kind.value} takes a quantity above zero.", "quantity", "not_positive", quantity=str(data.quantity)
        )
    if data.kind is MovementKind.TRANSFER_OUT:
        if data.to_location_id is None:
            raise _invalid("A transfer needs `to_location_id`.", "to_location_id", "missing")
        if data.to_location_id == data.location_id:
            raise _invalid("A transfer goes to another location.", "to_location_id", "same_location")
    elif data.to_location_id is not None:
        raise _invalid("`to_location_id` is only for transfers.", "to_location_id", "not_a_transfer")


async def _post(
    session: AsyncSession,
    actor: Actor,
    lot: StockLot,
    data: ManualMovement,
    location_id: int,
    kind: MovementKind,
    quantity: Decimal,
    group: str | None = None,
) -> StockMovement:
    return await ledger.post_movement(
        session,
        actor,
        lot=lot,
        location_id=location_id,
        kind=kind,
        quantity=quantity,
        document_type=MANUAL_DOCUMENT,
        transfer_group=group,
        notes=data.notes,
    )


async def post_manual_movement(session: AsyncSession, actor: Actor, /, *, data: ManualMovement) -> list[StockMovement]:
    """Post an adjustment (either sign), scrap (taken out) or a transfer (two movements sharing a
    transfer group), all in the caller's transaction.

    Raises: InvalidMovement (kind, sign, destination), LotNotFound, LotReversed, UnknownReference
    (missing or inactive location), NotTransferable (the lot's status does not allow transfers),
    InsufficientStock.
    """
    _check_manual(data)
    await audit_service.lock_chain(session)
    lot = await stock_repo.lock_lot(session, data.lot_id)
    if lot is None:
        raise LotNotFound(f"Stock lot {data.lot_id} does not exist.", details={"lot_id": data.lot_id})
    if lot.reversed_at is not None:
        raise LotReversed(f"Lot {lot.batch_code} was reversed; it takes no more movements.", details={"lot_id": lot.id})
    await active_location(session, data.location_id, field="location_id")

    if data.kind is MovementKind.ADJUSTMENT:
        return [await _post(session, actor, lot, data, data.location_id, MovementKind.ADJUSTMENT, data.quantity)]
    if data.kind is MovementKind.SCRAP:
        return [await _post(session, actor, lot, data, data.location_id, MovementKind.SCRAP, -data.quantity)]
    assert data.to_location_id is not None  # _check_manual
    await active_location(session, data.to_location_id, field="to_location_id")
    status = (await stock_repo.statuses_by_id(session, [lot.status_id]))[lot.status_id]
    if not status.is_transferable:
        raise NotTransferable(
            f"Lot {lot.batch_code} is {status.name.lower()}; its status does not allow transfers.",
            details={"lot_id": lot.id, "status": status.slug},
        )
    group = str(uuid.uuid4())
    out = await _post(session, actor, lot, data, data.location_id, MovementKind.TRANSFER_OUT, -data.quantity, group)
    into = await _post(session, actor, lot, data, data.to_location_id, MovementKind.TRANSFER_IN, data.quantity, group)
    return [out, into]


# --- quality control of one lot ----------------------------------------------------------------


async def list_lot_qc_records(
    session: AsyncSession, /, *, lot_id: int, page: PageRequest, sort: str | None, search: str | None
) -> Page[QcRecord]:
    """The QC records of a lot, newest first; search matches analysis number and comment.

    Raises: LotNotFound.
    """
    lot = await ledger.get_lot(session, lot_id)
    return await stock_repo.QC_LISTING.fetch(
        session, stock_repo.select_qc_records(lot.id), page, sort=sort, search=search
    )


async def create_lot_qc_record(
    session: AsyncSession, actor: Actor, /, *, lot_id: int, data: LotQcRecordCreate
) -> QcRecord:
    """Record sampling and a first result on the lot the route names (see `qc.create_qc_record`).

    Raises: LotMismatch (the body names another lot), LotNotFound, LotReversed, UnknownReference,
    InsufficientStock.
    """
    if data.lot_id is not None and data.lot_id != lot_id:
        raise LotMismatch(
            f"The body names lot {data.lot_id}, the route lot {lot_id}.",
            details={"lot_id": lot_id, "body_lot_id": data.lot_id},
            fields=[FieldError(("body", "lot_id"), "mismatch", "must be the lot of the route (or left out)")],
        )
    await audit_service.lock_chain(session)
    lot = await stock_repo.lock_lot(session, lot_id)
    if lot is None:
        raise LotNotFound(f"Stock lot {lot_id} does not exist.", details={"lot_id": lot_id})
    record = QcRecordCreate.model_validate({**data.model_dump(exclude={"lot_id"}), "lot_id": lot.id})
    return await qc.create_qc_record(session, actor, data=record, lot=lot)
