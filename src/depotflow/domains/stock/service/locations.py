"""Stock locations: a tree (site, warehouse, room, shelf...) with unique codes.

Locations are deactivated, never deleted; one that still holds stock (or has active sublocations)
cannot be deactivated. Writers take the audit chain's head first, so the checks here (code taken,
stock held) see every committed write and no concurrent writer can slip in between check and write.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.errors import FieldError
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.core.tree import Tree, path_of, would_cycle
from depotflow.domains.audit import service as audit_service
from depotflow.domains.stock import repository as stock_repo
from depotflow.domains.stock.enums import LocationType
from depotflow.domains.stock.errors import (
    LocationCodeTaken,
    LocationCycle,
    LocationInUse,
    LocationNotFound,
    UnknownReference,
)
from depotflow.domains.stock.models import StockLocation
from depotflow.domains.stock.schemas import LocationCreate, LocationFilter, LocationRead, LocationUpdate

LocationTree = Tree


async def location_tree(session: AsyncSession) -> LocationTree:
    return await stock_repo.location_parents(session)


def location_read(location: StockLocation, tree: LocationTree) -> LocationRead:
    return LocationRead(
        id=location.id,
        code=location.code,
        name=location.name,
        type=LocationType(location.type),
        parent_id=location.parent_id,
        description=location.description,
        is_active=location.is_active,
        path=path_of(tree, location.id),
        created_at=location.created_at,
        updated_at=location.updated_at,
    )


async def location_reads(session: AsyncSession, locations: Sequence[StockLocation]) -> list[LocationRead]:
    """Read models with their paths, in one query for any number of locations."""
    tree = await location_tree(session)
    return [location_read(location, tree) for location in locations]


async def locations_by_id(session: AsyncSession, ids: set[int]) -> dict[int, StockLocation]:
    """The locations with these ids, in one query."""
    return await stock_repo.locations_by_id(session, ids)


async def get_location(session: AsyncSession, location_id: int) -> StockLocation:
    """Raises: LocationNotFound."""
    location = await session.get(StockLocation, location_id)
    if location is None:
        raise LocationNotFound(f"Stock location {location_id} does not exist.", details={"location_id": location_id})
    return location


async def list_locations(
    session: AsyncSession, /, *, filters: LocationFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[StockLocation]:
    """Locations by code unless sorted otherwise; search matches code and name."""
    return await stock_repo.LOCATION_LISTING.fetch(
        session, stock_repo.select_locations(filters), page, sort=sort, search=search
    )


async def _parent(session: AsyncSession, parent_id: int | None, *, active_child: bool) -> StockLocation | None:
    if parent_id is None:
        return None
    parent = await session.get(StockLocation, parent_id)
    if parent is None:
        raise UnknownReference(
            f"Stock location {parent_id} does not exist.",
            details={"parent_id": parent_id},
            fields=[FieldError(("body", "parent_id"), "unknown", "no such location")],
        )
    if active_child and not parent.is_active:
        raise UnknownReference(
            f"Stock location {parent.code} is inactive; an active location cannot be placed under it.",
            details={"parent_id": parent_id},
            fields=[FieldError(("body", "parent_id"), "inactive", "the location is inactive")],
        )
    return parent


async def _check_code(session: AsyncSession, code: str, location_id: int | None = None) -> None:
    other = await stock_repo.find_location_by_code(session, code)
    if other is not None and other.id != location_id:
        raise LocationCodeTaken(
            f"The location code {code!r} is taken.",
            details={"code": code, "location_id": other.id},
            fields=[FieldError(("body", "code"), "taken", "another location has this code")],
        )


async def _flush(session: AsyncSession, code: str) -> None:
    # Codes differing only in case are refused by `_check_code` under the chain lock; the unique
    # constraint still guards exact duplicates from writers that skipped it, answering 409, not 500.
    try:
        await session.flush()
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        if "stock_location" not in message or "code" not in message:
            raise
        raise LocationCodeTaken(f"The location code {code!r} is taken.", details={"code": code}) from exc


async def create_location(session: AsyncSession, actor: Actor, /, *, data: LocationCreate) -> StockLocation:
    """Raises: UnknownReference (parent missing, or inactive under an active location), LocationCodeTaken."""
    await audit_service.lock_chain(session)
    await _parent(session, data.parent_id, active_child=data.is_active)
    await _check_code(session, data.code)
    now = utcnow()
    location = StockLocation(
        code=data.code,
        name=data.name,
        type=data.type.value,
        parent_id=data.parent_id,
        description=data.description,
        is_active=data.is_active,
        created_at=now,
        updated_at=now,
    )
    session.add(location)
    await _flush(session, data.code)
    return location


NULLABLE_LOCATION_FIELDS = frozenset({"parent_id"})


async def update_location(
    session: AsyncSession, actor: Actor, /, *, location_id: int, data: LocationUpdate
) -> StockLocation:
    """Rename, retype, move, deactivate or reactivate a location; fields left out stay.

    Raises: LocationNotFound, UnknownReference, LocationCycle, LocationCodeTaken, LocationInUse
    (deactivating a location that holds stock or has active sublocations).
    """
    await audit_service.lock_chain(session)
    location = await get_location(session, location_id)
    changes: dict[str, Any] = {
        key: value
        for key, value in data.model_dump(exclude_unset=True).items()
        if value is not None or key in NULLABLE_LOCATION_FIELDS
    }
    if "type" in changes:
        changes["type"] = LocationType(changes["type"]).value
    is_active = changes.get("is_active", location.is_active)
    parent_id = changes.get("parent_id", location.parent_id)
    if "parent_id" in changes or ("is_active" in changes and is_active):
        await _parent(session, parent_id, active_child=is_active)
    if "parent_id" in changes and parent_id is not None:
        await _check_no_cycle(session, location.id, parent_id)
    if "code" in changes:
        await _check_code(session, changes["code"], location.id)
    if location.is_active and not is_active:
        await _check_can_deactivate(session, location)
    changed = {key: value for key, value in changes.items() if getattr(location, key) != value}
    for key, value in changed.items():
        setattr(location, key, value)
    if changed:
        location.updated_at = utcnow()
    await _flush(session, location.code)
    return location


async def _check_no_cycle(session: AsyncSession, location_id: int, parent_id: int) -> None:
    if would_cycle(await location_tree(session), location_id, parent_id):
        raise LocationCycle(
            "A location cannot be moved under itself or one of its sublocations.",
            details={"location_id": location_id, "parent_id": parent_id},
            fields=[FieldError(("body", "parent_id"), "cycle", "is the location or one of its sublocations")],
        )


async def _check_can_deactivate(session: AsyncSession, location: StockLocation) -> None:
    if await stock_repo.location_holds_stock(session, location.id):
        raise LocationInUse(
            f"Location {location.code} still holds stock; move or use it up before deactivating the location.",
            details={"location_id": location.id, "reason": "stock"},
        )
    if await stock_repo.has_active_children(session, location.id):
        raise LocationInUse(
            f"Location {location.code} has active sublocations; deactivate them first.",
            details={"location_id": location.id, "reason": "sublocations"},
        )


async def active_location(session: AsyncSession, location_id: int, *, field: str) -> StockLocation:
    """A location a movement may use: it exists and is active. Raises: UnknownReference."""
    location = await session.get(StockLocation, location_id)
    if location is None or not location.is_active:
        problem = "no such location" if location is None else "the location is inactive"
        raise UnknownReference(
            f"Stock location {location_id} does not exist or is inactive.",
            details={field: location_id},
            fields=[FieldError(("body", field), "unknown" if location is None else "inactive", problem)],
        )
    return location
