"""Native routes of the stock domain: locations, statuses, lots, the movement ledger and a lot's QC.

Mounted under `/modules/inventory/api` by `api.native`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from depotflow.core.listing import Page
from depotflow.core.security import Actor
from depotflow.domains.stock import permissions
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.schemas import (
    MAX_ID,
    LocationCreate,
    LocationFilter,
    LocationRead,
    LocationUpdate,
    LotFilter,
    LotQcRecordCreate,
    LotRead,
    ManualMovement,
    MovementFilter,
    MovementRead,
    MovementsPosted,
    QcRecordRead,
    StatusRead,
)
from depotflow.web.deps import ListEnvelope, ListParamsDep, SessionDep, envelope, require

Viewer = Annotated[Actor, Depends(require(permissions.VIEW))]
LocationManager = Annotated[Actor, Depends(require(permissions.MANAGE_LOCATIONS))]
Adjuster = Annotated[Actor, Depends(require(permissions.ADJUST))]
QcRecorder = Annotated[Actor, Depends(require(permissions.QC_RECORD))]
PathId = Annotated[int, Path(gt=0, le=MAX_ID)]

router = APIRouter(tags=["stock"])


# --- locations ---------------------------------------------------------------------------------


@router.get("/locations", response_model=ListEnvelope[LocationRead])
async def list_locations(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[LocationFilter, Query()]
) -> ListEnvelope[LocationRead]:
    """Stock locations with their full `path`. Filters: parent_id, type, is_active; search: code, name.
    Sortable: code (default), name."""
    page = await stock_service.list_locations(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await stock_service.location_reads(session, page.items))


@router.post("/locations", response_model=LocationRead, status_code=status.HTTP_201_CREATED)
async def create_location(body: LocationCreate, actor: LocationManager, session: SessionDep) -> LocationRead:
    """Create a location, at the top or under `parent_id`; codes are unique ignoring case (409)."""
    location = await stock_service.create_location(session, actor, data=body)
    return (await stock_service.location_reads(session, [location]))[0]


@router.get("/locations/{location_id}", response_model=LocationRead)
async def get_location(location_id: PathId, actor: Viewer, session: SessionDep) -> LocationRead:
    """One location with its path."""
    location = await stock_service.get_location(session, location_id)
    return (await stock_service.location_reads(session, [location]))[0]


@router.put("/locations/{location_id}", response_model=LocationRead)
async def update_location(
    location_id: PathId, body: LocationUpdate, actor: LocationManager, session: SessionDep
) -> LocationRead:
    """Change a location; fields left out stay, `parent_id: null` moves it to the top. Cycles are refused
    (422); locations are deactivated, never deleted, and not while they hold stock (409)."""
    location = await stock_service.update_location(session, actor, location_id=location_id, data=body)
    return (await stock_service.location_reads(session, [location]))[0]


# --- statuses ----------------------------------------------------------------------------------


@router.get("/stock-statuses", response_model=ListEnvelope[StatusRead])
async def list_statuses(actor: Viewer, session: SessionDep) -> ListEnvelope[StatusRead]:
    """Every stock status (stable `slug`, flags `is_requestable`, `is_transferable`), ordered by value."""
    statuses = await stock_service.list_statuses(session)
    page = Page(items=statuses, total=len(statuses), offset=0, limit=None)
    return envelope(page, [stock_service.status_read(s) for s in statuses])


# --- lots and the ledger -----------------------------------------------------------------------


@router.get("/stock-lots", response_model=ListEnvelope[LotRead])
async def list_lots(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[LotFilter, Query()]
) -> ListEnvelope[LotRead]:
    """Lots with their part, status, total and balances per location. Filters: part_id, status (slug),
    location_id (lots held there), origin_type, origin_id, in_stock, include_reversed (default false);
    search: batch_code, supplier_batch_code. Sortable: created_at (default, newest first), batch_code,
    expiry_date."""
    page = await stock_service.list_lots(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await stock_service.lot_reads(session, page.items))


@router.get("/stock-lots/{lot_id}", response_model=LotRead)
async def get_lot(lot_id: PathId, actor: Viewer, session: SessionDep) -> LotRead:
    """One lot (reversed lots too)."""
    lot = await stock_service.get_lot(session, lot_id)
    return (await stock_service.lot_reads(session, [lot]))[0]


@router.get("/stock-lots/{lot_id}/movements", response_model=ListEnvelope[MovementRead])
async def list_lot_movements(
    lot_id: PathId, actor: Viewer, session: SessionDep, params: ListParamsDep
) -> ListEnvelope[MovementRead]:
    """The lot's ledger lines, newest first. Sortable: created_at; search: notes, document_type."""
    lot = await stock_service.get_lot(session, lot_id)
    page = await stock_service.list_movements(
        session, filters=MovementFilter(lot_id=lot.id), page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [stock_service.movement_read(m) for m in page.items])


@router.get("/stock-movements", response_model=ListEnvelope[MovementRead])
async def list_movements(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[MovementFilter, Query()]
) -> ListEnvelope[MovementRead]:
    """The movement ledger, newest first. Filters: lot_id, part_id, location_id, kind; search: notes,
    document_type. Sortable: created_at (default descending, then id)."""
    page = await stock_service.list_movements(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [stock_service.movement_read(m) for m in page.items])


@router.post("/stock-movements", response_model=MovementsPosted, status_code=status.HTTP_201_CREATED)
async def post_movement(body: ManualMovement, actor: Adjuster, session: SessionDep) -> MovementsPosted:
    """Post a movement by hand: `adjustment` (either sign), `scrap` (a quantity above zero, taken out) or
    `transfer_out` (a transfer to `to_location_id`: both halves are created, sharing a transfer group).
    Nothing is written when any part is refused."""
    movements = await stock_service.post_manual_movement(session, actor, data=body)
    return MovementsPosted(items=[stock_service.movement_read(m) for m in movements])


# --- quality control of a lot ------------------------------------------------------------------


@router.get("/stock-lots/{lot_id}/qc-records", response_model=ListEnvelope[QcRecordRead])
async def list_lot_qc_records(
    lot_id: PathId, actor: Viewer, session: SessionDep, params: ListParamsDep
) -> ListEnvelope[QcRecordRead]:
    """The lot's QC records, newest first. Sortable: created_at; search: analysis_number, comment."""
    page = await stock_service.list_lot_qc_records(
        session, lot_id=lot_id, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await stock_service.qc_reads(session, page.items))


@router.post("/stock-lots/{lot_id}/qc-records", response_model=QcRecordRead, status_code=status.HTTP_201_CREATED)
async def create_lot_qc_record(
    lot_id: PathId, body: LotQcRecordCreate, actor: QcRecorder, session: SessionDep
) -> QcRecordRead:
    """Record QC sampling and a first result on the lot; a sampled quantity leaves the lot as a sampling
    movement (409 `stock.insufficient` when the lot holds less). `lot_id` in the body may be left out."""
    record = await stock_service.create_lot_qc_record(session, actor, lot_id=lot_id, data=body)
    return (await stock_service.qc_reads(session, [record]))[0]
