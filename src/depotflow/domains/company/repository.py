"""SQL of the company domain."""

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import Listing, SortField
from depotflow.domains.company.models import Company, SupplierPart
from depotflow.domains.company.schemas import CompanyFilter, SupplierPartFilter
from depotflow.domains.part.models import Part

COMPANY_LISTING = Listing(
    sortable={"code": Company.code, "name": Company.name, "created_at": Company.created_at},
    pk=Company.id,
    default_sort=[SortField("name")],
    searchable=(Company.code, Company.name, Company.tax_id),
)
SUPPLIER_PART_LISTING = Listing(
    sortable={"supplier_code": SupplierPart.supplier_code, "price": SupplierPart.price},
    pk=SupplierPart.id,
    default_sort=[SortField("supplier_code")],
    searchable=(SupplierPart.supplier_code, SupplierPart.description),
)


def select_companies(f: CompanyFilter) -> Select[Company]:
    stmt = select(Company)
    if f.is_supplier is not None:
        stmt = stmt.where(Company.is_supplier.is_(f.is_supplier))
    if f.is_manufacturer is not None:
        stmt = stmt.where(Company.is_manufacturer.is_(f.is_manufacturer))
    if f.is_customer is not None:
        stmt = stmt.where(Company.is_customer.is_(f.is_customer))
    if f.is_active is not None:
        stmt = stmt.where(Company.is_active.is_(f.is_active))
    return stmt


def select_supplier_parts(f: SupplierPartFilter) -> Select[SupplierPart]:
    stmt = select(SupplierPart)
    if f.supplier_id is not None:
        stmt = stmt.where(SupplierPart.supplier_id == f.supplier_id)
    if f.part_id is not None:
        stmt = stmt.where(SupplierPart.part_id == f.part_id)
    if f.is_active is not None:
        stmt = stmt.where(SupplierPart.is_active.is_(f.is_active))
    return stmt


async def find_company_by_code(session: AsyncSession, code: str) -> Company | None:
    stmt = select(Company).where(func.lower(Company.code) == code.lower())
    return (await session.execute(stmt)).scalars().first()


async def find_supplier_part_by_code(session: AsyncSession, supplier_id: int, code: str) -> SupplierPart | None:
    """The supplier part the supplier sells under `code` (ignoring case)."""
    stmt = select(SupplierPart).where(
        SupplierPart.supplier_id == supplier_id, func.lower(SupplierPart.supplier_code) == code.lower()
    )
    return (await session.execute(stmt)).scalars().first()


async def companies_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Company]:
    if not ids:
        return {}
    rows = (await session.execute(select(Company).where(Company.id.in_(ids)))).scalars().all()
    return {company.id: company for company in rows}


async def part_labels(session: AsyncSession, ids: set[int]) -> dict[int, tuple[str, str]]:
    """IPN and name of each part, by id."""
    if not ids:
        return {}
    rows = (await session.execute(select(Part.id, Part.ipn, Part.name).where(Part.id.in_(ids)))).all()
    return {row.id: (row.ipn, row.name) for row in rows}
