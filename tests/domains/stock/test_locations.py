"""Stock locations: a tree with paths, unique codes, no cycles, deactivation (not while holding stock)."""

import asyncio
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user
from tests.factories.stock import BASE, make_location, make_lot, make_part, row_counts

pytestmark = pytest.mark.anyio

TABLES = ("stock_location", "audit_entry")


async def _manager(database: Database) -> MadeUser:
    return await make_user(database, username="lena", permissions=["stock.view", "stock.manage_locations"])


async def _create(client: httpx.AsyncClient, user: MadeUser, code: str, **fields: Any) -> Any:
    body = {"code": code, "name": fields.pop("name", code), "type": fields.pop("type", "warehouse"), **fields}
    response = await client.post(f"{BASE}/locations", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_locations_form_a_tree_with_paths(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    site = await _create(client, manager, "SITE", name="Site", type="other")
    warehouse = await _create(client, manager, "WH-A", name="Warehouse A", parent_id=site["id"])
    shelf = await _create(client, manager, "WH-A.1", name="Shelf 1", parent_id=warehouse["id"], description="top")
    lab = await _create(client, manager, "LAB", name="Laboratory", type="laboratory", parent_id=site["id"])

    one = await client.get(f"{BASE}/locations/{shelf['id']}", headers=manager.headers)

    assert one.status_code == 200
    assert one.json() == shelf
    assert shelf["path"] == "Site / Warehouse A / Shelf 1"
    assert (shelf["parent_id"], shelf["type"], shelf["description"], shelf["is_active"]) == (
        warehouse["id"],
        "warehouse",
        "top",
        True,
    )
    assert lab["path"] == "Site / Laboratory"
    assert site["path"] == "Site"
    [entry] = await entries(database, action="stock_location.create", entity_id=str(shelf["id"]))
    assert entry["changes"]["after"]["code"] == "WH-A.1"
    missing = await client.get(f"{BASE}/locations/999", headers=manager.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "stock.location_not_found")


async def test_location_list_filters_search_and_sort(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    site = await _create(client, manager, "SITE", name="Site", type="other")
    await _create(client, manager, "B-WH", name="Bulk store", parent_id=site["id"])
    await _create(client, manager, "A-LAB", name="QC lab", type="laboratory", parent_id=site["id"])
    await _create(client, manager, "C-OLD", name="Old store", is_active=False)

    async def codes(**params: Any) -> list[str]:
        response = await client.get(f"{BASE}/locations", params=params, headers=manager.headers)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()["items"]]

    listed = (await client.get(f"{BASE}/locations", params={"limit": 2}, headers=manager.headers)).json()
    assert (listed["total"], listed["offset"], listed["limit"]) == (4, 0, 2)
    assert [item["path"] for item in listed["items"]] == ["Site / QC lab", "Site / Bulk store"]
    assert await codes() == ["A-LAB", "B-WH", "C-OLD", "SITE"]
    assert await codes(sort="-code") == ["SITE", "C-OLD", "B-WH", "A-LAB"]
    assert await codes(sort="name") == ["B-WH", "C-OLD", "A-LAB", "SITE"]
    assert await codes(parent_id=site["id"]) == ["A-LAB", "B-WH"]
    assert await codes(type="laboratory") == ["A-LAB"]
    assert await codes(is_active="false") == ["C-OLD"]
    assert await codes(is_active="true", type="warehouse") == ["B-WH"]
    assert await codes(search="store") == ["B-WH", "C-OLD"]
    assert await codes(search="a-l") == ["A-LAB"]
    bad_sort = await client.get(f"{BASE}/locations", params={"sort": "type"}, headers=manager.headers)
    assert (bad_sort.status_code, bad_sort.json()["code"]) == (422, "listing.invalid_sort")
    bad_type = await client.get(f"{BASE}/locations", params={"type": "garage"}, headers=manager.headers)
    assert bad_type.status_code == 422


async def test_codes_are_unique_ignoring_case(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    await _create(client, manager, "WH-1")
    other = await _create(client, manager, "WH-2")
    before = await row_counts(database, TABLES)

    created = await client.post(
        f"{BASE}/locations", json={"code": "wh-1", "name": "Again", "type": "warehouse"}, headers=manager.headers
    )
    renamed = await client.put(f"{BASE}/locations/{other['id']}", json={"code": "Wh-1"}, headers=manager.headers)

    assert (created.status_code, created.json()["code"]) == (409, "stock.location_code_taken")
    assert (renamed.status_code, renamed.json()["code"]) == (409, "stock.location_code_taken")
    assert await row_counts(database, TABLES) == before
    # Its own code, in another case, is fine.
    recased = await client.put(f"{BASE}/locations/{other['id']}", json={"code": "wh-2"}, headers=manager.headers)
    assert (recased.status_code, recased.json()["code"]) == (200, "wh-2")


async def test_parallel_creates_of_one_code_store_one_location(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    codes = ["RACE", "race", "Race", "RACE", "rAcE", "RACE"]

    responses = await asyncio.gather(
        *(
            client.post(f"{BASE}/locations", json={"code": c, "name": c, "type": "other"}, headers=manager.headers)
            for c in codes
        )
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * (len(codes) - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"stock.location_code_taken"}
    assert len(await entries(database, action="stock_location.create")) == 1


async def test_moving_a_location_under_itself_or_a_descendant_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    a = await _create(client, manager, "A")
    b = await _create(client, manager, "B", parent_id=a["id"])
    c = await _create(client, manager, "C", parent_id=b["id"])
    before = await row_counts(database, TABLES)

    for parent in (a, b, c):
        response = await client.put(
            f"{BASE}/locations/{a['id']}", json={"parent_id": parent["id"]}, headers=manager.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "stock.location_cycle"
        assert response.json()["errors"][0]["loc"] == ["body", "parent_id"]
    unknown = await client.put(f"{BASE}/locations/{a['id']}", json={"parent_id": 9999}, headers=manager.headers)
    unknown_create = await client.post(
        f"{BASE}/locations",
        json={"code": "X", "name": "X", "type": "other", "parent_id": 9999},
        headers=manager.headers,
    )

    assert (unknown.status_code, unknown.json()["code"]) == (422, "stock.unknown_reference")
    assert (unknown_create.status_code, unknown_create.json()["code"]) == (422, "stock.unknown_reference")
    assert await row_counts(database, TABLES) == before

    moved = await client.put(f"{BASE}/locations/{c['id']}", json={"parent_id": None}, headers=manager.headers)
    assert (moved.status_code, moved.json()["path"], moved.json()["parent_id"]) == (200, "C", None)
    under = await client.put(f"{BASE}/locations/{a['id']}", json={"parent_id": c["id"]}, headers=manager.headers)
    assert (under.status_code, under.json()["path"]) == (200, "C / A")
    listed = (await client.get(f"{BASE}/locations", params={"search": "B"}, headers=manager.headers)).json()
    assert [item["path"] for item in listed["items"]] == ["C / A / B"]


async def test_update_changes_only_what_is_sent(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    location = await _create(client, manager, "WH", name="Store", description="ground floor")

    response = await client.put(
        f"{BASE}/locations/{location['id']}",
        json={"name": "Main store", "type": "production"},
        headers={**manager.headers, "X-Change-Reason": "renamed"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["name"], body["type"], body["description"]) == (
        "WH",
        "Main store",
        "production",
        "ground floor",
    )
    assert body["updated_at"] >= location["updated_at"]
    [entry] = await entries(database, action="stock_location.update")
    assert entry["changes"]["before"]["name"] == "Store"
    assert entry["changes"]["after"]["type"] == "production"
    assert entry["reason"] == "renamed"
    assert (await client.delete(f"{BASE}/locations/{location['id']}", headers=manager.headers)).status_code == 405


@pytest.mark.parametrize(
    "body",
    [
        {"code": "", "name": "x", "type": "warehouse"},
        {"code": "has space", "name": "x", "type": "warehouse"},
        {"code": "A" * 33, "name": "x", "type": "warehouse"},
        {"code": "OK", "name": "", "type": "warehouse"},
        {"code": "OK", "name": "x", "type": "garage"},
        {"code": "OK", "name": "x", "type": "warehouse", "parent_id": "1"},
        {"code": "OK", "name": "x", "type": "warehouse", "parent_id": 0},
        {"code": "OK", "name": "x", "type": "warehouse", "is_active": "yes"},
        {"code": "OK", "name": "x", "type": "warehouse", "colour": "red"},
        {"code": "OK", "name": "x"},
    ],
)
async def test_bad_location_input_is_refused(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    manager = await _manager(database)
    before = await row_counts(database, TABLES)

    response = await client.post(f"{BASE}/locations", json=body, headers=manager.headers)

    assert response.status_code == 422, response.text
    assert await row_counts(database, TABLES) == before


async def test_a_location_holding_stock_cannot_be_deactivated(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    adjuster = await make_user(database, username="adam", permissions=["stock.view", "stock.adjust"])
    store = await make_location(database, "STORE")
    other = await make_location(database, "OTHER")
    lot = await make_lot(
        database, part_id=await make_part(database, "P-1"), location_id=store, quantity=3, batch_code="L1"
    )
    before = await row_counts(database, TABLES)

    refused = await client.put(f"{BASE}/locations/{store}", json={"is_active": False}, headers=manager.headers)

    assert (refused.status_code, refused.json()["code"]) == (409, "stock.location_in_use")
    assert refused.json()["details"] == {"location_id": store, "reason": "stock"}
    assert await row_counts(database, TABLES) == before

    await client.post(
        f"{BASE}/stock-movements",
        json={"lot_id": lot, "kind": "scrap", "location_id": store, "quantity": "3", "notes": "spilt"},
        headers=adjuster.headers,
    )
    # A zero balance left behind is no stock.
    deactivated = await client.put(f"{BASE}/locations/{store}", json={"is_active": False}, headers=manager.headers)
    assert (deactivated.status_code, deactivated.json()["is_active"]) == (200, False)
    assert (
        await client.put(f"{BASE}/locations/{other}", json={"is_active": False}, headers=manager.headers)
    ).status_code == 200


async def test_a_location_with_active_sublocations_cannot_be_deactivated(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    site = await make_location(database, "SITE", "other")
    room = await make_location(database, "ROOM", parent_id=site)

    refused = await client.put(f"{BASE}/locations/{site}", json={"is_active": False}, headers=manager.headers)
    child_off = await client.put(f"{BASE}/locations/{room}", json={"is_active": False}, headers=manager.headers)
    parent_off = await client.put(f"{BASE}/locations/{site}", json={"is_active": False}, headers=manager.headers)
    # An active location is not placed under an inactive one, and an inactive parent is reactivated first.
    child_on = await client.put(f"{BASE}/locations/{room}", json={"is_active": True}, headers=manager.headers)
    new_child = await client.post(
        f"{BASE}/locations",
        json={"code": "NEW", "name": "New", "type": "other", "parent_id": site},
        headers=manager.headers,
    )
    parked = await client.post(
        f"{BASE}/locations",
        json={"code": "PARKED", "name": "Parked", "type": "other", "parent_id": site, "is_active": False},
        headers=manager.headers,
    )

    assert (refused.status_code, refused.json()["code"]) == (409, "stock.location_in_use")
    assert refused.json()["details"]["reason"] == "sublocations"
    assert (child_off.status_code, parent_off.status_code) == (200, 200)
    assert (child_on.status_code, child_on.json()["code"]) == (422, "stock.unknown_reference")
    assert (new_child.status_code, new_child.json()["code"]) == (422, "stock.unknown_reference")
    assert parked.status_code == 201, parked.text
    assert (
        await client.put(f"{BASE}/locations/{site}", json={"is_active": True}, headers=manager.headers)
    ).status_code == 200
    assert (
        await client.put(f"{BASE}/locations/{room}", json={"is_active": True}, headers=manager.headers)
    ).status_code == 200
