"""SQL of the part domain."""

from collections.abc import Sequence

from sqlalchemy import Select, column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import ColumnLike, Listing, SortField
from depotflow.domains.part.models import Part, PartCategory, PartUnit
from depotflow.domains.part.schemas import CategoryFilter, PartFilter, UnitFilter

UNIT_SORTABLE: dict[str, ColumnLike] = {"code": PartUnit.code, "name": PartUnit.name}
UNIT_SEARCHABLE: Sequence[ColumnLike] = (PartUnit.code, PartUnit.name)
CATEGORY_SORTABLE: dict[str, ColumnLike] = {"name": PartCategory.name}
CATEGORY_SEARCHABLE: Sequence[ColumnLike] = (PartCategory.name, PartCategory.description)
PART_SORTABLE: dict[str, ColumnLike] = {"ipn": Part.ipn, "name": Part.name, "created_at": Part.created_at}
PART_SEARCHABLE: Sequence[ColumnLike] = (Part.ipn, Part.name, Part.description)
UNIT_LISTING = Listing(
    sortable=UNIT_SORTABLE, pk=PartUnit.id, default_sort=[SortField("code")], searchable=UNIT_SEARCHABLE
)
CATEGORY_LISTING = Listing(
    sortable=CATEGORY_SORTABLE, pk=PartCategory.id, default_sort=[SortField("name")], searchable=CATEGORY_SEARCHABLE
)
PART_LISTING = Listing(sortable=PART_SORTABLE, pk=Part.id, default_sort=[SortField("ipn")], searchable=PART_SEARCHABLE)


def select_units(f: UnitFilter) -> Select[PartUnit]:
    stmt = select(PartUnit)
    if f.is_active is not None:
        stmt = stmt.where(PartUnit.is_active.is_(f.is_active))
    return stmt


def select_categories(f: CategoryFilter) -> Select[PartCategory]:
    stmt = select(PartCategory)
    if f.parent_id is not None:
        stmt = stmt.where(PartCategory.parent_id == f.parent_id)
    return stmt


def select_parts(f: PartFilter) -> Select[Part]:
    stmt = select(Part)
    if f.category_id is not None:
        stmt = stmt.where(Part.category_id == f.category_id)
    if f.unit_id is not None:
        stmt = stmt.where(Part.unit_id == f.unit_id)
    if f.is_active is not None:
        stmt = stmt.where(Part.is_active.is_(f.is_active))
    if f.is_purchaseable is not None:
        stmt = stmt.where(Part.is_purchaseable.is_(f.is_purchaseable))
    return stmt


async def find_unit_by_code(session: AsyncSession, code: str) -> PartUnit | None:
    stmt = select(PartUnit).where(func.lower(PartUnit.code) == code.lower())
    return (await session.execute(stmt)).scalars().first()


async def find_part_by_ipn(session: AsyncSession, ipn: str) -> Part | None:
    stmt = select(Part).where(func.lower(Part.ipn) == ipn.lower())
    return (await session.execute(stmt)).scalars().first()


async def find_sibling(session: AsyncSession, parent_id: int | None, name: str) -> PartCategory | None:
    """A category of that name (ignoring case) under the same parent (or at the top level)."""
    stmt = select(PartCategory).where(func.lower(PartCategory.name) == name.lower())
    stmt = stmt.where(PartCategory.parent_id.is_(None) if parent_id is None else PartCategory.parent_id == parent_id)
    return (await session.execute(stmt)).scalars().first()


async def category_parents(session: AsyncSession) -> dict[int, tuple[str, int | None]]:
    """Every category's name and parent: the tree is master data, small enough to walk in memory."""
    rows = (await session.execute(select(PartCategory.id, PartCategory.name, PartCategory.parent_id))).all()
    return {row.id: (row.name, row.parent_id) for row in rows}


async def units_by_id(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.execute(select(PartUnit.id, PartUnit.code).where(PartUnit.id.in_(ids)))).all()
    return {row.id: row.code for row in rows}


async def has_children(session: AsyncSession, category_id: int) -> bool:
    stmt = select(PartCategory.id).where(PartCategory.parent_id == category_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def has_parts(session: AsyncSession, category_id: int) -> bool:
    stmt = select(Part.id).where(Part.category_id == category_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def parts_by_id(session: AsyncSession, ids: set[int]) -> list[Part]:
    if not ids:
        return []
    return list((await session.execute(select(Part).where(Part.id.in_(ids)))).scalars().all())


# The stock domain (a layer above) owns locations; parts only name one, so this checks the row by
# table name without importing that domain.
_stock_location = table("stock_location", column("id"))


async def location_exists(session: AsyncSession, location_id: int) -> bool:
    stmt = select(_stock_location.c.id).where(_stock_location.c.id == location_id)
    return (await session.execute(stmt)).first() is not None
