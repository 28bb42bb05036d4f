"""SQL of procurement."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import Listing, SortField
from depotflow.domains.procurement.models import OrderStateRow, PurchaseOrder, PurchaseOrderLine, ReferenceCounter
from depotflow.domains.procurement.schemas import OrderFilter
from depotflow.domains.stock.models import StockLot

ORDERS = Listing(
    sortable={
        "created_at": PurchaseOrder.created_at,
        "reference": PurchaseOrder.reference,
        "issue_date": PurchaseOrder.issue_date,
        "target_date": PurchaseOrder.target_date,
        "state": PurchaseOrder.state,
    },
    pk=PurchaseOrder.id,
    default_sort=[SortField("created_at", descending=True)],
    searchable=(PurchaseOrder.reference, PurchaseOrder.description, PurchaseOrder.supplier_reference),
)
LINES = Listing(
    sortable={"line_number": PurchaseOrderLine.line_number},
    pk=PurchaseOrderLine.id,
    default_sort=[SortField("line_number")],
    searchable=(PurchaseOrderLine.reference, PurchaseOrderLine.notes),
)
RECEIVED = Listing(
    sortable={"created_at": StockLot.created_at, "batch_code": StockLot.batch_code},
    pk=StockLot.id,
    default_sort=[SortField("created_at", descending=True)],
    searchable=(StockLot.batch_code, StockLot.supplier_batch_code),
)
ORIGIN = "purchase_order"


def select_orders(f: OrderFilter) -> Select[PurchaseOrder]:
    stmt = select(PurchaseOrder)
    if f.state is not None:
        stmt = stmt.where(PurchaseOrder.state == f.state.value)
    if f.supplier_id is not None:
        stmt = stmt.where(PurchaseOrder.supplier_id == f.supplier_id)
    if f.date_from is not None:
        stmt = stmt.where(PurchaseOrder.issue_date >= f.date_from)
    if f.date_to is not None:
        stmt = stmt.where(PurchaseOrder.issue_date <= f.date_to)
    return stmt


def select_lines(order_id: int) -> Select[PurchaseOrderLine]:
    return select(PurchaseOrderLine).where(PurchaseOrderLine.order_id == order_id)


def select_received(order_id: int, include_reversed: bool) -> Select[StockLot]:
    stmt = select(StockLot).where(StockLot.origin_type == ORIGIN, StockLot.origin_id == order_id)
    if not include_reversed:
        stmt = stmt.where(StockLot.reversed_at.is_(None))
    return stmt


async def states(session: AsyncSession) -> list[OrderStateRow]:
    stmt = select(OrderStateRow).order_by(OrderStateRow.value, OrderStateRow.id)
    return list((await session.execute(stmt)).scalars().all())


async def lock_order(session: AsyncSession, order_id: int) -> PurchaseOrder | None:
    stmt = select(PurchaseOrder).where(PurchaseOrder.id == order_id).with_for_update()
    return (await session.execute(stmt)).scalars().first()


async def lock_line(session: AsyncSession, order_id: int, line_id: int) -> PurchaseOrderLine | None:
    stmt = (
        select(PurchaseOrderLine)
        .where(PurchaseOrderLine.id == line_id, PurchaseOrderLine.order_id == order_id)
        .with_for_update()
    )
    return (await session.execute(stmt)).scalars().first()


async def lines_of(session: AsyncSession, order_id: int) -> list[PurchaseOrderLine]:
    stmt = select_lines(order_id).order_by(PurchaseOrderLine.line_number)
    return list((await session.execute(stmt)).scalars().all())


async def next_line_number(session: AsyncSession, order_id: int) -> int:
    stmt = select(func.coalesce(func.max(PurchaseOrderLine.line_number), 0)).where(
        PurchaseOrderLine.order_id == order_id
    )
    return int((await session.execute(stmt)).scalar_one()) + 1


async def next_number(session: AsyncSession, series: str) -> int:
    """The next number of a series, under a row lock (callers also hold the audit chain's head)."""
    stmt = select(ReferenceCounter).where(ReferenceCounter.series == series).with_for_update()
    counter = (await session.execute(stmt)).scalars().first()
    if counter is None:
        counter = ReferenceCounter(series=series, last_value=0)
        session.add(counter)
    counter.last_value += 1
    await session.flush()
    return counter.last_value


@dataclass(frozen=True, slots=True)
class LineSummary:
    count: int
    fully_received: int
    total: Decimal


async def line_summaries(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, LineSummary]:
    """Line count, fully received lines and Σ quantity × price per order, in one query."""
    wanted = set(order_ids)
    if not wanted:
        return {}
    line = PurchaseOrderLine
    stmt = (
        select(
            line.order_id,
            func.count(line.id),
            func.sum(case((line.received_quantity >= line.quantity, 1), else_=0)),
        )
        .where(line.order_id.in_(wanted))
        .group_by(line.order_id)
    )
    found = {row[0]: (int(row[1]), int(row[2] or 0)) for row in (await session.execute(stmt)).all()}
    # Prices are summed in Python: the column is a scaled integer on SQLite, so a SQL product of two
    # of them would carry the scale twice.
    totals: dict[int, Decimal] = {}
    price_rows = await session.execute(
        select(line.order_id, line.quantity, line.purchase_price).where(
            line.order_id.in_(wanted), line.purchase_price.is_not(None)
        )
    )
    for order_id, quantity, price in price_rows.all():
        totals[order_id] = totals.get(order_id, Decimal(0)) + quantity * (price or Decimal(0))
    return {
        order_id: LineSummary(
            count=found.get(order_id, (0, 0))[0],
            fully_received=found.get(order_id, (0, 0))[1],
            total=totals.get(order_id, Decimal(0)),
        )
        for order_id in wanted
    }


async def live_receipt_count(session: AsyncSession, order_id: int) -> int:
    stmt = select(func.count(StockLot.id)).where(
        StockLot.origin_type == ORIGIN, StockLot.origin_id == order_id, StockLot.reversed_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def line_has_lots(session: AsyncSession, line_id: int) -> bool:
    stmt = select(StockLot.id).where(StockLot.origin_type == ORIGIN, StockLot.origin_line_id == line_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def lots_of_line(session: AsyncSession, line_id: int) -> int:
    stmt = select(func.count(StockLot.id)).where(StockLot.origin_type == ORIGIN, StockLot.origin_line_id == line_id)
    return int((await session.execute(stmt)).scalar_one())


async def lot_ids_of_order(session: AsyncSession, order_id: int) -> list[int]:
    stmt = select(StockLot.id).where(StockLot.origin_type == ORIGIN, StockLot.origin_id == order_id)
    return list((await session.execute(stmt)).scalars().all())
