"""Native routes of the company domain: companies and supplier parts.

Mounted under `/modules/inventory/api` by `api.native`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from depotflow.core.security import Actor
from depotflow.domains.company import permissions
from depotflow.domains.company import service as company_service
from depotflow.domains.company.schemas import (
    MAX_ID,
    CompanyCreate,
    CompanyFilter,
    CompanyRead,
    CompanySupplierPartFilter,
    CompanyUpdate,
    SupplierPartCreate,
    SupplierPartFilter,
    SupplierPartRead,
    SupplierPartUpdate,
)
from depotflow.web.deps import ListEnvelope, ListParamsDep, SessionDep, envelope, require

Viewer = Annotated[Actor, Depends(require(permissions.VIEW))]
Adder = Annotated[Actor, Depends(require(permissions.ADD))]
Changer = Annotated[Actor, Depends(require(permissions.CHANGE))]
PathId = Annotated[int, Path(gt=0, le=MAX_ID)]

router = APIRouter(tags=["company"])


# --- companies ---------------------------------------------------------------------------------


@router.get("/companies", response_model=ListEnvelope[CompanyRead])
async def list_companies(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[CompanyFilter, Query()]
) -> ListEnvelope[CompanyRead]:
    """Companies. Filters: is_supplier, is_manufacturer, is_customer, is_active; search: code, name, tax_id.
    Sortable: code, name (default), created_at."""
    page = await company_service.list_companies(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [company_service.company_read(company) for company in page.items])


@router.post("/companies", response_model=CompanyRead, status_code=status.HTTP_201_CREATED)
async def create_company(body: CompanyCreate, actor: Adder, session: SessionDep) -> CompanyRead:
    """Create a company; the code is unique ignoring case (409 `company.code_taken`)."""
    return company_service.company_read(await company_service.create_company(session, actor, data=body))


@router.get("/companies/{company_id}", response_model=CompanyRead)
async def get_company(company_id: PathId, actor: Viewer, session: SessionDep) -> CompanyRead:
    """One company with its addresses and contacts."""
    return company_service.company_read(await company_service.get_company(session, company_id))


@router.put("/companies/{company_id}", response_model=CompanyRead)
async def update_company(company_id: PathId, body: CompanyUpdate, actor: Changer, session: SessionDep) -> CompanyRead:
    """Change a company; fields left out stay, `addresses` and `contacts` replace the whole list.
    Companies are never deleted: set `is_active` to false."""
    company = await company_service.update_company(session, actor, company_id=company_id, data=body)
    return company_service.company_read(company)


@router.get("/companies/{company_id}/supplier-parts", response_model=ListEnvelope[SupplierPartRead])
async def list_company_supplier_parts(
    company_id: PathId,
    actor: Viewer,
    session: SessionDep,
    params: ListParamsDep,
    filters: Annotated[CompanySupplierPartFilter, Query()],
) -> ListEnvelope[SupplierPartRead]:
    """The supplier parts one company sells (404 `company.not_found` for an unknown company).
    Filters: part_id, is_active; search: supplier_code, description. Sortable: supplier_code (default), price."""
    await company_service.get_company(session, company_id)
    page = await company_service.list_supplier_parts(
        session,
        filters=SupplierPartFilter(supplier_id=company_id, **filters.model_dump()),
        page=params.page,
        sort=params.sort,
        search=params.search,
    )
    return envelope(page, await company_service.supplier_part_reads(session, list(page.items)))


# --- supplier parts ----------------------------------------------------------------------------


@router.get("/supplier-parts", response_model=ListEnvelope[SupplierPartRead])
async def list_supplier_parts(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[SupplierPartFilter, Query()]
) -> ListEnvelope[SupplierPartRead]:
    """Supplier parts. Filters: supplier_id, part_id, is_active; search: supplier_code, description.
    Sortable: supplier_code (default), price."""
    page = await company_service.list_supplier_parts(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await company_service.supplier_part_reads(session, list(page.items)))


@router.post("/supplier-parts", response_model=SupplierPartRead, status_code=status.HTTP_201_CREATED)
async def create_supplier_part(body: SupplierPartCreate, actor: Adder, session: SessionDep) -> SupplierPartRead:
    """Record a part as a supplier sells it. The supplier must be an active supplier (422
    `company.not_a_supplier`); its code is unique per supplier ignoring case (409
    `company.supplier_code_taken`); `currency` defaults to the supplier's."""
    supplier_part = await company_service.create_supplier_part(session, actor, data=body)
    return (await company_service.supplier_part_reads(session, [supplier_part]))[0]


@router.get("/supplier-parts/{supplier_part_id}", response_model=SupplierPartRead)
async def get_supplier_part(supplier_part_id: PathId, actor: Viewer, session: SessionDep) -> SupplierPartRead:
    """One supplier part."""
    supplier_part = await company_service.get_supplier_part(session, supplier_part_id)
    return (await company_service.supplier_part_reads(session, [supplier_part]))[0]


@router.put("/supplier-parts/{supplier_part_id}", response_model=SupplierPartRead)
async def update_supplier_part(
    supplier_part_id: PathId, body: SupplierPartUpdate, actor: Changer, session: SessionDep
) -> SupplierPartRead:
    """Change a supplier part; fields left out stay. The supplier and part never change; supplier parts
    are never deleted: set `is_active` to false."""
    supplier_part = await company_service.update_supplier_part(
        session, actor, supplier_part_id=supplier_part_id, data=body
    )
    return (await company_service.supplier_part_reads(session, [supplier_part]))[0]
