"""Native routes of part master data: units, categories and parts.

Mounted under `/modules/inventory/api` by `api.native`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from depotflow.core.security import Actor
from depotflow.domains.part import permissions
from depotflow.domains.part import service as part_service
from depotflow.domains.part.schemas import (
    MAX_ID,
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
from depotflow.web.deps import ListEnvelope, ListParamsDep, SessionDep, envelope, require

Viewer = Annotated[Actor, Depends(require(permissions.VIEW))]
Adder = Annotated[Actor, Depends(require(permissions.ADD))]
Changer = Annotated[Actor, Depends(require(permissions.CHANGE))]
PathId = Annotated[int, Path(gt=0, le=MAX_ID)]

router = APIRouter(tags=["parts"])


# --- units -------------------------------------------------------------------------------------


@router.get("/units", response_model=ListEnvelope[UnitRead])
async def list_units(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[UnitFilter, Query()]
) -> ListEnvelope[UnitRead]:
    """Units of measure. Filter: is_active; search: code, name. Sortable: code, name (default code)."""
    page = await part_service.list_units(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [part_service.unit_read(unit) for unit in page.items])


@router.post("/units", response_model=UnitRead, status_code=status.HTTP_201_CREATED)
async def create_unit(body: UnitCreate, actor: Adder, session: SessionDep) -> UnitRead:
    """Create a unit of measure (codes are unique ignoring case)."""
    return part_service.unit_read(await part_service.create_unit(session, actor, data=body))


@router.get("/units/{unit_id}", response_model=UnitRead)
async def get_unit(unit_id: PathId, actor: Viewer, session: SessionDep) -> UnitRead:
    """One unit of measure."""
    return part_service.unit_read(await part_service.get_unit(session, unit_id))


@router.put("/units/{unit_id}", response_model=UnitRead)
async def update_unit(unit_id: PathId, body: UnitUpdate, actor: Changer, session: SessionDep) -> UnitRead:
    """Change a unit of measure; fields left out stay. Units are deactivated, never deleted."""
    return part_service.unit_read(await part_service.update_unit(session, actor, unit_id=unit_id, data=body))


# --- categories --------------------------------------------------------------------------------


@router.get("/categories", response_model=ListEnvelope[CategoryRead])
async def list_categories(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[CategoryFilter, Query()]
) -> ListEnvelope[CategoryRead]:
    """Part categories with their full `path`. Filter: parent_id; search: name, description.
    Sortable: name (default)."""
    page = await part_service.list_categories(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    tree = await part_service.category_tree(session)
    return envelope(page, [part_service.category_read(category, tree) for category in page.items])


@router.post("/categories", response_model=CategoryRead, status_code=status.HTTP_201_CREATED)
async def create_category(body: CategoryCreate, actor: Adder, session: SessionDep) -> CategoryRead:
    """Create a category, at the top level or under `parent_id`; names are unique among siblings."""
    category = await part_service.create_category(session, actor, data=body)
    return part_service.category_read(category, await part_service.category_tree(session))


@router.get("/categories/{category_id}", response_model=CategoryRead)
async def get_category(category_id: PathId, actor: Viewer, session: SessionDep) -> CategoryRead:
    """One category with its path."""
    category = await part_service.get_category(session, category_id)
    return part_service.category_read(category, await part_service.category_tree(session))


@router.put("/categories/{category_id}", response_model=CategoryRead)
async def update_category(
    category_id: PathId, body: CategoryUpdate, actor: Changer, session: SessionDep
) -> CategoryRead:
    """Rename or move a category (`parent_id: null` moves it to the top); cycles are refused (422)."""
    category = await part_service.update_category(session, actor, category_id=category_id, data=body)
    return part_service.category_read(category, await part_service.category_tree(session))


@router.delete("/categories/{category_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_category(category_id: PathId, actor: Changer, session: SessionDep) -> Response:
    """Delete an empty category; one with subcategories or parts answers 409 `part.category_in_use`."""
    await part_service.delete_category(session, actor, category_id=category_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- parts -------------------------------------------------------------------------------------


@router.get("/parts", response_model=ListEnvelope[PartRead])
async def list_parts(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[PartFilter, Query()]
) -> ListEnvelope[PartRead]:
    """Parts. Filters: category_id, unit_id, is_active, is_purchaseable; search: ipn, name, description.
    Sortable: ipn (default), name, created_at."""
    page = await part_service.list_parts(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await part_service.part_reads(session, list(page.items)))


@router.post("/parts", response_model=PartRead, status_code=status.HTTP_201_CREATED)
async def create_part(body: PartCreate, actor: Adder, session: SessionDep) -> PartRead:
    """Create a part; the IPN is unique ignoring case (409 `part.ipn_taken`)."""
    part = await part_service.create_part(session, actor, data=body)
    return (await part_service.part_reads(session, [part]))[0]


@router.get("/parts/{part_id}", response_model=PartRead)
async def get_part(part_id: PathId, actor: Viewer, session: SessionDep) -> PartRead:
    """One part."""
    part = await part_service.get_part(session, part_id)
    return (await part_service.part_reads(session, [part]))[0]


@router.put("/parts/{part_id}", response_model=PartRead)
async def update_part(part_id: PathId, body: PartUpdate, actor: Changer, session: SessionDep) -> PartRead:
    """Change a part; fields left out stay. Parts are never deleted: set `is_active` to false."""
    part = await part_service.update_part(session, actor, part_id=part_id, data=body)
    return (await part_service.part_reads(session, [part]))[0]
