"""Company tables: companies (with addresses and contacts) and supplier parts."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.clock import utcnow
from depotflow.core.orm import Base, IdFK, IdPK, UTCDateTime


class Company(Base):
    """A business partner. Companies are deactivated, never deleted: orders and lots point at them.

    Addresses and contacts are small lists owned by the company, validated by the schemas and audited
    with it as one value.
    """

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    is_supplier: Mapped[bool] = mapped_column(Boolean, default=False)
    is_manufacturer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    tax_id: Mapped[str] = mapped_column(String(50), default="")
    registration_number: Mapped[str] = mapped_column(String(50), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    payment_terms: Mapped[str] = mapped_column(String(200), default="")
    delivery_terms: Mapped[str] = mapped_column(String(200), default="")
    bank_account: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    website: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SupplierPart(Base):
    """A part as one supplier sells it: their code, pack size and price.

    `pack_quantity` converts the supplier's unit into the part's unit: one supplier unit is
    `pack_quantity` units of the part (a 25 kg sack of a part counted in kg has 25).
    """

    __tablename__ = "company_supplier_part"
    __table_args__ = (UniqueConstraint("supplier_id", "supplier_code"),)

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(IdFK, ForeignKey("company.id"), index=True)
    part_id: Mapped[int] = mapped_column(IdFK, ForeignKey("part.id"), index=True)
    supplier_code: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    supplier_unit: Mapped[str] = mapped_column(String(20), default="")
    pack_quantity: Mapped[Decimal] = mapped_column(default=Decimal(1))
    price: Mapped[Decimal | None] = mapped_column(default=None)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    lead_time_days: Mapped[int | None] = mapped_column(default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
