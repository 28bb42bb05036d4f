"""Stock lists run a constant number of queries whatever the number of lots, balances and movements."""

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import MadeUser, make_user
from tests.factories.stock import BASE, make_location, make_lot, make_part
from tests.web.test_query_budget import counting

pytestmark = pytest.mark.anyio

LISTS = ["/locations", "/stock-statuses", "/stock-lots", "/stock-movements", "/stock-lots/{lot}/movements"]


async def _grow(client: httpx.AsyncClient, database: Database, user: MadeUser, prefix: str, n: int) -> int:
    """`n` parts, each with a location under the last one and a lot spread over two locations."""
    parent: int | None = None
    lot = 0
    for i in range(n):
        here = await make_location(database, f"{prefix}-{i}", parent_id=parent)
        there = await make_location(database, f"{prefix}-{i}-B", "laboratory", parent_id=here)
        part = await make_part(database, f"{prefix}-P{i}")
        lot = await make_lot(
            database, part_id=part, location_id=here, quantity=10, batch_code=f"{prefix}{i}", status="ok"
        )
        response = await client.post(
            f"{BASE}/stock-movements",
            json={
                "lot_id": lot,
                "kind": "transfer_out",
                "location_id": here,
                "to_location_id": there,
                "quantity": "1",
                "notes": "x",
            },
            headers=user.headers,
        )
        assert response.status_code == 201, response.text
        parent = here
    return lot


async def _queries(client: httpx.AsyncClient, database: Database, user: MadeUser, lot: int) -> dict[str, int]:
    counts = {}
    for url in LISTS:
        with counting(database) as statements:
            response = await client.get(BASE + url.format(lot=lot), headers=user.headers)
        assert response.status_code == 200, (url, response.text)
        assert response.json()["items"], url
        counts[url] = len(statements)
    return counts


async def test_stock_lists_query_the_same_for_one_row_and_for_many(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await make_user(database, username="sam", permissions=["stock.view", "stock.adjust"])
    lot = await _grow(client, database, user, "first", 1)
    few = await _queries(client, database, user, lot)

    lot = await _grow(client, database, user, "more", 5)
    many = await _queries(client, database, user, lot)

    assert many == few
    assert max(few.values()) <= 6
