"""Part master data use cases: units, the category tree and parts; the public surface.

Every change is audited by the session hook (before/after values); nothing is erased except empty
categories. Parts are deactivated (`is_active: false`), never deleted.
"""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.errors import FieldError
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.core.tree import Tree, path_of, would_cycle
from depotflow.domains.part import repository as part_repo
from depotflow.domains.part.errors import (
    CategoryCycle,
    CategoryInUse,
    CategoryNameTaken,
    CategoryNotFound,
    IpnTaken,
    PartNotFound,
    UnitCodeTaken,
    UnitNotFound,
    UnknownReference,
)
from depotflow.domains.part.models import Part, PartCategory, PartUnit
from depotflow.domains.part.schemas import (
    CategoryCreate,
    CategoryFilter,
    CategoryRead,
    CategoryUpdate,
    PartCreate,
    PartFilter,
    PartRead,
    PartUpdate,
    UnitCreate,
    UnitFilter,
    UnitRead,
    UnitUpdate,
)

# --- units -------------------------------------------------------------------------------------


def unit_read(unit: PartUnit) -> UnitRead:
    return UnitRead(id=unit.id, code=unit.code, name=unit.name, is_active=unit.is_active)


async def get_unit(session: AsyncSession, unit_id: int) -> PartUnit:
    """Raises: UnitNotFound."""
    unit = await session.get(PartUnit, unit_id)
    if unit is None:
        raise UnitNotFound(f"Unit {unit_id} does not exist.", details={"unit_id": unit_id})
    return unit


async def list_units(
    session: AsyncSession, /, *, filters: UnitFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[PartUnit]:
    return await part_repo.UNIT_LISTING.fetch(session, part_repo.select_units(filters), page, sort=sort, search=search)


async def _check_unit_code(session: AsyncSession, code: str, unit_id: int | None = None) -> None:
    other = await part_repo.find_unit_by_code(session, code)
    if other is not None and other.id != unit_id:
        raise UnitCodeTaken(f"The unit code {code!r} is taken.", details={"code": code})


async def create_unit(session: AsyncSession, actor: Actor, /, *, data: UnitCreate) -> PartUnit:
    """Raises: UnitCodeTaken (codes are unique ignoring case)."""
    await _check_unit_code(session, data.code)
    unit = PartUnit(code=data.code, name=data.name, is_active=data.is_active)
    session.add(unit)
    await session.flush()
    return unit


async def update_unit(session: AsyncSession, actor: Actor, /, *, unit_id: int, data: UnitUpdate) -> PartUnit:
    """Raises: UnitNotFound, UnitCodeTaken."""
    unit = await get_unit(session, unit_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "code" in changes:
        await _check_unit_code(session, changes["code"], unit.id)
    for key, value in changes.items():
        setattr(unit, key, value)
    await session.flush()
    return unit


# --- categories --------------------------------------------------------------------------------


def category_read(category: PartCategory, tree: Tree) -> CategoryRead:
    return CategoryRead(
        id=category.id,
        name=category.name,
        parent_id=category.parent_id,
        description=category.description,
        path=path_of(tree, category.id),
    )


async def category_tree(session: AsyncSession) -> Tree:
    return await part_repo.category_parents(session)


async def get_category(session: AsyncSession, category_id: int) -> PartCategory:
    """Raises: CategoryNotFound."""
    category = await session.get(PartCategory, category_id)
    if category is None:
        raise CategoryNotFound(f"Category {category_id} does not exist.", details={"category_id": category_id})
    return category


async def list_categories(
    session: AsyncSession, /, *, filters: CategoryFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[PartCategory]:
    return await part_repo.CATEGORY_LISTING.fetch(
        session, part_repo.select_categories(filters), page, sort=sort, search=search
    )


async def _check_parent(session: AsyncSession, parent_id: int | None) -> None:
    if parent_id is not None and await session.get(PartCategory, parent_id) is None:
        raise UnknownReference(
            f"Category {parent_id} does not exist.",
            fields=[FieldError(("body", "parent_id"), "unknown", "no such category")],
        )


async def _check_sibling_name(
    session: AsyncSession, parent_id: int | None, name: str, category_id: int | None = None
) -> None:
    # Also covers top-level names, which the (parent_id, name) constraint cannot (NULL parents).
    other = await part_repo.find_sibling(session, parent_id, name)
    if other is not None and other.id != category_id:
        raise CategoryNameTaken(
            f"A category named {name!r} already exists there.", details={"name": name, "parent_id": parent_id}
        )


async def create_category(session: AsyncSession, actor: Actor, /, *, data: CategoryCreate) -> PartCategory:
    """Raises: UnknownReference (parent), CategoryNameTaken."""
    await _check_parent(session, data.parent_id)
    await _check_sibling_name(session, data.parent_id, data.name)
    category = PartCategory(name=data.name, parent_id=data.parent_id, description=data.description)
    session.add(category)
    await session.flush()
    return category


async def update_category(
    session: AsyncSession, actor: Actor, /, *, category_id: int, data: CategoryUpdate
) -> PartCategory:
    """Rename, describe or move a category. Raises: CategoryNotFound, UnknownReference, CategoryCycle,
    CategoryNameTaken."""
    category = await get_category(session, category_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for key in ("name", "description"):
        if key in changes and changes[key] is None:
            del changes[key]
    parent_id = changes.get("parent_id", category.parent_id)
    if "parent_id" in changes and parent_id is not None:
        await _check_parent(session, parent_id)
        if would_cycle(await category_tree(session), category.id, parent_id):
            raise CategoryCycle(
                "A category cannot be moved under itself or one of its descendants.",
                details={"category_id": category.id, "parent_id": parent_id},
                fields=[FieldError(("body", "parent_id"), "cycle", "is the category or one of its descendants")],
            )
    await _check_sibling_name(session, parent_id, changes.get("name", category.name), category.id)
    for key, value in changes.items():
        setattr(category, key, value)
    await session.flush()
    return category


async def delete_category(session: AsyncSession, actor: Actor, /, *, category_id: int) -> None:
    """Delete an empty category. Raises: CategoryNotFound, CategoryInUse (children or parts)."""
    category = await get_category(session, category_id)
    if await part_repo.has_children(session, category.id):
        raise CategoryInUse("The category has subcategories.", details={"category_id": category.id})
    if await part_repo.has_parts(session, category.id):
        raise CategoryInUse("The category has parts.", details={"category_id": category.id})
    await session.delete(category)
    await session.flush()


# --- parts -------------------------------------------------------------------------------------


async def part_reads(session: AsyncSession, parts: list[Part]) -> list[PartRead]:
    """Read models with category paths and unit codes, in two queries for any number of parts."""
    tree = await category_tree(session) if any(p.category_id is not None for p in parts) else {}
    units = await part_repo.units_by_id(session, {p.unit_id for p in parts})
    return [
        PartRead(
            id=p.id,
            ipn=p.ipn,
            name=p.name,
            description=p.description,
            category_id=p.category_id,
            category_path=path_of(tree, p.category_id) if p.category_id is not None else None,
            unit_id=p.unit_id,
            unit_code=units.get(p.unit_id, ""),
            is_active=p.is_active,
            is_purchaseable=p.is_purchaseable,
            is_salable=p.is_salable,
            is_component=p.is_component,
            is_assembly=p.is_assembly,
            requires_qc_release=p.requires_qc_release,
            tracks_batch=p.tracks_batch,
            tracks_expiry=p.tracks_expiry,
            default_location_id=p.default_location_id,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in parts
    ]


async def get_part(session: AsyncSession, part_id: int) -> Part:
    """Raises: PartNotFound."""
    part = await session.get(Part, part_id)
    if part is None:
        raise PartNotFound(f"Part {part_id} does not exist.", details={"part_id": part_id})
    return part


async def list_parts(
    session: AsyncSession, /, *, filters: PartFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[Part]:
    """Parts by IPN unless sorted otherwise; search matches IPN, name and description."""
    return await part_repo.PART_LISTING.fetch(session, part_repo.select_parts(filters), page, sort=sort, search=search)


async def _check_part_refs(session: AsyncSession, changes: dict[str, Any]) -> None:
    unit_id = changes.get("unit_id")
    if unit_id is not None and await session.get(PartUnit, unit_id) is None:
        raise UnknownReference(
            f"Unit {unit_id} does not exist.", fields=[FieldError(("body", "unit_id"), "unknown", "no such unit")]
        )
    category_id = changes.get("category_id")
    if category_id is not None and await session.get(PartCategory, category_id) is None:
        raise UnknownReference(
            f"Category {category_id} does not exist.",
            fields=[FieldError(("body", "category_id"), "unknown", "no such category")],
        )
    location_id = changes.get("default_location_id")
    if location_id is not None and not await part_repo.location_exists(session, location_id):
        raise UnknownReference(
            f"Stock location {location_id} does not exist.",
            fields=[FieldError(("body", "default_location_id"), "unknown", "no such stock location")],
        )


async def _check_ipn(session: AsyncSession, ipn: str, part_id: int | None = None) -> None:
    other = await part_repo.find_part_by_ipn(session, ipn)
    if other is not None and other.id != part_id:
        raise IpnTaken(f"The IPN {ipn!r} is taken.", details={"ipn": ipn, "part_id": other.id})


async def create_part(session: AsyncSession, actor: Actor, /, *, data: PartCreate) -> Part:
    """Raises: UnknownReference (unit, category), IpnTaken (unique ignoring case)."""
    values = data.model_dump()
    await _check_part_refs(session, values)
    await _check_ipn(session, data.ipn)
    part = Part(**values)
    session.add(part)
    await _flush_part(session, data.ipn)
    return part


async def _flush_part(session: AsyncSession, ipn: str) -> None:
    # The check above cannot see a concurrent insert that has not committed (PostgreSQL); the unique
    # constraint then refuses the second one, which must still answer 409, not 500.
    try:
        await session.flush()
    except IntegrityError as exc:
        if "ipn" not in str(exc.orig).lower():
            raise
        raise IpnTaken(f"The IPN {ipn!r} is taken.", details={"ipn": ipn}) from exc


NULLABLE_PART_FIELDS = frozenset({"category_id", "default_location_id"})


async def update_part(session: AsyncSession, actor: Actor, /, *, part_id: int, data: PartUpdate) -> Part:
    """Raises: PartNotFound, UnknownReference, IpnTaken."""
    part = await get_part(session, part_id)
    changes: dict[str, Any] = {
        key: value
        for key, value in data.model_dump(exclude_unset=True).items()
        if value is not None or key in NULLABLE_PART_FIELDS
    }
    await _check_part_refs(session, changes)
    if "ipn" in changes:
        await _check_ipn(session, changes["ipn"], part.id)
    changed = {key: value for key, value in changes.items() if getattr(part, key) != value}
    for key, value in changed.items():
        setattr(part, key, value)
    if changed:
        part.updated_at = utcnow()
    await _flush_part(session, part.ipn)
    return part


async def parts_by_id(session: AsyncSession, ids: set[int]) -> list[Part]:
    """The parts with these ids (one query); missing ids are left out."""
    return await part_repo.parts_by_id(session, ids)
