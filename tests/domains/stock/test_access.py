"""Every stock route needs a token (401) and its permission (403); a refused request writes nothing."""

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import make_user
from tests.factories.stock import BASE, make_location, make_lot, make_part, row_counts

pytestmark = pytest.mark.anyio

VIEW = "stock.view"
ROUTES = [
    ("GET", "/locations", VIEW),
    ("GET", "/locations/{location}", VIEW),
    ("GET", "/stock-statuses", VIEW),
    ("GET", "/stock-lots", VIEW),
    ("GET", "/stock-lots/{lot}", VIEW),
    ("GET", "/stock-lots/{lot}/movements", VIEW),
    ("GET", "/stock-lots/{lot}/qc-records", VIEW),
    ("GET", "/stock-movements", VIEW),
    ("POST", "/locations", "stock.manage_locations"),
    ("PUT", "/locations/{location}", "stock.manage_locations"),
    ("POST", "/stock-movements", "stock.adjust"),
    ("POST", "/stock-lots/{lot}/qc-records", "qc.record"),
]


def _body(method: str, location: int, lot: int) -> dict[str, object] | None:
    if method == "GET":
        return None
    return {
        "code": "NEW",
        "name": "New",
        "type": "warehouse",
        "lot_id": lot,
        "kind": "adjustment",
        "location_id": location,
        "quantity": "1",
        "notes": "count",
    }


async def test_routes_answer_401_without_a_token(client: httpx.AsyncClient, database: Database) -> None:
    location = await make_location(database, "WH")
    lot = await make_lot(
        database, part_id=await make_part(database, "P-1"), location_id=location, quantity=5, batch_code="B1"
    )
    before = await row_counts(database)

    for method, url, _permission in ROUTES:
        path = BASE + url.format(location=location, lot=lot)
        response = await client.request(method, path, json=_body(method, location, lot))
        assert response.status_code == 401, (method, url, response.text)
        assert response.json()["code"] == "auth.not_authenticated"
    assert await row_counts(database) == before


async def test_each_route_needs_its_permission(client: httpx.AsyncClient, database: Database) -> None:
    location = await make_location(database, "WH")
    part = await make_part(database, "P-1")
    lot = await make_lot(database, part_id=part, location_id=location, quantity=5, batch_code="B1")
    everything = sorted({permission for _m, _u, permission in ROUTES})
    # For each permission, a user holding every stock permission but that one.
    lacking = {
        permission: await make_user(
            database, username=f"no-{permission}", permissions=[p for p in everything if p != permission]
        )
        for permission in everything
    }
    before = await row_counts(database)

    for method, url, permission in ROUTES:
        path = BASE + url.format(location=location, lot=lot)
        headers = lacking[permission].headers
        response = await client.request(method, path, json=_body(method, location, lot), headers=headers)
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["details"] == {"required_permission": permission}
    assert await row_counts(database) == before


async def test_the_view_permission_reads_every_list(client: httpx.AsyncClient, database: Database) -> None:
    location = await make_location(database, "WH")
    lot = await make_lot(
        database, part_id=await make_part(database, "P-1"), location_id=location, quantity=5, batch_code="B1"
    )
    viewer = await make_user(database, username="vic", permissions=[VIEW])

    for method, url, permission in ROUTES:
        if permission != VIEW:
            continue
        response = await client.request(method, BASE + url.format(location=location, lot=lot), headers=viewer.headers)
        assert response.status_code == 200, (url, response.text)
