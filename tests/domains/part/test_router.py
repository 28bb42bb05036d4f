"""HTTP contract of /modules/inventory/api: units, the category tree and parts, with audit and bad input."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user
from tests.factories.stock import make_location

pytestmark = pytest.mark.anyio

BASE = "/modules/inventory/api"
ALL_PART = ["part.view", "part.add", "part.change"]
TABLES = ("part", "part_category", "part_unit", "audit_entry")


async def _editor(database: Database) -> MadeUser:
    return await make_user(database, username="pia", permissions=ALL_PART)


async def _row_counts(database: Database) -> dict[str, int]:
    async with database.session(write=False) as session:
        return {t: int((await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}


async def _unit_id(client: httpx.AsyncClient, user: MadeUser, code: str) -> int:
    response = await client.get(f"{BASE}/units", params={"search": code, "limit": 50}, headers=user.headers)
    [unit] = [u for u in response.json()["items"] if u["code"] == code]
    return int(unit["id"])


async def _category(client: httpx.AsyncClient, user: MadeUser, name: str, parent_id: int | None = None) -> Any:
    response = await client.post(
        f"{BASE}/categories", json={"name": name, "parent_id": parent_id}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _part(client: httpx.AsyncClient, user: MadeUser, ipn: str, **fields: Any) -> Any:
    body = {"ipn": ipn, "name": fields.pop("name", f"Part {ipn}"), **fields}
    body.setdefault("unit_id", await _unit_id(client, user, "pcs"))
    response = await client.post(f"{BASE}/parts", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_routes_need_a_token_and_the_permission(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await make_user(database, username="vic", permissions=["part.view"])
    adder = await make_user(database, username="ada", permissions=["part.view", "part.add"])
    before = await _row_counts(database)
    for method, url in [("GET", "/parts"), ("POST", "/parts"), ("GET", "/categories/1"), ("PUT", "/units/1")]:
        response = await client.request(method, BASE + url, json={})
        assert response.status_code == 401, (method, url)
    attempts = [
        (viewer, "POST", "/units", {"code": "box", "name": "Box"}, "part.add"),
        (viewer, "POST", "/categories", {"name": "Raw"}, "part.add"),
        (viewer, "POST", "/parts", {"ipn": "A-1", "name": "A", "unit_id": 1}, "part.add"),
        (adder, "PUT", "/units/1", {"name": "Stück"}, "part.change"),
        (adder, "PUT", "/parts/1", {"name": "B"}, "part.change"),
        (adder, "DELETE", "/categories/1", None, "part.change"),
    ]
    for made, method, url, body, permission in attempts:
        response = await client.request(method, BASE + url, json=body, headers=made.headers)
        assert response.status_code == 403, (made.username, method, url)
        assert response.json()["details"] == {"required_permission": permission}
    assert (await client.get(f"{BASE}/units", headers=viewer.headers)).status_code == 200
    assert await _row_counts(database) == before


async def test_units_are_seeded_and_round_trip(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)

    listed = (await client.get(f"{BASE}/units", headers=editor.headers)).json()
    created = await client.post(f"{BASE}/units", json={"code": "box", "name": "Box"}, headers=editor.headers)
    duplicate = await client.post(f"{BASE}/units", json={"code": "KG", "name": "Again"}, headers=editor.headers)
    updated = await client.put(
        f"{BASE}/units/{created.json()['id']}", json={"name": "Carton", "is_active": False}, headers=editor.headers
    )
    inactive = await client.get(f"{BASE}/units", params={"is_active": "false"}, headers=editor.headers)

    assert sorted(u["code"] for u in listed["items"]) == ["g", "kg", "l", "mg", "ml", "pcs"]
    assert listed["total"] == 6
    assert created.status_code == 201
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "part.unit_code_taken"
    assert updated.status_code == 200
    assert updated.json() == {"id": created.json()["id"], "code": "box", "name": "Carton", "is_active": False}
    assert [u["code"] for u in inactive.json()["items"]] == ["box"]
    missing = await client.get(f"{BASE}/units/999", headers=editor.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "part.unit_not_found"


async def test_categories_form_a_tree_with_paths(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    raw = await _category(client, editor, "Raw materials")
    excipients = await _category(client, editor, "Excipients", raw["id"])
    fillers = await _category(client, editor, "Fillers", excipients["id"])
    await _category(client, editor, "Packaging")

    children = await client.get(f"{BASE}/categories", params={"parent_id": raw["id"]}, headers=editor.headers)
    everything = await client.get(f"{BASE}/categories", params={"sort": "-name"}, headers=editor.headers)
    one = await client.get(f"{BASE}/categories/{fillers['id']}", headers=editor.headers)

    assert excipients["path"] == "Raw materials / Excipients"
    assert [c["name"] for c in children.json()["items"]] == ["Excipients"]
    assert [c["name"] for c in everything.json()["items"]] == ["Raw materials", "Packaging", "Fillers", "Excipients"]
    assert one.json()["path"] == "Raw materials / Excipients / Fillers"
    assert one.json()["parent_id"] == excipients["id"]

    moved = await client.put(f"{BASE}/categories/{fillers['id']}", json={"parent_id": None}, headers=editor.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == "Fillers"
    missing = await client.get(f"{BASE}/categories/999", headers=editor.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "part.category_not_found"


async def test_category_names_are_unique_among_siblings(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    raw = await _category(client, editor, "Raw")
    await _category(client, editor, "Raw sub", raw["id"])
    await _category(client, editor, "Other", raw["id"])
    before = await _row_counts(database)

    top = await client.post(f"{BASE}/categories", json={"name": "raw"}, headers=editor.headers)
    child = await client.post(
        f"{BASE}/categories", json={"name": "Raw sub", "parent_id": raw["id"]}, headers=editor.headers
    )

    assert (top.status_code, top.json()["code"]) == (409, "part.category_name_taken")
    assert (child.status_code, child.json()["code"]) == (409, "part.category_name_taken")
    assert await _row_counts(database) == before
    # The same name elsewhere in the tree is fine.
    await _category(client, editor, "Raw sub")


async def test_moving_a_category_under_its_descendant_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    a = await _category(client, editor, "A")
    b = await _category(client, editor, "B", a["id"])
    c = await _category(client, editor, "C", b["id"])
    before = await _row_counts(database)

    for parent in (a, c):
        response = await client.put(
            f"{BASE}/categories/{a['id']}", json={"parent_id": parent["id"]}, headers=editor.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "part.category_cycle"
    unknown = await client.put(f"{BASE}/categories/{a['id']}", json={"parent_id": 9999}, headers=editor.headers)

    assert unknown.status_code == 422
    assert unknown.json()["code"] == "part.unknown_reference"
    assert await _row_counts(database) == before


async def test_deleting_a_category_in_use_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    parent = await _category(client, editor, "Parent")
    child = await _category(client, editor, "Child", parent["id"])
    part = await _part(client, editor, "P-1", category_id=child["id"])
    before = await _row_counts(database)

    with_children = await client.delete(f"{BASE}/categories/{parent['id']}", headers=editor.headers)
    with_parts = await client.delete(f"{BASE}/categories/{child['id']}", headers=editor.headers)
    assert (with_children.status_code, with_children.json()["code"]) == (409, "part.category_in_use")
    assert (with_parts.status_code, with_parts.json()["code"]) == (409, "part.category_in_use")
    assert await _row_counts(database) == before

    await client.put(f"{BASE}/parts/{part['id']}", json={"category_id": None}, headers=editor.headers)
    assert (await client.delete(f"{BASE}/categories/{child['id']}", headers=editor.headers)).status_code == 204
    assert (await client.delete(f"{BASE}/categories/{parent['id']}", headers=editor.headers)).status_code == 204
    assert (await client.get(f"{BASE}/categories/{parent['id']}", headers=editor.headers)).status_code == 404
    [entry] = await entries(database, action="part_category.delete", entity_id=str(parent["id"]))
    assert entry["changes"]["before"]["name"] == "Parent"


async def test_part_round_trip_with_defaults(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    category = await _category(client, editor, "Excipients")
    kg = await _unit_id(client, editor, "kg")

    created = await _part(
        client, editor, "EXC-001", name="Lactose", unit_id=kg, category_id=category["id"], is_purchaseable=True
    )
    fetched = await client.get(f"{BASE}/parts/{created['id']}", headers=editor.headers)

    assert fetched.json() == created
    assert created["ipn"] == "EXC-001"
    assert created["unit_code"] == "kg"
    assert created["category_path"] == "Excipients"
    assert created["is_active"] is True
    assert created["is_purchaseable"] is True
    assert (created["is_salable"], created["is_component"], created["is_assembly"]) == (False, False, False)
    assert (created["requires_qc_release"], created["tracks_batch"], created["tracks_expiry"]) == (True, True, True)
    assert created["default_location_id"] is None
    [entry] = await entries(database, action="part.create")
    assert entry["changes"]["after"]["ipn"] == "EXC-001"
    missing = await client.get(f"{BASE}/parts/999", headers=editor.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "part.not_found")


async def test_update_changes_only_what_is_sent_and_is_audited(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    part = await _part(client, editor, "API-7", description="first")
    location_id = await make_location(database, "WH-1")

    response = await client.put(
        f"{BASE}/parts/{part['id']}",
        json={"name": "Paracetamol", "is_active": False, "default_location_id": location_id},
        headers={**editor.headers, "X-Change-Reason": "renamed"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["description"], body["is_active"]) == ("Paracetamol", "first", False)
    assert body["default_location_id"] == location_id
    assert body["created_at"] == part["created_at"]
    assert body["updated_at"] >= part["updated_at"]
    [entry] = await entries(database, action="part.update")
    assert entry["entity_id"] == str(part["id"])
    assert entry["changes"]["before"]["name"] == "Part API-7"
    assert entry["changes"]["after"]["name"] == "Paracetamol"
    assert entry["changes"]["before"]["is_active"] is True
    assert entry["changes"]["after"]["is_active"] is False
    # Deactivated parts stay readable; there is no delete.
    assert (await client.get(f"{BASE}/parts/{part['id']}", headers=editor.headers)).json()["is_active"] is False
    assert (await client.delete(f"{BASE}/parts/{part['id']}", headers=editor.headers)).status_code == 405


async def test_an_unknown_default_location_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    part = await _part(client, editor, "API-8")
    before = await _row_counts(database)

    response = await client.put(f"{BASE}/parts/{part['id']}", json={"default_location_id": 999}, headers=editor.headers)

    assert (response.status_code, response.json()["code"]) == (422, "part.unknown_reference")
    assert await _row_counts(database) == before


async def test_duplicate_ipn_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    await _part(client, editor, "DUP-1")
    other = await _part(client, editor, "DUP-2")
    pcs = await _unit_id(client, editor, "pcs")
    before = await _row_counts(database)

    created = await client.post(
        f"{BASE}/parts", json={"ipn": "dup-1", "name": "x", "unit_id": pcs}, headers=editor.headers
    )
    renamed = await client.put(f"{BASE}/parts/{other['id']}", json={"ipn": "DUP-1"}, headers=editor.headers)

    assert (created.status_code, created.json()["code"]) == (409, "part.ipn_taken")
    assert (renamed.status_code, renamed.json()["code"]) == (409, "part.ipn_taken")
    assert await _row_counts(database) == before


@pytest.mark.parametrize(
    "body",
    [
        {"ipn": "-bad", "name": "x"},
        {"ipn": "has space", "name": "x"},
        {"ipn": "A" * 65, "name": "x"},
        {"ipn": "OK-1", "name": ""},
        {"ipn": "OK-1", "name": "x", "unit_id": "1"},
        {"ipn": "OK-1", "name": "x", "unit_id": 0},
        {"ipn": "OK-1", "name": "x", "unit_id": 2**63},
        {"ipn": "OK-1", "name": "x", "is_active": "yes"},
        {"ipn": "OK-1", "name": "x", "category_id": 1.5},
        {"ipn": "OK-1", "name": "x", "colour": "red"},
        {"ipn": "OK-1", "name": "x", "unit_id": 9999},
        {"ipn": "OK-1", "name": "x", "category_id": 9999},
    ],
)
async def test_bad_part_input_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    editor = await _editor(database)
    body = {"unit_id": await _unit_id(client, editor, "pcs"), **body}
    before = await _row_counts(database)

    response = await client.post(f"{BASE}/parts", json=body, headers=editor.headers)

    assert response.status_code == 422, response.text
    if body.get("unit_id") == 9999 or body.get("category_id") == 9999:
        assert response.json()["code"] == "part.unknown_reference"
    assert await _row_counts(database) == before


async def test_part_list_filters_search_and_sort(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    raw = await _category(client, editor, "Raw")
    kg = await _unit_id(client, editor, "kg")
    await _part(client, editor, "B-200", name="Starch", category_id=raw["id"], unit_id=kg, is_purchaseable=True)
    await _part(client, editor, "A-100", name="Lactose", description="monohydrate", category_id=raw["id"])
    await _part(client, editor, "C-300", name="Carton", is_active=False)

    async def ipns(**params: Any) -> list[str]:
        response = await client.get(f"{BASE}/parts", params=params, headers=editor.headers)
        assert response.status_code == 200, response.text
        return [p["ipn"] for p in response.json()["items"]]

    page = (await client.get(f"{BASE}/parts", params={"limit": 2, "offset": 1}, headers=editor.headers)).json()
    assert (page["total"], page["offset"], page["limit"]) == (3, 1, 2)
    assert [p["ipn"] for p in page["items"]] == ["B-200", "C-300"]
    assert await ipns() == ["A-100", "B-200", "C-300"]
    assert await ipns(sort="-ipn") == ["C-300", "B-200", "A-100"]
    assert await ipns(sort="name") == ["C-300", "A-100", "B-200"]
    assert await ipns(category_id=raw["id"]) == ["A-100", "B-200"]
    assert await ipns(unit_id=kg) == ["B-200"]
    assert await ipns(is_active="false") == ["C-300"]
    assert await ipns(is_purchaseable="true") == ["B-200"]
    assert await ipns(search="MONO") == ["A-100"]
    assert await ipns(search="c-3") == ["C-300"]
    bad_sort = await client.get(f"{BASE}/parts", params={"sort": "unit_id"}, headers=editor.headers)
    assert (bad_sort.status_code, bad_sort.json()["code"]) == (422, "listing.invalid_sort")
