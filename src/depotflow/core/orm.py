"""ORM base: naming convention, integer ids, aware UTC times and exact decimals on both databases."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from depotflow.core.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; INTEGER on SQLite so the column is the rowid alias and autoincrements.
IdPK = BigInteger().with_variant(Integer(), "sqlite")
IdFK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes: timestamptz on PostgreSQL, naive-UTC text on SQLite; never local time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Quantity(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC(24, 6) on PostgreSQL, an integer of millionths on SQLite.

    SQLite's NUMERIC affinity stores REAL and loses digits; a scaled integer keeps the value exact,
    sorts and sums correctly in SQL. That integer is 64-bit, so both databases accept the same
    range: at most 6 decimal places and an absolute value of at most `MAX` (about 9.2 trillion).
    """

    impl = Numeric(24, 6)
    cache_ok = True
    SCALE = 6
    MAX = Decimal(2**63 - 1).scaleb(-6)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(24, self.SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        if abs(value) > self.MAX:
            raise ValueError(f"{value} is out of range (at most {self.MAX} in absolute value)")
        quantized = value.quantize(Decimal(1).scaleb(-self.SCALE))
        if quantized != value:
            raise ValueError(f"{value} has more than {self.SCALE} decimal places")
        if dialect.name == "sqlite":
            return int(quantized.scaleb(self.SCALE))
        return quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.SCALE).normalize() + Decimal(0)
        return Decimal(value).normalize() + Decimal(0)


class Base(DeclarativeBase):
    """Declarative base for every domain's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        Decimal: Quantity(),
        str: String(),
    }


class TimestampMixin:
    """`created_at` / `updated_at`, set by the application clock in UTC."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
