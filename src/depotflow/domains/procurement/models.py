"""Procurement tables: order states (reference data), orders, lines and the reference counter."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.clock import utcnow
from depotflow.core.orm import Base, IdFK, IdPK, UTCDateTime


class OrderStateRow(Base):
    """The states of a purchase order, seeded by migration with stable slugs."""

    __tablename__ = "procurement_order_state"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    slug: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[int] = mapped_column(Integer)
    color: Mapped[str] = mapped_column(String(20))
    is_terminal: Mapped[bool] = mapped_column(default=False)


class ReferenceCounter(Base):
    """The last number handed out per series ("PO"): incremented under a row lock, never reused."""

    __tablename__ = "procurement_counter"

    series: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class PurchaseOrder(Base):
    __tablename__ = "procurement_order"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    supplier_id: Mapped[int] = mapped_column(IdFK, ForeignKey("company.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), ForeignKey("procurement_order_state.slug"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    supplier_reference: Mapped[str] = mapped_column(String(64), default="")
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date, index=True)
    target_date: Mapped[date | None] = mapped_column(Date)
    destination_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("stock_location.id"))
    delivery_address: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    close_reason: Mapped[str | None] = mapped_column(Text)


class PurchaseOrderLine(Base):
    """One ordered part. `received_quantity` is kept with each receipt and reversal (same transaction)."""

    __tablename__ = "procurement_order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_number"),
        CheckConstraint("quantity > 0", name="positive_quantity"),
        CheckConstraint("received_quantity >= 0", name="received_not_negative"),
    )

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    order_id: Mapped[int] = mapped_column(IdFK, ForeignKey("procurement_order.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    part_id: Mapped[int] = mapped_column(IdFK, ForeignKey("part.id"), index=True)
    supplier_part_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("company_supplier_part.id"))
    quantity: Mapped[Decimal] = mapped_column()
    received_quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    purchase_price: Mapped[Decimal | None] = mapped_column(default=None)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(64), default="")
    destination_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("stock_location.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
