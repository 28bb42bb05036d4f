"""Quantity keeps exact decimals and UTCDateTime keeps aware UTC times on both databases."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.exc import StatementError

from depotflow.core.db import Database
from depotflow.core.orm import Quantity, UTCDateTime

pytestmark = pytest.mark.anyio

metadata = MetaData()
sample = Table(
    "test_orm_types_sample",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("qty", Quantity()),
    Column("at", UTCDateTime()),
)


@pytest.fixture
async def table(database: Database) -> Table:
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return sample


async def _store(database: Database, **values: object) -> int:
    async with database.engine.begin() as conn:
        result = await conn.execute(insert(sample).values(**values).returning(sample.c.id))
        return int(result.scalar_one())


async def _load(database: Database, row_id: int) -> tuple[Decimal | None, datetime | None]:
    async with database.engine.connect() as conn:
        qty, at = (await conn.execute(select(sample.c.qty, sample.c.at).where(sample.c.id == row_id))).one()
    return qty, at


async def _rows(database: Database) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(sample))).scalar_one())


@pytest.mark.parametrize(
    "value",
    [
        "0.000001",
        "123456789.123456",
        "-0.5",
        "0",
        "1.5",
        "100",
        "9223372036854.775807",
        "-9223372036854.775807",
    ],
)
async def test_quantities_round_trip_exactly(database: Database, table: Table, value: str) -> None:
    row_id = await _store(database, qty=Decimal(value))

    qty, _ = await _load(database, row_id)

    assert isinstance(qty, Decimal)
    assert qty == Decimal(value)
    assert str(qty) == str(Decimal(value).normalize() + Decimal(0))


async def test_trailing_zeros_are_dropped_but_the_value_is_kept(database: Database, table: Table) -> None:
    row_id = await _store(database, qty=Decimal("2.500000"))

    qty, _ = await _load(database, row_id)

    assert str(qty) == "2.5"


async def test_integers_are_accepted_as_quantities(database: Database, table: Table) -> None:
    row_id = await _store(database, qty=42)

    qty, _ = await _load(database, row_id)

    assert (qty, str(qty)) == (Decimal(42), "42")


async def test_quantities_sum_exactly_in_sql(database: Database, table: Table) -> None:
    for value in ("0.1", "0.2", "0.000003"):
        await _store(database, qty=Decimal(value))

    async with database.engine.connect() as conn:
        total = (await conn.execute(select(func.sum(sample.c.qty)))).scalar_one()

    assert total == Decimal("0.300003")


async def test_quantities_sort_numerically(database: Database, table: Table) -> None:
    for value in ("10", "9.5", "-1", "0.000001", "100"):
        await _store(database, qty=Decimal(value))

    async with database.engine.connect() as conn:
        ordered = list((await conn.execute(select(sample.c.qty).order_by(sample.c.qty))).scalars())

    assert ordered == [Decimal("-1"), Decimal("0.000001"), Decimal("9.5"), Decimal("10"), Decimal("100")]


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.0000001"),
        Decimal("1.1234567"),
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("9223372036854.775808"),
        Decimal("-9223372036855"),
        Decimal("1000000000000000000"),
        Decimal("1E+30"),
        0.1,
    ],
)
async def test_unrepresentable_quantities_are_refused(database: Database, table: Table, value: object) -> None:
    with pytest.raises(StatementError) as caught:
        await _store(database, qty=value)

    assert isinstance(caught.value.orig, ValueError)
    assert await _rows(database) == 0


async def test_null_quantities_and_times_stay_null(database: Database, table: Table) -> None:
    row_id = await _store(database, qty=None, at=None)

    assert await _load(database, row_id) == (None, None)


async def test_times_come_back_as_aware_utc(database: Database, table: Table) -> None:
    moment = datetime(2026, 3, 29, 0, 30, 15, 123456, tzinfo=UTC)
    row_id = await _store(database, at=moment)

    _, at = await _load(database, row_id)

    assert at == moment
    assert at is not None
    assert at.tzinfo is UTC
    assert at.microsecond == 123456


async def test_times_in_other_zones_are_stored_as_the_same_instant_in_utc(database: Database, table: Table) -> None:
    bucharest_summer = timezone(timedelta(hours=3))
    moment = datetime(2026, 7, 1, 2, 0, tzinfo=bucharest_summer)
    row_id = await _store(database, at=moment)

    _, at = await _load(database, row_id)

    assert at == moment
    assert at is not None
    assert at.tzinfo is UTC
    assert (at.day, at.hour) == (30, 23)


async def test_time_comparisons_in_sql_use_the_instant(database: Database, table: Table) -> None:
    base = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    for minutes in (0, 30, 60):
        await _store(database, at=base + timedelta(minutes=minutes))
    cutoff = datetime(2026, 1, 1, 14, 15, tzinfo=timezone(timedelta(hours=2)))  # 12:15 UTC

    async with database.engine.connect() as conn:
        later = list(
            (await conn.execute(select(sample.c.at).where(sample.c.at >= cutoff).order_by(sample.c.at))).scalars()
        )

    assert later == [base + timedelta(minutes=30), base + timedelta(minutes=60)]


async def test_naive_times_are_refused(database: Database, table: Table) -> None:
    with pytest.raises(StatementError) as caught:
        await _store(database, at=datetime(2026, 1, 1, 12, 0))

    assert isinstance(caught.value.orig, ValueError)
    assert "naive" in str(caught.value.orig)
    assert await _rows(database) == 0


async def test_times_are_stored_in_utc_whatever_the_session_time_zone(
    database: Database, table: Table, db_kind: str
) -> None:
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    row_id = await _store(database, at=moment)

    async with database.engine.connect() as conn:
        if db_kind == "postgresql":
            await conn.execute(text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))
        at = (await conn.execute(select(sample.c.at).where(sample.c.id == row_id))).scalar_one()
        raw = (await conn.execute(text("SELECT CAST(at AS TEXT) FROM test_orm_types_sample"))).scalar_one()

    assert at == moment
    assert at.tzinfo is UTC
    assert raw.startswith("2026-01-02 01:00:00" if db_kind == "postgresql" else "2026-01-01 12:00:00")
