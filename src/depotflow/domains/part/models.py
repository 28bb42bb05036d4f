"""Part tables: units of measure, the category tree and the parts themselves."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.clock import utcnow
from depotflow.core.orm import Base, IdFK, IdPK, UTCDateTime


class PartUnit(Base):
    """A unit of measure parts are counted in ("pcs", "kg", ...)."""

    __tablename__ = "part_unit"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class PartCategory(Base):
    """A node of the category tree; `parent_id` null for top-level categories.

    The unique constraint does not cover top-level names (NULL parents never collide in SQL); the
    service checks those. The service also refuses cycles.
    """

    __tablename__ = "part_category"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("part_category.id"), index=True)
    description: Mapped[str] = mapped_column(Text, default="")


class Part(Base):
    """A part: master data only, no stock.

    `default_location_id` names a stock location (the stock domain owns that table).
    """

    __tablename__ = "part"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    ipn: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("part_category.id"), index=True)
    unit_id: Mapped[int] = mapped_column(IdFK, ForeignKey("part_unit.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_purchaseable: Mapped[bool] = mapped_column(Boolean, default=False)
    is_salable: Mapped[bool] = mapped_column(Boolean, default=False)
    is_component: Mapped[bool] = mapped_column(Boolean, default=False)
    is_assembly: Mapped[bool] = mapped_column(Boolean, default=False)
    requires_qc_release: Mapped[bool] = mapped_column(Boolean, default=True)
    tracks_batch: Mapped[bool] = mapped_column(Boolean, default=True)
    tracks_expiry: Mapped[bool] = mapped_column(Boolean, default=True)
    default_location_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("stock_location.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
