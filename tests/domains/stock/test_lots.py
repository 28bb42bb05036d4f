"""Reading stock: statuses, lots (with part, status, balances) and the movement ledger."""

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import MadeUser, make_user
from tests.factories.stock import BASE, make_location, make_lot, make_part, reverse_lot, set_lot_status

pytestmark = pytest.mark.anyio


async def _viewer(database: Database) -> MadeUser:
    return await make_user(database, username="vic", permissions=["stock.view", "stock.adjust"])


async def test_statuses_are_listed_by_value(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await _viewer(database)

    response = await client.get(f"{BASE}/stock-statuses", headers=viewer.headers)

    assert response.status_code == 200
    body = response.json()
    assert [s["slug"] for s in body["items"]] == [
        "ok",
        "attention",
        "damaged",
        "destroyed",
        "rejected",
        "quarantine",
        "quarantine_transferable",
        "expired",
        "returned",
    ]
    assert body["total"] == 9
    by_slug = {s["slug"]: s for s in body["items"]}
    assert (by_slug["ok"]["value"], by_slug["ok"]["is_transferable"], by_slug["ok"]["is_requestable"]) == (
        10,
        True,
        True,
    )
    assert by_slug["quarantine"]["is_transferable"] is False
    assert by_slug["quarantine_transferable"]["is_transferable"] is True
    assert set(by_slug["ok"]) == {"id", "slug", "name", "value", "color", "is_requestable", "is_transferable"}


async def test_a_lot_reads_with_part_status_and_balances(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await _viewer(database)
    site = await make_location(database, "SITE", "other")
    store = await make_location(database, "STORE", parent_id=site)
    lab = await make_location(database, "LAB", "laboratory", parent_id=site)
    part = await make_part(database, "API-1", unit_code="kg", name="Paracetamol")
    lot = await make_lot(
        database,
        part_id=part,
        location_id=store,
        quantity="12.5",
        batch_code="B-001",
        status="quarantine_transferable",
        supplier_batch_code="SUP-9",
        expiry_date=date(2028, 1, 31),
        origin_type="procurement.order",
        origin_id=7,
        findings=["dented drum"],
    )
    moved = await client.post(
        f"{BASE}/stock-movements",
        json={
            "lot_id": lot,
            "kind": "transfer_out",
            "location_id": store,
            "to_location_id": lab,
            "quantity": "2.5",
            "notes": "to lab",
        },
        headers=viewer.headers,
    )
    assert moved.status_code == 201, moved.text

    response = await client.get(f"{BASE}/stock-lots/{lot}", headers=viewer.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["part"] == {"id": part, "ipn": "API-1", "name": "Paracetamol", "unit": "kg"}
    assert (body["batch_code"], body["supplier_batch_code"], body["expiry_date"]) == ("B-001", "SUP-9", "2028-01-31")
    assert Decimal(body["received_quantity"]) == Decimal("12.5")
    assert Decimal(body["quantity"]) == Decimal("12.5")
    assert [(b["location_code"], Decimal(b["quantity"])) for b in body["balances"]] == [
        ("LAB", Decimal("2.5")),
        ("STORE", Decimal(10)),
    ]
    assert body["balances"][0]["location_id"] == lab
    assert body["status"]["slug"] == "quarantine_transferable"
    assert (body["origin_type"], body["origin_id"], body["findings"]) == ("procurement.order", 7, ["dented drum"])
    assert body["reversed_at"] is None
    missing = await client.get(f"{BASE}/stock-lots/999", headers=viewer.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "stock.lot_not_found")


async def test_lot_list_filters_search_and_sort(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await _viewer(database)
    store = await make_location(database, "STORE")
    lab = await make_location(database, "LAB", "laboratory")
    api = await make_part(database, "API-1")
    box = await make_part(database, "BOX-1", unit_code="pcs")
    first = await make_lot(
        database, part_id=api, location_id=store, quantity=10, batch_code="A-100", expiry_date=date(2027, 6, 1)
    )
    await make_lot(
        database,
        part_id=api,
        location_id=lab,
        quantity=1,
        batch_code="A-200",
        status="ok",
        supplier_batch_code="sup-x1",
        origin_type="procurement.order",
        origin_id=3,
    )
    emptied = await make_lot(
        database, part_id=box, location_id=store, quantity=5, batch_code="C-300", expiry_date=date(2026, 1, 1)
    )
    reversed_lot = await make_lot(database, part_id=box, location_id=store, quantity=2, batch_code="D-400")
    await reverse_lot(database, reversed_lot)
    await set_lot_status(database, first, "ok")
    scrap = await client.post(
        f"{BASE}/stock-movements",
        json={"lot_id": emptied, "kind": "scrap", "location_id": store, "quantity": "5", "notes": "broken"},
        headers=viewer.headers,
    )
    assert scrap.status_code == 201, scrap.text

    async def batches(**params: Any) -> list[str]:
        response = await client.get(f"{BASE}/stock-lots", params=params, headers=viewer.headers)
        assert response.status_code == 200, response.text
        return [lot["batch_code"] for lot in response.json()["items"]]

    page = (await client.get(f"{BASE}/stock-lots", params={"limit": 2, "offset": 1}, headers=viewer.headers)).json()
    assert (page["total"], page["offset"], page["limit"]) == (3, 1, 2)
    assert await batches() == ["C-300", "A-200", "A-100"]  # newest first, reversed lots hidden
    assert await batches(include_reversed="true") == ["D-400", "C-300", "A-200", "A-100"]
    assert await batches(sort="batch_code") == ["A-100", "A-200", "C-300"]
    assert await batches(sort="expiry_date") == ["C-300", "A-100", "A-200"]  # no expiry last
    assert await batches(sort="-expiry_date") == ["A-100", "C-300", "A-200"]
    assert await batches(part_id=api) == ["A-200", "A-100"]
    assert await batches(part_id=box, include_reversed="true") == ["D-400", "C-300"]
    assert await batches(status="ok") == ["A-200", "A-100"]
    assert await batches(status="quarantine") == ["C-300"]
    assert await batches(status="no-such-status") == []
    assert await batches(location_id=store) == ["A-100"]
    assert await batches(location_id=lab) == ["A-200"]
    assert await batches(in_stock="true") == ["A-200", "A-100"]
    assert await batches(in_stock="false") == ["C-300"]
    assert await batches(origin_type="procurement.order") == ["A-200"]
    assert await batches(origin_id=3) == ["A-200"]
    assert await batches(search="SUP-X") == ["A-200"]
    assert await batches(search="a-1") == ["A-100"]
    reversed_read = (await client.get(f"{BASE}/stock-lots/{reversed_lot}", headers=viewer.headers)).json()
    assert reversed_read["reversed_at"] is not None
    assert (Decimal(reversed_read["quantity"]), reversed_read["balances"]) == (Decimal(0), [])
    bad_sort = await client.get(f"{BASE}/stock-lots", params={"sort": "quantity"}, headers=viewer.headers)
    assert (bad_sort.status_code, bad_sort.json()["code"]) == (422, "listing.invalid_sort")


async def test_the_ledger_lists_movements_newest_first(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await _viewer(database)
    store = await make_location(database, "STORE")
    lab = await make_location(database, "LAB", "laboratory")
    part = await make_part(database, "API-1")
    other_part = await make_part(database, "API-2")
    lot = await make_lot(database, part_id=part, location_id=store, quantity=10, batch_code="L-1", status="ok")
    other = await make_lot(database, part_id=other_part, location_id=lab, quantity=4, batch_code="L-2")
    for body in (
        {"kind": "adjustment", "location_id": store, "quantity": "-1", "notes": "recount"},
        {"kind": "transfer_out", "location_id": store, "to_location_id": lab, "quantity": "3", "notes": "move"},
    ):
        response = await client.post(f"{BASE}/stock-movements", json={"lot_id": lot, **body}, headers=viewer.headers)
        assert response.status_code == 201, response.text

    async def kinds(url: str, **params: Any) -> list[str]:
        response = await client.get(f"{BASE}{url}", params=params, headers=viewer.headers)
        assert response.status_code == 200, response.text
        return [m["kind"] for m in response.json()["items"]]

    of_lot = (await client.get(f"{BASE}/stock-lots/{lot}/movements", headers=viewer.headers)).json()
    assert [m["kind"] for m in of_lot["items"]] == ["transfer_in", "transfer_out", "adjustment", "receipt"]
    assert of_lot["total"] == 4
    receipt = of_lot["items"][-1]
    assert (receipt["lot_id"], receipt["part_id"], receipt["location_id"], Decimal(receipt["quantity"])) == (
        lot,
        part,
        store,
        Decimal(10),
    )
    assert await kinds(f"/stock-lots/{lot}/movements", sort="created_at") == [
        "receipt",
        "adjustment",
        "transfer_out",
        "transfer_in",
    ]
    assert await kinds("/stock-movements") == ["transfer_in", "transfer_out", "adjustment", "receipt", "receipt"]
    assert await kinds("/stock-movements", lot_id=other) == ["receipt"]
    assert await kinds("/stock-movements", part_id=part, kind="receipt") == ["receipt"]
    assert await kinds("/stock-movements", location_id=lab) == ["transfer_in", "receipt"]
    assert await kinds("/stock-movements", kind="adjustment") == ["adjustment"]
    assert await kinds("/stock-movements", search="recount") == ["adjustment"]
    assert await kinds("/stock-movements", limit=1, offset=1) == ["transfer_out"]
    missing = await client.get(f"{BASE}/stock-lots/999/movements", headers=viewer.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "stock.lot_not_found")
    bad_kind = await client.get(f"{BASE}/stock-movements", params={"kind": "theft"}, headers=viewer.headers)
    assert bad_kind.status_code == 422
