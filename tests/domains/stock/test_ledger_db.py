"""The database itself guards the ledger: movements are append-only, balances never negative."""

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from depotflow.core.db import Database
from tests.factories.stock import balance, make_location, make_lot, make_part, row_counts

pytestmark = pytest.mark.anyio


async def _lot(database: Database) -> tuple[int, int]:
    store = await make_location(database, "STORE")
    lot = await make_lot(
        database, part_id=await make_part(database, "API-1"), location_id=store, quantity=5, batch_code="L-1"
    )
    return lot, store


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE stock_movement SET quantity = 500",
        "UPDATE stock_movement SET notes = 'edited' WHERE kind = 'receipt'",
        "DELETE FROM stock_movement",
    ],
)
async def test_the_database_refuses_to_change_or_delete_movements(database: Database, statement: str) -> None:
    lot, store = await _lot(database)
    before = await row_counts(database)

    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text(statement))

    assert await row_counts(database) == before
    async with database.session(write=False) as session:
        notes, quantity = (await session.execute(text("SELECT notes, quantity FROM stock_movement"))).one()
    assert notes == ""
    assert await balance(database, lot, store) == Decimal(5)
    assert quantity in (5_000_000, Decimal(5))  # SQLite stores millionths, PostgreSQL a numeric


async def test_the_database_refuses_a_negative_balance(database: Database) -> None:
    lot, store = await _lot(database)

    with pytest.raises(DBAPIError) as raised:
        async with database.engine.begin() as conn:
            await conn.execute(
                text("UPDATE stock_balance SET quantity = -1 WHERE lot_id = :lot AND location_id = :location"),
                {"lot": lot, "location": store},
            )

    assert "not_negative" in str(raised.value)
    assert await balance(database, lot, store) == Decimal(5)


async def test_a_zero_movement_is_refused_by_the_database(database: Database) -> None:
    await _lot(database)
    before = await row_counts(database)

    with pytest.raises(DBAPIError, match="nonzero"):
        async with database.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO stock_movement (lot_id, part_id, location_id, kind, quantity, document_type, notes, created_at) "
                    "SELECT lot_id, part_id, location_id, 'adjustment', 0, '', '', created_at FROM stock_movement"
                )
            )

    assert await row_counts(database) == before
