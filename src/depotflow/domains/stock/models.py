"""Stock tables: locations, statuses, lots, the movement ledger and the balances it maintains."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.clock import utcnow
from depotflow.core.orm import Base, IdFK, IdPK, UTCDateTime


class StockLocation(Base):
    """A node of the location tree (site, warehouse, room, shelf...). Codes are unique ignoring case."""

    __tablename__ = "stock_location"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("stock_location.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockStatus(Base):
    """Reference data with a stable slug; `value` orders the list (and is InvenTree's status code)."""

    __tablename__ = "stock_status"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[int] = mapped_column(Integer)
    color: Mapped[str] = mapped_column(String(20), default="secondary")
    is_requestable: Mapped[bool] = mapped_column(Boolean, default=False)
    is_transferable: Mapped[bool] = mapped_column(Boolean, default=False)


class StockLot(Base):
    """A lot: what was received or made, once. Identity fields never change after creation.

    Quantities are not stored here: they are the sums of the lot's movements (see `StockBalance`).
    A receipt undone before any other use is marked `reversed_at` and balanced by a reversal movement.
    """

    __tablename__ = "stock_lot"
    __table_args__ = (
        # Batch codes are unique per part ignoring case; the expression index also serves the lookup.
        Index("uq_stock_lot_part_id_batch_code", "part_id", text("lower(batch_code)"), unique=True),
        Index("ix_stock_lot_origin", "origin_type", "origin_id"),
    )

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    part_id: Mapped[int] = mapped_column(IdFK, ForeignKey("part.id"), index=True)
    batch_code: Mapped[str] = mapped_column(String(64))
    supplier_batch_code: Mapped[str] = mapped_column(String(64), default="")
    supplier_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("company.id"), index=True)
    manufacturing_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    retest_date: Mapped[date | None] = mapped_column(Date)
    received_quantity: Mapped[Decimal] = mapped_column()
    expected_quantity: Mapped[Decimal | None] = mapped_column(default=None)
    origin_type: Mapped[str] = mapped_column(String(40))
    origin_id: Mapped[int | None] = mapped_column(IdFK)
    origin_line_id: Mapped[int | None] = mapped_column(IdFK, index=True)
    origin_reference: Mapped[str] = mapped_column(String(64), default="")
    status_id: Mapped[int] = mapped_column(IdFK, ForeignKey("stock_status.id"), index=True)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    findings: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    received_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversed_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    reversal_reason: Mapped[str | None] = mapped_column(Text)


class StockMovement(Base):
    """One line of the append-only ledger: a signed quantity of one lot at one location.

    Database triggers refuse updates and deletes. A transfer is two movements sharing `transfer_group`.
    """

    __tablename__ = "stock_movement"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="nonzero"),
        Index("ix_stock_movement_document", "document_type", "document_id"),
    )

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    lot_id: Mapped[int] = mapped_column(IdFK, ForeignKey("stock_lot.id"), index=True)
    part_id: Mapped[int] = mapped_column(IdFK, ForeignKey("part.id"), index=True)
    location_id: Mapped[int] = mapped_column(IdFK, ForeignKey("stock_location.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[Decimal] = mapped_column()
    document_type: Mapped[str] = mapped_column(String(40), default="")
    document_id: Mapped[int | None] = mapped_column(IdFK)
    transfer_group: Mapped[str | None] = mapped_column(String(36))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockBalance(Base):
    """Quantity of a lot at a location: the sum of its movements, kept in the same transaction.

    A derived cache the consistency check recomputes; the check constraint makes a negative balance
    impossible even for a writer that skipped the service's own check.
    """

    __tablename__ = "stock_balance"
    __table_args__ = (
        UniqueConstraint("lot_id", "location_id"),
        CheckConstraint("quantity >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    lot_id: Mapped[int] = mapped_column(IdFK, ForeignKey("stock_lot.id"))
    part_id: Mapped[int] = mapped_column(IdFK, ForeignKey("part.id"), index=True)
    location_id: Mapped[int] = mapped_column(IdFK, ForeignKey("stock_location.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QcRecord(Base):
    """A quality-control record about one lot: sampling, analysis and the signed result.

    Confirmed records are final: a re-test is a new record, so the history stays as it was.
    """

    __tablename__ = "stock_qc_record"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    lot_id: Mapped[int] = mapped_column(IdFK, ForeignKey("stock_lot.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(IdFK, index=True)
    sampling_date: Mapped[date | None] = mapped_column(Date)
    sampled_quantity: Mapped[Decimal] = mapped_column(default=Decimal(0))
    sampling_movement_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("stock_movement.id"))
    analysis_number: Mapped[str] = mapped_column(String(64), default="")
    analysis_date: Mapped[date | None] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(20), default="pending")
    comment: Mapped[str] = mapped_column(Text, default="")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    flow_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("approval_flow.id"))
    created_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
