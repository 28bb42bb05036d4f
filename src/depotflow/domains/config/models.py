"""Config table: one row per known key, the value as JSON."""

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.orm import Base, IdPK, TimestampMixin


class ConfigEntry(TimestampMixin, Base):
    __tablename__ = "config_entry"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    value: Mapped[object] = mapped_column(JSON, nullable=True)
