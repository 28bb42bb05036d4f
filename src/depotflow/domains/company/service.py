"""Company use cases: companies (suppliers, manufacturers, customers) and supplier parts; the public surface.

Every change is audited by the session hook (before/after values). Nothing here is deleted:
companies and supplier parts are deactivated (`is_active: false`), since orders and lots point at them.

Other domains use `get_company`, `get_active_supplier` and `company_refs`.
"""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.errors import FieldError
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.domains.company import repository as company_repo
from depotflow.domains.company.errors import (
    CompanyCodeTaken,
    CompanyNotFound,
    NotASupplier,
    SupplierCodeTaken,
    SupplierPartNotFound,
    UnknownReference,
)
from depotflow.domains.company.models import Company, SupplierPart
from depotflow.domains.company.schemas import (
    AddressRead,
    CompanyCreate,
    CompanyFilter,
    CompanyRead,
    CompanyUpdate,
    ContactRead,
    SupplierPartCreate,
    SupplierPartFilter,
    SupplierPartRead,
    SupplierPartUpdate,
)
from depotflow.domains.part import service as part_service
from depotflow.domains.part.errors import PartNotFound

# --- companies ---------------------------------------------------------------------------------


def company_read(company: Company) -> CompanyRead:
    return CompanyRead(
        id=company.id,
        code=company.code,
        name=company.name,
        is_supplier=company.is_supplier,
        is_manufacturer=company.is_manufacturer,
        is_customer=company.is_customer,
        is_active=company.is_active,
        tax_id=company.tax_id,
        registration_number=company.registration_number,
        currency=company.currency,
        payment_terms=company.payment_terms,
        delivery_terms=company.delivery_terms,
        bank_account=company.bank_account,
        email=company.email,
        phone=company.phone,
        website=company.website,
        notes=company.notes,
        addresses=[AddressRead.model_validate(a) for a in company.addresses or []],
        contacts=[ContactRead.model_validate(c) for c in company.contacts or []],
        created_at=company.created_at,
        updated_at=company.updated_at,
    )


async def get_company(session: AsyncSession, company_id: int) -> Company:
    """Raises: CompanyNotFound."""
    company = await session.get(Company, company_id)
    if company is None:
        raise CompanyNotFound(f"Company {company_id} does not exist.", details={"company_id": company_id})
    return company


async def get_active_supplier(session: AsyncSession, company_id: int) -> Company:
    """The company, which must be flagged as a supplier and active.

    Raises: CompanyNotFound, NotASupplier.
    """
    company = await get_company(session, company_id)
    if not (company.is_supplier and company.is_active):
        problem = "is not a supplier" if not company.is_supplier else "is inactive"
        raise NotASupplier(
            f"Company {company.code!r} {problem}.",
            details={"company_id": company.id, "is_supplier": company.is_supplier, "is_active": company.is_active},
        )
    return company


async def company_refs(session: AsyncSession, ids: set[int]) -> dict[int, Company]:
    """The companies of `ids` that exist, by id, in one query (none for an empty set)."""
    return await company_repo.companies_by_id(session, ids)


async def list_companies(
    session: AsyncSession, /, *, filters: CompanyFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[Company]:
    """Companies by name unless sorted otherwise; search matches code, name and tax id.

    Raises: InvalidSort.
    """
    stmt = company_repo.select_companies(filters)
    return await company_repo.COMPANY_LISTING.fetch(session, stmt, page, sort=sort, search=search)


async def _check_company_code(session: AsyncSession, code: str, company_id: int | None = None) -> None:
    other = await company_repo.find_company_by_code(session, code)
    if other is not None and other.id != company_id:
        raise CompanyCodeTaken(f"The company code {code!r} is taken.", details={"code": code, "company_id": other.id})


async def _flush_company(session: AsyncSession, code: str) -> None:
    # The check above cannot see a concurrent insert that has not committed (PostgreSQL); the unique
    # constraint then refuses the second one, which must still answer 409, not 500.
    try:
        await session.flush()
    except IntegrityError as exc:
        message = str(exc.orig).lower()
        if "uq_company_code" not in message and "company.code" not in message:
            raise
        raise CompanyCodeTaken(f"The company code {code!r} is taken.", details={"code": code}) from exc


async def create_company(session: AsyncSession, actor: Actor, /, *, data: CompanyCreate) -> Company:
    """Raises: CompanyCodeTaken (codes are unique ignoring case)."""
    await _check_company_code(session, data.code)
    company = Company(**data.model_dump())
    session.add(company)
    await _flush_company(session, data.code)
    return company


async def update_company(session: AsyncSession, actor: Actor, /, *, company_id: int, data: CompanyUpdate) -> Company:
    """Change a company; fields left out stay, `addresses` and `contacts` are replaced as a whole.

    Raises: CompanyNotFound, CompanyCodeTaken.
    """
    company = await get_company(session, company_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "code" in changes:
        await _check_company_code(session, changes["code"], company.id)
    changed = {key: value for key, value in changes.items() if getattr(company, key) != value}
    for key, value in changed.items():
        # Lists are assigned as new values, never mutated in place, so the change is seen and audited.
        setattr(company, key, value)
    if changed:
        company.updated_at = utcnow()
    await _flush_company(session, company.code)
    return company


# --- supplier parts ----------------------------------------------------------------------------


async def supplier_part_reads(session: AsyncSession, items: list[SupplierPart]) -> list[SupplierPartRead]:
    """Read models with the supplier's code and name and the part's IPN and name, in two queries for
    any number of supplier parts."""
    suppliers = await company_refs(session, {sp.supplier_id for sp in items})
    parts = await company_repo.part_labels(session, {sp.part_id for sp in items})
    reads = []
    for sp in items:
        supplier = suppliers.get(sp.supplier_id)
        ipn, part_name = parts.get(sp.part_id, ("", ""))
        reads.append(
            SupplierPartRead(
                id=sp.id,
                supplier_id=sp.supplier_id,
                supplier_company_code=supplier.code if supplier is not None else "",
                supplier_name=supplier.name if supplier is not None else "",
                part_id=sp.part_id,
                part_ipn=ipn,
                part_name=part_name,
                supplier_code=sp.supplier_code,
                description=sp.description,
                supplier_unit=sp.supplier_unit,
                pack_quantity=sp.pack_quantity,
                price=sp.price,
                currency=sp.currency,
                lead_time_days=sp.lead_time_days,
                is_active=sp.is_active,
                notes=sp.notes,
                created_at=sp.created_at,
                updated_at=sp.updated_at,
            )
        )
    return reads


async def get_supplier_part(session: AsyncSession, supplier_part_id: int) -> SupplierPart:
    """Raises: SupplierPartNotFound."""
    supplier_part = await session.get(SupplierPart, supplier_part_id)
    if supplier_part is None:
        raise SupplierPartNotFound(
            f"Supplier part {supplier_part_id} does not exist.", details={"supplier_part_id": supplier_part_id}
        )
    return supplier_part


async def list_supplier_parts(
    session: AsyncSession, /, *, filters: SupplierPartFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[SupplierPart]:
    """Supplier parts by supplier code unless sorted otherwise; search matches supplier code and description.

    Raises: InvalidSort.
    """
    stmt = company_repo.select_supplier_parts(filters)
    return await company_repo.SUPPLIER_PART_LISTING.fetch(session, stmt, page, sort=sort, search=search)


async def _supplier_for_new_part(session: AsyncSession, supplier_id: int) -> Company:
    try:
        return await get_active_supplier(session, supplier_id)
    except CompanyNotFound as exc:
        raise UnknownReference(
            f"Company {supplier_id} does not exist.",
            fields=[FieldError(("body", "supplier_id"), "unknown", "no such company")],
        ) from exc
    except NotASupplier as exc:
        raise NotASupplier(
            exc.message,
            details=exc.details,
            fields=[FieldError(("body", "supplier_id"), "not_a_supplier", "is not an active supplier")],
        ) from exc


async def _check_part(session: AsyncSession, part_id: int) -> None:
    try:
        await part_service.get_part(session, part_id)
    except PartNotFound as exc:
        raise UnknownReference(
            f"Part {part_id} does not exist.", fields=[FieldError(("body", "part_id"), "unknown", "no such part")]
        ) from exc


async def _check_supplier_code(
    session: AsyncSession, supplier_id: int, code: str, supplier_part_id: int | None = None
) -> None:
    other = await company_repo.find_supplier_part_by_code(session, supplier_id, code)
    if other is not None and other.id != supplier_part_id:
        raise SupplierCodeTaken(
            f"The supplier already sells a part under the code {code!r}.",
            details={"supplier_id": supplier_id, "supplier_code": code, "supplier_part_id": other.id},
        )


async def _flush_supplier_part(session: AsyncSession, supplier_id: int, code: str) -> None:
    # As for company codes: a concurrent insert of the same code is refused by the unique constraint.
    try:
        await session.flush()
    except IntegrityError as exc:
        if "supplier_code" not in str(exc.orig).lower():
            raise
        raise SupplierCodeTaken(
            f"The supplier already sells a part under the code {code!r}.",
            details={"supplier_id": supplier_id, "supplier_code": code},
        ) from exc


async def create_supplier_part(session: AsyncSession, actor: Actor, /, *, data: SupplierPartCreate) -> SupplierPart:
    """Record a part as a supplier sells it; `currency` defaults to the supplier's.

    Raises: UnknownReference (supplier, part), NotASupplier (not a supplier, or inactive),
    SupplierCodeTaken (unique per supplier ignoring case).
    """
    supplier = await _supplier_for_new_part(session, data.supplier_id)
    await _check_part(session, data.part_id)
    await _check_supplier_code(session, supplier.id, data.supplier_code)
    values: dict[str, Any] = data.model_dump()
    if values["currency"] is None:
        values["currency"] = supplier.currency
    supplier_part = SupplierPart(**values)
    session.add(supplier_part)
    await _flush_supplier_part(session, supplier.id, data.supplier_code)
    return supplier_part


NULLABLE_SUPPLIER_PART_FIELDS = frozenset({"price", "lead_time_days"})


async def update_supplier_part(
    session: AsyncSession, actor: Actor, /, *, supplier_part_id: int, data: SupplierPartUpdate
) -> SupplierPart:
    """Change a supplier part; fields left out stay, `price` and `lead_time_days` accept null.

    Raises: SupplierPartNotFound, SupplierCodeTaken.
    """
    supplier_part = await get_supplier_part(session, supplier_part_id)
    changes: dict[str, Any] = {
        key: value
        for key, value in data.model_dump(exclude_unset=True).items()
        if value is not None or key in NULLABLE_SUPPLIER_PART_FIELDS
    }
    if "supplier_code" in changes:
        await _check_supplier_code(session, supplier_part.supplier_id, changes["supplier_code"], supplier_part.id)
    changed = {key: value for key, value in changes.items() if getattr(supplier_part, key) != value}
    for key, value in changed.items():
        setattr(supplier_part, key, value)
    if changed:
        supplier_part.updated_at = utcnow()
    await _flush_supplier_part(session, supplier_part.supplier_id, supplier_part.supplier_code)
    return supplier_part
