"""SQL of the stock domain."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, Subquery, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from depotflow.core.listing import Listing, SortField
from depotflow.domains.part.models import Part, PartUnit
from depotflow.domains.stock.models import QcRecord, StockBalance, StockLocation, StockLot, StockMovement, StockStatus
from depotflow.domains.stock.schemas import LocationFilter, LotFilter, MovementFilter


async def status_by_slug(session: AsyncSession, slug: str) -> StockStatus | None:
    return (await session.execute(select(StockStatus).where(StockStatus.slug == slug))).scalars().first()


async def statuses_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, StockStatus]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(StockStatus).where(StockStatus.id.in_(wanted)))).scalars().all()
    return {row.id: row for row in rows}


async def all_statuses(session: AsyncSession) -> list[StockStatus]:
    stmt = select(StockStatus).order_by(StockStatus.value, StockStatus.id)
    return list((await session.execute(stmt)).scalars().all())


async def lock_balance(session: AsyncSession, lot_id: int, location_id: int) -> StockBalance | None:
    """The balance row, locked until the transaction ends (PostgreSQL; SQLite writers are serialised)."""
    stmt = (
        select(StockBalance)
        .where(StockBalance.lot_id == lot_id, StockBalance.location_id == location_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().first()


async def balances_of(session: AsyncSession, lot_ids: Iterable[int]) -> dict[int, list[StockBalance]]:
    wanted = set(lot_ids)
    found: dict[int, list[StockBalance]] = {lot_id: [] for lot_id in wanted}
    if not wanted:
        return found
    stmt = (
        select(StockBalance)
        .where(StockBalance.lot_id.in_(wanted), StockBalance.quantity != 0)
        .order_by(StockBalance.lot_id, StockBalance.location_id)
    )
    for row in (await session.execute(stmt)).scalars().all():
        found[row.lot_id].append(row)
    return found


async def lot_total(session: AsyncSession, lot_id: int) -> Decimal:
    stmt = select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(StockBalance.lot_id == lot_id)
    return Decimal((await session.execute(stmt)).scalar_one())


async def movement_kinds(session: AsyncSession, lot_id: int) -> list[str]:
    stmt = select(StockMovement.kind).where(StockMovement.lot_id == lot_id).order_by(StockMovement.id)
    return list((await session.execute(stmt)).scalars().all())


async def movements_of_lot(session: AsyncSession, lot_id: int) -> list[StockMovement]:
    stmt = select(StockMovement).where(StockMovement.lot_id == lot_id).order_by(StockMovement.id)
    return list((await session.execute(stmt)).scalars().all())


async def find_lot_by_batch(session: AsyncSession, part_id: int, batch_code: str) -> StockLot | None:
    stmt = select(StockLot).where(StockLot.part_id == part_id, func.lower(StockLot.batch_code) == batch_code.lower())
    return (await session.execute(stmt)).scalars().first()


async def locations_by_id(session: AsyncSession, ids: Iterable[int]) -> dict[int, StockLocation]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.execute(select(StockLocation).where(StockLocation.id.in_(wanted)))).scalars().all()
    return {row.id: row for row in rows}


async def lock_lot(session: AsyncSession, lot_id: int) -> StockLot | None:
    stmt = select(StockLot).where(StockLot.id == lot_id).with_for_update()
    return (await session.execute(stmt)).scalars().first()


# --- listings ----------------------------------------------------------------------------------

LOCATION_LISTING = Listing(
    sortable={"code": StockLocation.code, "name": StockLocation.name},
    pk=StockLocation.id,
    default_sort=[SortField("code")],
    searchable=(StockLocation.code, StockLocation.name),
)
LOT_LISTING = Listing(
    sortable={
        "created_at": StockLot.created_at,
        "batch_code": StockLot.batch_code,
        "expiry_date": StockLot.expiry_date,
    },
    pk=StockLot.id,
    default_sort=[SortField("created_at", descending=True)],
    searchable=(StockLot.batch_code, StockLot.supplier_batch_code),
)
MOVEMENT_LISTING = Listing(
    sortable={"created_at": StockMovement.created_at},
    pk=StockMovement.id,
    default_sort=[SortField("created_at", descending=True)],
    searchable=(StockMovement.notes, StockMovement.document_type),
)
QC_LISTING = Listing(
    sortable={"created_at": QcRecord.created_at},
    pk=QcRecord.id,
    default_sort=[SortField("created_at", descending=True)],
    searchable=(QcRecord.analysis_number, QcRecord.comment),
)


def select_locations(f: LocationFilter) -> Select[StockLocation]:
    stmt = select(StockLocation)
    if f.parent_id is not None:
        stmt = stmt.where(StockLocation.parent_id == f.parent_id)
    if f.type is not None:
        stmt = stmt.where(StockLocation.type == f.type.value)
    if f.is_active is not None:
        stmt = stmt.where(StockLocation.is_active.is_(f.is_active))
    return stmt


def select_lots(f: LotFilter) -> Select[StockLot]:
    stmt = select(StockLot)
    if not f.include_reversed:
        stmt = stmt.where(StockLot.reversed_at.is_(None))
    if f.part_id is not None:
        stmt = stmt.where(StockLot.part_id == f.part_id)
    if f.status is not None:
        stmt = stmt.where(StockLot.status_id.in_(select(StockStatus.id).where(StockStatus.slug == f.status)))
    if f.location_id is not None:
        held_there = select(StockBalance.lot_id).where(
            StockBalance.location_id == f.location_id, StockBalance.quantity != 0
        )
        stmt = stmt.where(StockLot.id.in_(held_there))
    if f.origin_type is not None:
        stmt = stmt.where(StockLot.origin_type == f.origin_type)
    if f.origin_id is not None:
        stmt = stmt.where(StockLot.origin_id == f.origin_id)
    if f.in_stock is not None:
        # Balances are never negative (check constraint), so "some balance above zero" is "total above zero".
        in_stock = select(StockBalance.lot_id).where(StockBalance.quantity > 0)
        stmt = stmt.where(StockLot.id.in_(in_stock) if f.in_stock else StockLot.id.not_in(in_stock))
    return stmt


def select_movements(f: MovementFilter) -> Select[StockMovement]:
    stmt = select(StockMovement)
    if f.lot_id is not None:
        stmt = stmt.where(StockMovement.lot_id == f.lot_id)
    if f.part_id is not None:
        stmt = stmt.where(StockMovement.part_id == f.part_id)
    if f.location_id is not None:
        stmt = stmt.where(StockMovement.location_id == f.location_id)
    if f.kind is not None:
        stmt = stmt.where(StockMovement.kind == f.kind.value)
    return stmt


def select_qc_records(lot_id: int) -> Select[QcRecord]:
    return select(QcRecord).where(QcRecord.lot_id == lot_id)


# --- locations ---------------------------------------------------------------------------------


async def location_parents(session: AsyncSession) -> dict[int, tuple[str, int | None]]:
    """Every location's name and parent: the tree is master data, small enough to walk in memory."""
    rows = (await session.execute(select(StockLocation.id, StockLocation.name, StockLocation.parent_id))).all()
    return {row.id: (row.name, row.parent_id) for row in rows}


async def find_location_by_code(session: AsyncSession, code: str) -> StockLocation | None:
    stmt = select(StockLocation).where(func.lower(StockLocation.code) == code.lower())
    return (await session.execute(stmt)).scalars().first()


async def location_holds_stock(session: AsyncSession, location_id: int) -> bool:
    stmt = select(StockBalance.id).where(StockBalance.location_id == location_id, StockBalance.quantity > 0).limit(1)
    return (await session.execute(stmt)).first() is not None


async def has_active_children(session: AsyncSession, location_id: int) -> bool:
    stmt = (
        select(StockLocation.id)
        .where(StockLocation.parent_id == location_id, StockLocation.is_active.is_(True))
        .limit(1)
    )
    return (await session.execute(stmt)).first() is not None


# --- read models -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartSummary:
    id: int
    ipn: str
    name: str
    unit: str


@dataclass(frozen=True, slots=True)
class BalanceRow:
    lot_id: int
    location_id: int
    location_code: str
    quantity: Decimal


async def part_summaries(session: AsyncSession, part_ids: Iterable[int]) -> dict[int, PartSummary]:
    """IPN, name and unit code of each part, in one query."""
    wanted = set(part_ids)
    if not wanted:
        return {}
    stmt = (
        select(Part.id, Part.ipn, Part.name, PartUnit.code)
        .join(PartUnit, PartUnit.id == Part.unit_id)
        .where(Part.id.in_(wanted))
    )
    return {row[0]: PartSummary(*row) for row in (await session.execute(stmt)).all()}


async def balances_with_codes(session: AsyncSession, lot_ids: Iterable[int]) -> dict[int, list[BalanceRow]]:
    """The non-zero balances of each lot with their location codes, in one query (by location code)."""
    wanted = set(lot_ids)
    found: dict[int, list[BalanceRow]] = {lot_id: [] for lot_id in wanted}
    if not wanted:
        return found
    stmt = (
        select(StockBalance.lot_id, StockBalance.location_id, StockLocation.code, StockBalance.quantity)
        .join(StockLocation, StockLocation.id == StockBalance.location_id)
        .where(StockBalance.lot_id.in_(wanted), StockBalance.quantity != 0)
        .order_by(StockBalance.lot_id, StockLocation.code, StockBalance.location_id)
    )
    for row in (await session.execute(stmt)).all():
        found[row[0]].append(BalanceRow(*row))
    return found


# --- consistency -------------------------------------------------------------------------------
# Set-based: each query scans a table once with GROUP BY and returns only the rows that are wrong,
# so the check costs a handful of queries however many lots there are.


async def ledger_counts(session: AsyncSession) -> tuple[int, int, int]:
    """Numbers of lots, movements and balance rows."""
    stmt = select(
        select(func.count()).select_from(StockLot).scalar_subquery(),
        select(func.count()).select_from(StockMovement).scalar_subquery(),
        select(func.count()).select_from(StockBalance).scalar_subquery(),
    )
    lots, movements, balances = (await session.execute(stmt)).one()
    return int(lots), int(movements), int(balances)


def _movement_sums() -> Subquery:
    return (
        select(
            StockMovement.lot_id.label("lot_id"),
            StockMovement.location_id.label("location_id"),
            func.sum(StockMovement.quantity).label("total"),
        )
        .group_by(StockMovement.lot_id, StockMovement.location_id)
        .subquery("sums")
    )


async def ledger_balance_mismatches(session: AsyncSession) -> list[tuple[int, int, Decimal, Decimal | None]]:
    """(lot, location, sum of movements, stored balance or None) where the stored balance is missing or
    differs, or where the movements add up below zero."""
    sums = _movement_sums()
    total = sums.c.total
    stmt = (
        select(sums.c.lot_id, sums.c.location_id, total, StockBalance.quantity)
        .outerjoin(
            StockBalance,
            and_(StockBalance.lot_id == sums.c.lot_id, StockBalance.location_id == sums.c.location_id),
        )
        .where(or_(StockBalance.id.is_(None), StockBalance.quantity != total, total < 0))
        .order_by(sums.c.lot_id, sums.c.location_id)
    )
    return [(row[0], row[1], row[2], row[3]) for row in (await session.execute(stmt)).all()]


async def balances_without_movements(session: AsyncSession) -> list[tuple[int, int, Decimal]]:
    """(lot, location, stored balance) of balance rows no movement accounts for."""
    sums = _movement_sums()
    stmt = (
        select(StockBalance.lot_id, StockBalance.location_id, StockBalance.quantity)
        .outerjoin(
            sums,
            and_(StockBalance.lot_id == sums.c.lot_id, StockBalance.location_id == sums.c.location_id),
        )
        .where(sums.c.lot_id.is_(None))
        .order_by(StockBalance.lot_id, StockBalance.location_id)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()]


async def negative_balances(session: AsyncSession) -> list[tuple[int, int, Decimal]]:
    """(lot, location, stored balance) below zero (the check constraint should make this empty)."""
    stmt = (
        select(StockBalance.lot_id, StockBalance.location_id, StockBalance.quantity)
        .where(StockBalance.quantity < 0)
        .order_by(StockBalance.lot_id, StockBalance.location_id)
    )
    return [(row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()]


@dataclass(frozen=True, slots=True)
class LotLedgerRow:
    """One lot's ledger summary: how its movements start, its receipts and its total."""

    lot_id: int
    received_quantity: Decimal
    reversed: bool
    movements: int
    receipts: int
    first_kind: str | None
    first_receipt_quantity: Decimal | None
    total: Decimal


async def suspicious_lots(session: AsyncSession, receipt_kind: str) -> list[LotLedgerRow]:
    """Lots whose movements do not start with exactly one receipt, whose first receipt differs from
    the received quantity, or that were reversed but still hold stock."""
    is_receipt = StockMovement.kind == receipt_kind
    per_lot = (
        select(
            StockMovement.lot_id.label("lot_id"),
            func.count().label("movements"),
            func.sum(case((is_receipt, 1), else_=0)).label("receipts"),
            func.min(StockMovement.id).label("first_id"),
            func.min(case((is_receipt, StockMovement.id), else_=None)).label("first_receipt_id"),
            func.sum(StockMovement.quantity).label("total"),
        )
        .group_by(StockMovement.lot_id)
        .subquery("per_lot")
    )
    first = aliased(StockMovement, name="first_movement")
    first_receipt = aliased(StockMovement, name="first_receipt")
    total = func.coalesce(per_lot.c.total, 0)
    stmt = (
        select(
            StockLot.id,
            StockLot.received_quantity,
            StockLot.reversed_at.is_not(None),
            func.coalesce(per_lot.c.movements, 0),
            func.coalesce(per_lot.c.receipts, 0),
            first.kind,
            first_receipt.quantity,
            per_lot.c.total,
        )
        .outerjoin(per_lot, per_lot.c.lot_id == StockLot.id)
        .outerjoin(first, first.id == per_lot.c.first_id)
        .outerjoin(first_receipt, first_receipt.id == per_lot.c.first_receipt_id)
        .where(
            or_(
                per_lot.c.lot_id.is_(None),
                per_lot.c.receipts != 1,
                first.kind != receipt_kind,
                first_receipt.quantity != StockLot.received_quantity,
                and_(StockLot.reversed_at.is_not(None), total != 0),
            )
        )
        .order_by(StockLot.id)
    )
    return [
        LotLedgerRow(
            lot_id=row[0],
            received_quantity=row[1],
            reversed=bool(row[2]),
            movements=int(row[3]),
            receipts=int(row[4]),
            first_kind=row[5],
            first_receipt_quantity=row[6],
            total=row[7] if row[7] is not None else Decimal(0),
        )
        for row in (await session.execute(stmt)).all()
    ]
