"""HTTP contract of /modules/inventory/api/companies: permissions, round trips, uniqueness, bad input, lists."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.company import make_part, make_supplier, make_supplier_part
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


async def _company(client: httpx.AsyncClient, user: MadeUser, code: str, **fields: Any) -> Any:
    body = {"code": code, "name": fields.pop("name", f"Company {code}"), **fields}
    response = await client.post(f"{BASE}/companies", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_routes_need_a_token_and_the_permission(client: httpx.AsyncClient, database: Database) -> None:
    stranger = await make_user(database, username="stan", permissions=["part.view"])
    viewer = await make_user(database, username="vic", permissions=["company.view"])
    adder = await make_user(database, username="ada", permissions=["company.view", "company.add"])
    supplier = await make_supplier(database, code="ACME")
    part = await make_part(database, ipn="P-1")
    supplier_part = await make_supplier_part(database, supplier_id=supplier, part_id=part, supplier_code="A-1")
    before = await _row_counts(database)
    routes = [
        ("GET", "/companies"),
        ("POST", "/companies"),
        ("GET", f"/companies/{supplier}"),
        ("PUT", f"/companies/{supplier}"),
        ("GET", f"/companies/{supplier}/supplier-parts"),
        ("GET", "/supplier-parts"),
        ("POST", "/supplier-parts"),
        ("GET", f"/supplier-parts/{supplier_part}"),
        ("PUT", f"/supplier-parts/{supplier_part}"),
    ]
    for method, url in routes:
        response = await client.request(method, BASE + url, json={})
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "auth.not_authenticated"
    company_body = {"code": "NEW", "name": "New"}
    part_body = {"supplier_id": supplier, "part_id": part, "supplier_code": "B-2"}
    attempts = [
        (stranger, "GET", "/companies", None, "company.view"),
        (stranger, "GET", f"/companies/{supplier}", None, "company.view"),
        (stranger, "GET", f"/companies/{supplier}/supplier-parts", None, "company.view"),
        (stranger, "GET", "/supplier-parts", None, "company.view"),
        (stranger, "GET", f"/supplier-parts/{supplier_part}", None, "company.view"),
        (viewer, "POST", "/companies", company_body, "company.add"),
        (viewer, "POST", "/supplier-parts", part_body, "company.add"),
        (adder, "PUT", f"/companies/{supplier}", {"name": "Renamed"}, "company.change"),
        (adder, "PUT", f"/supplier-parts/{supplier_part}", {"notes": "x"}, "company.change"),
    ]
    for made, method, url, body, permission in attempts:
        response = await client.request(method, BASE + url, json=body, headers=made.headers)
        assert response.status_code == 403, (made.username, method, url, response.text)
        assert response.json()["details"] == {"required_permission": permission}
    assert (await client.get(f"{BASE}/companies", headers=viewer.headers)).status_code == 200
    assert (await client.get(f"{BASE}/supplier-parts", headers=viewer.headers)).status_code == 200
    assert await _row_counts(database) == before


async def test_company_round_trip_with_defaults_and_audit(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)

    minimal = await _company(client, editor, "MIN")
    full = await _company(
        client,
        editor,
        "PHARMA-01",
        name="Pharma Supplies SRL",
        is_supplier=True,
        is_manufacturer=True,
        tax_id="RO123456",
        registration_number="J40/1/2020",
        currency="ron",
        payment_terms="30 days",
        delivery_terms="DAP",
        bank_account="RO49AAAA1B31007593840000",
        email="Orders@Pharma.example",
        phone="+40 21 000 0000",
        website="https://pharma.example",
        notes="preferred",
        addresses=[
            {
                "name": "HQ",
                "country": "ro",
                "city": "Cluj",
                "postal_code": "400000",
                "address": "Str. 1",
                "is_primary": True,
            },
            {"country": "DE", "email": ""},
        ],
        contacts=[{"name": "Ana", "role": "Sales", "phone": "+40 700", "email": "ana@pharma.example"}],
    )
    fetched = await client.get(f"{BASE}/companies/{full['id']}", headers=editor.headers)

    assert fetched.status_code == 200
    assert fetched.json() == full
    assert (minimal["is_supplier"], minimal["is_manufacturer"], minimal["is_customer"]) == (False, False, False)
    assert minimal["is_active"] is True
    assert minimal["currency"] == "EUR"
    assert (minimal["email"], minimal["tax_id"], minimal["addresses"], minimal["contacts"]) == ("", "", [], [])
    assert full["currency"] == "RON"
    assert full["email"] == "Orders@pharma.example"
    assert full["addresses"][0] == {
        "name": "HQ",
        "country": "RO",
        "city": "Cluj",
        "postal_code": "400000",
        "address": "Str. 1",
        "contact": "",
        "email": "",
        "is_primary": True,
    }
    assert full["addresses"][1]["country"] == "DE"
    assert full["contacts"] == [{"name": "Ana", "role": "Sales", "phone": "+40 700", "email": "ana@pharma.example"}]
    [entry] = await entries(database, action="company.create", entity_id=str(full["id"]))
    assert entry["changes"]["after"]["code"] == "PHARMA-01"
    assert entry["changes"]["after"]["addresses"][0]["city"] == "Cluj"
    missing = await client.get(f"{BASE}/companies/999", headers=editor.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "company.not_found")
    missing_update = await client.put(f"{BASE}/companies/999", json={"name": "x"}, headers=editor.headers)
    assert (missing_update.status_code, missing_update.json()["code"]) == (404, "company.not_found")


async def test_update_changes_only_what_is_sent_and_is_audited(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    company = await _company(
        client,
        editor,
        "UPD",
        tax_id="T-1",
        addresses=[{"country": "RO", "city": "Iasi"}],
        contacts=[{"name": "Dan"}],
    )

    response = await client.put(
        f"{BASE}/companies/{company['id']}",
        json={
            "name": "Updated SA",
            "is_customer": True,
            "addresses": [{"country": "fr", "city": "Lyon"}],
            "email": None,
        },
        headers={**editor.headers, "X-Change-Reason": "moved"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["name"], body["tax_id"]) == ("UPD", "Updated SA", "T-1")
    assert body["is_customer"] is True
    assert [(a["country"], a["city"]) for a in body["addresses"]] == [("FR", "Lyon")]
    assert body["contacts"] == company["contacts"]
    assert body["created_at"] == company["created_at"]
    assert body["updated_at"] >= company["updated_at"]
    [entry] = await entries(database, action="company.update", entity_id=str(company["id"]))
    assert entry["reason"] == "moved"
    assert entry["changes"]["before"]["name"] == "Company UPD"
    assert entry["changes"]["after"]["name"] == "Updated SA"
    assert entry["changes"]["after"]["addresses"][0]["city"] == "Lyon"
    assert "tax_id" not in entry["changes"]["after"]

    # Sending the current values changes nothing and writes no entry.
    same = await client.put(f"{BASE}/companies/{company['id']}", json={"name": "Updated SA"}, headers=editor.headers)
    assert same.json() == body
    assert len(await entries(database, action="company.update")) == 1

    # Companies are deactivated, never deleted.
    off = await client.put(f"{BASE}/companies/{company['id']}", json={"is_active": False}, headers=editor.headers)
    assert off.json()["is_active"] is False
    assert (await client.get(f"{BASE}/companies/{company['id']}", headers=editor.headers)).json()["is_active"] is False
    deleted = await client.delete(f"{BASE}/companies/{company['id']}", headers=editor.headers)
    assert deleted.status_code == 405


async def test_a_supplier_with_active_supplier_parts_can_be_deactivated(
    client: httpx.AsyncClient, database: Database
) -> None:
    editor = await _editor(database)
    supplier = await make_supplier(database, code="SUP")
    part = await make_part(database, ipn="P-1")
    supplier_part = await make_supplier_part(database, supplier_id=supplier, part_id=part, supplier_code="S-1")

    response = await client.put(f"{BASE}/companies/{supplier}", json={"is_active": False}, headers=editor.headers)

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    kept = await client.get(f"{BASE}/supplier-parts/{supplier_part}", headers=editor.headers)
    assert kept.json()["is_active"] is True


async def test_codes_are_unique_ignoring_case(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    await _company(client, editor, "ACME")
    other = await _company(client, editor, "OTHER")
    before = await _row_counts(database)

    created = await client.post(f"{BASE}/companies", json={"code": "acme", "name": "Again"}, headers=editor.headers)
    renamed = await client.put(f"{BASE}/companies/{other['id']}", json={"code": "Acme"}, headers=editor.headers)

    assert (created.status_code, created.json()["code"]) == (409, "company.code_taken")
    assert (renamed.status_code, renamed.json()["code"]) == (409, "company.code_taken")
    assert await _row_counts(database) == before
    assert (await client.get(f"{BASE}/companies/{other['id']}", headers=editor.headers)).json() == other
    # A company may change the case of its own code.
    recased = await client.put(f"{BASE}/companies/{other['id']}", json={"code": "Other"}, headers=editor.headers)
    assert (recased.status_code, recased.json()["code"]) == (200, "Other")


@pytest.mark.parametrize(
    "body",
    [
        {"code": "-bad", "name": "x"},
        {"code": "has space", "name": "x"},
        {"code": "A" * 33, "name": "x"},
        {"code": "OK/1", "name": "x"},
        {"code": "OK-1", "name": ""},
        {"code": "OK-1", "name": "x" * 201},
        {"code": "OK-1"},
        {"code": "OK-1", "name": "x", "currency": "EURO"},
        {"code": "OK-1", "name": "x", "currency": "E1R"},
        {"code": "OK-1", "name": "x", "currency": None},
        {"code": "OK-1", "name": "x", "email": "not-an-email"},
        {"code": "OK-1", "name": "x", "website": "ftp://x.example"},
        {"code": "OK-1", "name": "x", "is_supplier": "yes"},
        {"code": "OK-1", "name": "x", "is_active": 1},
        {"code": "OK-1", "name": "x", "tax_id": "T" * 51},
        {"code": "OK-1", "name": "x", "colour": "red"},
        {"code": "OK-1", "name": "x", "addresses": [{"city": "Cluj"}]},
        {"code": "OK-1", "name": "x", "addresses": [{"country": "ROU"}]},
        {"code": "OK-1", "name": "x", "addresses": [{"country": "RO", "email": "nope"}]},
        {"code": "OK-1", "name": "x", "addresses": [{"country": "RO", "street": "x"}]},
        {"code": "OK-1", "name": "x", "addresses": [{"country": "RO", "is_primary": True}] * 2},
        {"code": "OK-1", "name": "x", "addresses": [{"country": "RO"}] * 21},
        {"code": "OK-1", "name": "x", "addresses": {"country": "RO"}},
        {"code": "OK-1", "name": "x", "contacts": [{"role": "Sales"}]},
        {"code": "OK-1", "name": "x", "contacts": [{"name": "A", "email": "nope"}]},
        {"code": "OK-1", "name": "x", "contacts": [{"name": "A"}] * 51},
    ],
)
async def test_bad_company_input_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    editor = await _editor(database)
    before = await _row_counts(database)

    response = await client.post(f"{BASE}/companies", json=body, headers=editor.headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "request.validation_failed"
    assert await _row_counts(database) == before


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x y"},
        {"name": ""},
        {"currency": "usdd"},
        {"is_active": "false"},
        {"addresses": [{"country": "RO"}] * 21},
        {"contacts": [{"name": ""}]},
        {"id": 5},
    ],
)
async def test_bad_company_update_is_refused_and_nothing_changes(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any]
) -> None:
    editor = await _editor(database)
    company = await _company(client, editor, "KEEP")
    before = await _row_counts(database)

    response = await client.put(f"{BASE}/companies/{company['id']}", json=body, headers=editor.headers)

    assert (response.status_code, response.json()["code"]) == (422, "request.validation_failed")
    assert await _row_counts(database) == before
    assert (await client.get(f"{BASE}/companies/{company['id']}", headers=editor.headers)).json() == company


async def test_company_list_filters_search_sort_and_pages(client: httpx.AsyncClient, database: Database) -> None:
    editor = await _editor(database)
    await _company(client, editor, "B-SUP", name="Beta Chemicals", is_supplier=True, tax_id="RO777")
    await _company(client, editor, "A-MAN", name="Delta Labs", is_manufacturer=True)
    await _company(client, editor, "C-CUS", name="Alpha Pharmacy", is_customer=True)
    await _company(client, editor, "D-OLD", name="Gamma Old", is_supplier=True, is_active=False)

    async def codes(**params: Any) -> list[str]:
        response = await client.get(f"{BASE}/companies", params=params, headers=editor.headers)
        assert response.status_code == 200, response.text
        return [c["code"] for c in response.json()["items"]]

    page = (await client.get(f"{BASE}/companies", params={"limit": 2, "offset": 1}, headers=editor.headers)).json()
    assert (page["total"], page["offset"], page["limit"]) == (4, 1, 2)
    assert [c["code"] for c in page["items"]] == ["B-SUP", "A-MAN"]
    assert await codes() == ["C-CUS", "B-SUP", "A-MAN", "D-OLD"]
    assert await codes(sort="code") == ["A-MAN", "B-SUP", "C-CUS", "D-OLD"]
    assert await codes(sort="-code") == ["D-OLD", "C-CUS", "B-SUP", "A-MAN"]
    assert await codes(sort="created_at") == ["B-SUP", "A-MAN", "C-CUS", "D-OLD"]
    assert await codes(sort="-name") == ["D-OLD", "A-MAN", "B-SUP", "C-CUS"]
    assert await codes(is_supplier="true") == ["B-SUP", "D-OLD"]
    assert await codes(is_supplier="true", is_active="true") == ["B-SUP"]
    assert await codes(is_manufacturer="true") == ["A-MAN"]
    assert await codes(is_customer="true") == ["C-CUS"]
    assert await codes(is_active="false") == ["D-OLD"]
    assert await codes(search="pharm") == ["C-CUS"]
    assert await codes(search="ro777") == ["B-SUP"]
    assert await codes(search="a-m") == ["A-MAN"]
    assert await codes(search="100%") == []
    bad_sort = await client.get(f"{BASE}/companies", params={"sort": "tax_id"}, headers=editor.headers)
    assert (bad_sort.status_code, bad_sort.json()["code"]) == (422, "listing.invalid_sort")
    bad_filter = await client.get(f"{BASE}/companies", params={"is_active": "maybe"}, headers=editor.headers)
    assert bad_filter.status_code == 422
