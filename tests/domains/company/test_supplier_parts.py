"""HTTP contract of /modules/inventory/api/supplier-parts: references, defaults, uniqueness, lists, audit."""

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.company import make_company, make_part, make_supplier, make_supplier_part
from tests.factories.identity import MadeUser, make_user

pytestmark = pytest.mark.anyio

BASE = "/modules/inventory/api"
ALL_COMPANY = ["company.view", "company.add", "company.change"]
TABLES = ("company", "company_supplier_part", "part", "audit_entry")


async def _editor(database: Database) -> MadeUser:
    return await make_user(database, username="cora", permissions=ALL_COMPANY)


async def _row_counts(database: Database) -> dict[str, int]:
    async with database.session(write=False) as session:
        return {t: int((await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}


async def _supplier_part(client: httpx.AsyncClient, user: MadeUser, **body: Any) -> Any:
    response = await client.post(f"{BASE}/supplier-parts", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_supplier_part_round_trip_with_defaults_and_audit(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    supplier = await make_supplier(database, code="US-CHEM", name="US Chemicals", currency="USD")
    part = await make_part(database, ipn="EXC-001", name="Lactose")

    created = await _supplier_part(
        client,
        editor,
        supplier_id=supplier,
        part_id=part,
        supplier_code="LAC-25KG",
        description="Lactose monohydrate, 25 kg sack",
        supplier_unit="sack",
        pack_quantity="25.000",
        price=112.5,
        lead_time_days=14,
    )
    fetched = await client.get(f"{BASE}/supplier-parts/{created['id']}", headers=editor.headers)

    assert fetched.status_code == 200
    assert fetched.json() == created
    assert created["currency"] == "USD"  # the supplier's
    assert (created["supplier_id"], created["supplier_company_code"], created["supplier_name"]) == (
        supplier,
        "US-CHEM",
        "US Chemicals",
    )
    assert (created["part_id"], created["part_ipn"], created["part_name"]) == (part, "EXC-001", "Lactose")
    assert created["supplier_code"] == "LAC-25KG"
    assert (created["pack_quantity"], created["price"], created["lead_time_days"]) == ("25", "112.5", 14)
    assert (created["is_active"], created["notes"]) == (True, "")
    [entry] = await entries(database, action="company_supplier_part.create")
    assert entry["entity_id"] == str(created["id"])
    assert entry["changes"]["after"]["supplier_code"] == "LAC-25KG"
    assert entry["changes"]["after"]["currency"] == "USD"
    assert entry["changes"]["after"]["pack_quantity"] == "25"

    minimal = await _supplier_part(
        client, editor, supplier_id=supplier, part_id=part, supplier_code="LAC-1", currency="eur"
    )
    assert (minimal["pack_quantity"], minimal["price"], minimal["lead_time_days"]) == ("1", None, None)
    assert minimal["currency"] == "EUR"
    assert minimal["description"] == ""

    missing = await client.get(f"{BASE}/supplier-parts/999", headers=editor.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "company.supplier_part_not_found")
    missing_update = await client.put(f"{BASE}/supplier-parts/999", json={"notes": "x"}, headers=editor.headers)
    assert (missing_update.status_code, missing_update.json()["code"]) == (404, "company.supplier_part_not_found")


async def test_supplier_must_be_an_active_supplier_and_references_must_exist(
    client: httpx.AsyncClient, database: Database
) -> None:
    editor = await _editor(database)
    customer = await make_company(database, code="CUST", is_customer=True)
    retired = await make_supplier(database, code="OLD", is_active=False)
    supplier = await make_supplier(database, code="OK")
    part = await make_part(database, ipn="P-1")
    before = await _row_counts(database)

    async def attempt(**body: Any) -> httpx.Response:
        return await client.post(
            f"{BASE}/supplier-parts", json={"supplier_code": "X-1", **body}, headers=editor.headers
        )

    not_supplier = await attempt(supplier_id=customer, part_id=part)
    inactive = await attempt(supplier_id=retired, part_id=part)
    unknown_company = await attempt(supplier_id=9999, part_id=part)
    unknown_part = await attempt(supplier_id=supplier, part_id=9999)

    assert (not_supplier.status_code, not_supplier.json()["code"]) == (422, "company.not_a_supplier")
    assert not_supplier.json()["errors"][0]["loc"] == ["body", "supplier_id"]
    assert not_supplier.json()["details"]["is_supplier"] is False
    assert (inactive.status_code, inactive.json()["code"]) == (422, "company.not_a_supplier")
    assert inactive.json()["details"]["is_active"] is False
    assert (unknown_company.status_code, unknown_company.json()["code"]) == (422, "company.unknown_reference")
    assert unknown_company.json()["errors"][0]["loc"] == ["body", "supplier_id"]
    assert (unknown_part.status_code, unknown_part.json()["code"]) == (422, "company.unknown_reference")
    assert unknown_part.json()["errors"][0]["loc"] == ["body", "part_id"]
    assert await _row_counts(database) == before


async def test_supplier_codes_are_unique_per_supplier_ignoring_case(
    client: httpx.AsyncClient, database: Database
) -> None:
    editor = await _editor(database)
    first = await make_supplier(database, code="FIRST")
    second = await make_supplier(database, code="SECOND")
    part = await make_part(database, ipn="P-1")
    await _supplier_part(client, editor, supplier_id=first, part_id=part, supplier_code="ABC-1")
    other = await _supplier_part(client, editor, supplier_id=first, part_id=part, supplier_code="ABC-2")
    before = await _row_counts(database)

    created = await client.post(
        f"{BASE}/supplier-parts",
        json={"supplier_id": first, "part_id": part, "supplier_code": "abc-1"},
        headers=editor.headers,
    )
    renamed = await client.put(
        f"{BASE}/supplier-parts/{other['id']}", json={"supplier_code": "Abc-1"}, headers=editor.headers
    )

    assert (created.status_code, created.json()["code"]) == (409, "company.supplier_code_taken")
    assert (renamed.status_code, renamed.json()["code"]) == (409, "company.supplier_code_taken")
    assert await _row_counts(database) == before
    assert (await client.get(f"{BASE}/supplier-parts/{other['id']}", headers=editor.headers)).json() == other
    # Another supplier may use the same code.
    await _supplier_part(client, editor, supplier_id=second, part_id=part, supplier_code="ABC-1")


@pytest.mark.parametrize(
    "body",
    [
        {"supplier_code": ""},
        {"supplier_code": "x" * 65},
        {"supplier_code": None},
        {"pack_quantity": 0},
        {"pack_quantity": "-1"},
        {"pack_quantity": "1.1234567"},
        {"pack_quantity": "NaN"},
        {"pack_quantity": "Infinity"},
        {"pack_quantity": "1" * 13},
        {"price": -0.01},
        {"price": "abc"},
        {"currency": "US"},
        {"currency": "U$D"},
        {"lead_time_days": -1},
        {"lead_time_days": 3651},
        {"lead_time_days": "5"},
        {"lead_time_days": 1.5},
        {"is_active": "true"},
        {"supplier_unit": "u" * 21},
        {"supplier_id": "1"},
        {"supplier_id": 0},
        {"part_id": 2**63},
        {"sku": "x"},
    ],
)
async def test_bad_supplier_part_input_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    editor = await _editor(database)
    supplier = await make_supplier(database, code="SUP")
    part = await make_part(database, ipn="P-1")
    body = {"supplier_id": supplier, "part_id": part, "supplier_code": "S-1", **body}
    before = await _row_counts(database)

    response = await client.post(f"{BASE}/supplier-parts", json=body, headers=editor.headers)

    assert (response.status_code, response.json()["code"]) == (422, "request.validation_failed"), response.text
    assert await _row_counts(database) == before


async def test_update_changes_only_what_is_sent_and_is_audited(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    supplier = await make_supplier(database, code="SUP", currency="GBP")
    part = await make_part(database, ipn="P-1")
    created = await _supplier_part(
        client, editor, supplier_id=supplier, part_id=part, supplier_code="S-1", price="9.99", lead_time_days=7
    )

    response = await client.put(
        f"{BASE}/supplier-parts/{created['id']}",
        json={"price": None, "pack_quantity": "2.5", "notes": "price on request", "description": None},
        headers={**editor.headers, "X-Change-Reason": "new terms"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["price"], body["pack_quantity"], body["notes"]) == (None, "2.5", "price on request")
    assert (body["lead_time_days"], body["currency"], body["supplier_code"]) == (7, "GBP", "S-1")
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    [entry] = await entries(database, action="company_supplier_part.update")
    assert entry["reason"] == "new terms"
    assert entry["changes"]["before"] == {
        "price": "9.99",
        "pack_quantity": "1",
        "notes": "",
        "updated_at": entry["changes"]["before"]["updated_at"],
    }
    assert entry["changes"]["after"]["price"] is None
    assert entry["changes"]["after"]["pack_quantity"] == "2.5"

    same = await client.put(
        f"{BASE}/supplier-parts/{created['id']}", json={"pack_quantity": "2.500000"}, headers=editor.headers
    )
    assert same.json() == body
    assert len(await entries(database, action="company_supplier_part.update")) == 1

    # The supplier and the part of a supplier part are fixed; there is no delete.
    before = await _row_counts(database)
    for field in ("supplier_id", "part_id"):
        moved = await client.put(
            f"{BASE}/supplier-parts/{created['id']}", json={field: supplier}, headers=editor.headers
        )
        assert (moved.status_code, moved.json()["code"]) == (422, "request.validation_failed")
    assert await _row_counts(database) == before
    deleted = await client.delete(f"{BASE}/supplier-parts/{created['id']}", headers=editor.headers)
    assert deleted.status_code == 405


async def test_parts_of_a_deactivated_supplier_stay_usable_but_no_new_ones(
    client: httpx.AsyncClient, database: Database
) -> None:
    editor = await _editor(database)
    supplier = await make_supplier(database, code="SUP")
    part = await make_part(database, ipn="P-1")
    existing = await _supplier_part(client, editor, supplier_id=supplier, part_id=part, supplier_code="S-1")
    await client.put(f"{BASE}/companies/{supplier}", json={"is_active": False}, headers=editor.headers)

    update = await client.put(
        f"{BASE}/supplier-parts/{existing['id']}", json={"is_active": False}, headers=editor.headers
    )
    create = await client.post(
        f"{BASE}/supplier-parts",
        json={"supplier_id": supplier, "part_id": part, "supplier_code": "S-2"},
        headers=editor.headers,
    )

    assert (update.status_code, update.json()["is_active"]) == (200, False)
    assert (create.status_code, create.json()["code"]) == (422, "company.not_a_supplier")


async def test_supplier_part_lists_filter_search_sort_and_page(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    acme = await make_supplier(database, code="ACME", name="Acme Ltd")
    bolt = await make_supplier(database, code="BOLT", name="Bolt GmbH")
    lactose = await make_part(database, ipn="LAC", name="Lactose")
    starch = await make_part(database, ipn="STA", name="Starch")
    await make_supplier_part(
        database, supplier_id=acme, part_id=lactose, supplier_code="A-200", price=Decimal("5.5"), description="sack"
    )
    await make_supplier_part(database, supplier_id=acme, part_id=starch, supplier_code="A-100", price=Decimal("12"))
    await make_supplier_part(database, supplier_id=bolt, part_id=lactose, supplier_code="B-100", is_active=False)
    await make_supplier_part(
        database, supplier_id=bolt, part_id=starch, supplier_code="B-200", price=Decimal("0.75"), description="Drum"
    )

    async def codes(url: str = "/supplier-parts", **params: Any) -> list[str]:
        response = await client.get(BASE + url, params=params, headers=editor.headers)
        assert response.status_code == 200, response.text
        return [sp["supplier_code"] for sp in response.json()["items"]]

    page = (await client.get(f"{BASE}/supplier-parts", params={"limit": 2, "offset": 1}, headers=editor.headers)).json()
    assert (page["total"], page["offset"], page["limit"]) == (4, 1, 2)
    assert [sp["supplier_code"] for sp in page["items"]] == ["A-200", "B-100"]
    assert [(sp["supplier_name"], sp["part_ipn"]) for sp in page["items"]] == [
        ("Acme Ltd", "LAC"),
        ("Bolt GmbH", "LAC"),
    ]
    assert await codes() == ["A-100", "A-200", "B-100", "B-200"]
    assert await codes(sort="-supplier_code") == ["B-200", "B-100", "A-200", "A-100"]
    assert await codes(sort="price") == ["B-200", "A-200", "A-100", "B-100"]  # no price last
    assert await codes(sort="-price") == ["A-100", "A-200", "B-200", "B-100"]
    assert await codes(supplier_id=acme) == ["A-100", "A-200"]
    assert await codes(part_id=lactose) == ["A-200", "B-100"]
    assert await codes(is_active="false") == ["B-100"]
    assert await codes(supplier_id=bolt, part_id=starch) == ["B-200"]
    assert await codes(search="DRUM") == ["B-200"]
    assert await codes(search="a-2") == ["A-200"]
    assert await codes(f"/companies/{bolt}/supplier-parts") == ["B-100", "B-200"]
    assert await codes(f"/companies/{bolt}/supplier-parts", is_active="true") == ["B-200"]
    assert await codes(f"/companies/{acme}/supplier-parts", part_id=starch, supplier_id=bolt) == ["A-100"]
    assert await codes(f"/companies/{acme}/supplier-parts", sort="-price", search="a-") == ["A-100", "A-200"]
    nested = (await client.get(f"{BASE}/companies/{acme}/supplier-parts", headers=editor.headers)).json()
    assert nested["total"] == 2
    unknown = await client.get(f"{BASE}/companies/9999/supplier-parts", headers=editor.headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "company.not_found")
    bad_sort = await client.get(f"{BASE}/supplier-parts", params={"sort": "part_id"}, headers=editor.headers)
    assert (bad_sort.status_code, bad_sort.json()["code"]) == (422, "listing.invalid_sort")
