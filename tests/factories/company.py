"""Builders for company data: companies, suppliers, supplier parts (and the minimal parts they need).

Rows are inserted through the ORM inside a unit of work, so they are audited like any other change;
each builder returns the new row's id.
"""

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.domains.company.models import Company, SupplierPart
from depotflow.domains.part.models import Part, PartUnit


def _context() -> ChangeContext:
    return ChangeContext(actor=Actor.system("test"), reason="test setup")


async def make_company(
    database: Database,
    *,
    code: str,
    name: str | None = None,
    is_supplier: bool = False,
    is_manufacturer: bool = False,
    is_customer: bool = False,
    is_active: bool = True,
    currency: str = "EUR",
    **fields: Any,
) -> int:
    """A company; `fields` sets any other column (tax_id, addresses, ...)."""
    async with database.unit_of_work(_context()) as session:
        company = Company(
            code=code,
            name=name or f"Company {code}",
            is_supplier=is_supplier,
            is_manufacturer=is_manufacturer,
            is_customer=is_customer,
            is_active=is_active,
            currency=currency,
            **fields,
        )
        session.add(company)
        await session.flush()
        return company.id


async def make_supplier(
    database: Database,
    *,
    code: str,
    name: str | None = None,
    is_active: bool = True,
    currency: str = "EUR",
    **fields: Any,
) -> int:
    """A company flagged as a supplier (active unless told otherwise)."""
    return await make_company(
        database, code=code, name=name, is_supplier=True, is_active=is_active, currency=currency, **fields
    )


async def make_part(database: Database, *, ipn: str, name: str | None = None, unit: str = "pcs", **fields: Any) -> int:
    """A minimal part counted in the seeded `unit`, for supplier parts and stock to point at."""
    async with database.unit_of_work(_context()) as session:
        unit_id = (
            await session.execute(select(PartUnit.id).where(func.lower(PartUnit.code) == unit.lower()))
        ).scalar_one()
        part = Part(ipn=ipn, name=name or f"Part {ipn}", unit_id=unit_id, **fields)
        session.add(part)
        await session.flush()
        return part.id


async def make_supplier_part(
    database: Database,
    *,
    supplier_id: int,
    part_id: int,
    supplier_code: str,
    pack_quantity: Decimal = Decimal(1),
    price: Decimal | None = None,
    currency: str = "EUR",
    is_active: bool = True,
    **fields: Any,
) -> int:
    """A supplier part; no checks (the supplier need not be an active supplier)."""
    async with database.unit_of_work(_context()) as session:
        supplier_part = SupplierPart(
            supplier_id=supplier_id,
            part_id=part_id,
            supplier_code=supplier_code,
            pack_quantity=pack_quantity,
            price=price,
            currency=currency,
            is_active=is_active,
            **fields,
        )
        session.add(supplier_part)
        await session.flush()
        return supplier_part.id
