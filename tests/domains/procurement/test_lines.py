"""Order lines over HTTP: added, changed and removed while the order is pending and unsigned, locked
from the first signature on, bad quantities and references refused, and lines reached only through
their own order."""

from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.company import make_part, make_supplier, make_supplier_part
from tests.factories.procurement import (
    add_line,
    bare_order,
    dec,
    get_lines,
    get_order,
    issue,
    line_ids,
    make_order,
    make_plant,
    ok,
    order_url,
    refused,
    sign,
    snapshot,
)

pytestmark = pytest.mark.anyio


async def test_lines_are_added_changed_and_removed_while_the_order_is_pending_and_unsigned(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    offer = await make_supplier_part(
        database, supplier_id=plant.supplier_id, part_id=plant.part_id, supplier_code="PCM-25KG"
    )
    order = await bare_order(client, plant, destination_id=plant.warehouse_id)
    oid = order["id"]

    first = await add_line(
        client,
        plant,
        oid,
        plant.part_id,
        "100.5",
        purchase_price="12.50",
        supplier_part_id=offer,
        reference="  L-1 ",
        notes="25 kg drums",
    )
    second = await add_line(
        client, plant, oid, plant.untested_part_id, "0.000001", currency="eur", destination_id=plant.warehouse_id
    )

    assert (first["order_id"], first["line_number"], second["line_number"]) == (oid, 1, 2)
    assert first["part"] == {"id": plant.part_id, "ipn": "API-001", "name": "Paracetamol API", "unit": "kg"}
    assert (first["supplier_part_id"], first["reference"], first["notes"]) == (offer, "L-1", "25 kg drums")
    assert (first["currency"], second["currency"]) == ("RON", "EUR")  # the order's, unless given
    assert dec(first["quantity"]) == dec("100.5")
    assert (dec(first["received_quantity"]), dec(first["remaining_quantity"])) == (0, dec("100.5"))
    assert dec(second["quantity"]) == dec("0.000001")
    assert second["destination_id"] == plant.warehouse_id
    detail = await get_order(client, plant.buyer, oid)
    assert (detail["line_count"], dec(detail["total_price"])) == (2, dec("1256.25"))
    assert detail["editable"] is True
    assert [line["id"] for line in await get_lines(client, plant.buyer, oid)] == [first["id"], second["id"]]

    changed = ok(
        await client.put(
            order_url(oid, f"/items/{first['id']}"),
            json={"quantity": "80", "purchase_price": None, "supplier_part_id": None},
            headers=plant.buyer.headers,
        )
    )
    assert (dec(changed["quantity"]), changed["purchase_price"], changed["supplier_part_id"]) == (80, None, None)
    assert (changed["reference"], changed["notes"], changed["line_number"]) == ("L-1", "25 kg drums", 1)
    assert dec((await get_order(client, plant.buyer, oid))["total_price"]) == 0
    update = (await entries(database, action="procurement_order_line.update", entity_id=str(first["id"])))[-1]
    assert update["actor_user_id"] == plant.buyer.id
    assert dec(update["changes"]["before"]["quantity"]) == dec("100.5")
    assert dec(update["changes"]["after"]["quantity"]) == 80

    deleted = await client.delete(order_url(oid, f"/items/{second['id']}"), headers=plant.buyer.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert [line["id"] for line in await get_lines(client, plant.buyer, oid)] == [first["id"]]
    assert (await get_order(client, plant.buyer, oid))["line_count"] == 1
    assert len(await entries(database, action="procurement_order_line.delete", entity_id=str(second["id"]))) == 1
    again = await client.delete(order_url(oid, f"/items/{second['id']}"), headers=plant.buyer.headers)
    refused(again, 404, "procurement.line_not_found")


async def test_lines_are_listed_in_line_order_with_search_and_pages(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await bare_order(client, plant)
    oid = order["id"]
    made = [
        await add_line(client, plant, oid, plant.part_id, str(n), reference=f"REF-{n}", notes="drum" if n % 2 else "")
        for n in range(1, 6)
    ]
    url = order_url(oid, "/items")

    listed = ok(await client.get(url, headers=plant.buyer.headers))
    assert [line["line_number"] for line in listed["items"]] == [1, 2, 3, 4, 5]
    assert listed["total"] == 5
    page = ok(await client.get(url, params={"limit": 2, "offset": 2}, headers=plant.buyer.headers))
    assert ([line["id"] for line in page["items"]], page["total"]) == ([made[2]["id"], made[3]["id"]], 5)
    newest = ok(await client.get(url, params={"sort": "-line_number", "limit": 1}, headers=plant.buyer.headers))
    assert newest["items"][0]["id"] == made[4]["id"]
    found = ok(await client.get(url, params={"search": "drum"}, headers=plant.buyer.headers))
    assert [line["line_number"] for line in found["items"]] == [1, 3, 5]
    refused(
        await client.get(url, params={"sort": "quantity"}, headers=plant.buyer.headers), 422, "listing.invalid_sort"
    )


async def test_the_first_signature_locks_header_and_lines(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    ok(await sign(client, oid, plant.approver1))

    async def attempts(state: str) -> None:
        before = await snapshot(client, database, plant.buyer, oid)
        assert before["order"]["editable"] is False
        for method, suffix, body in [
            ("POST", "/items", {"part_id": plant.part_id, "quantity": "5"}),
            ("PUT", f"/items/{line}", {"quantity": "5"}),
            ("DELETE", f"/items/{line}", None),
            ("PATCH", "", {"notes": "one more thing"}),
        ]:
            response = await client.request(method, order_url(oid, suffix), json=body, headers=plant.buyer.headers)
            problem = refused(response, 409, "procurement.order_locked")
            assert problem["details"]["state"] == state, (method, suffix)
        assert await snapshot(client, database, plant.buyer, oid) == before

    await attempts("pending")
    ok(await sign(client, oid, plant.approver2))
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"
    await attempts("issued")


async def test_bad_quantities_parts_and_references_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    other_supplier = await make_supplier(database, code="SUP-2")
    retired = await make_part(database, ipn="OLD-001", is_active=False, is_purchaseable=True)
    made_here = await make_part(database, ipn="MIX-001", is_purchaseable=False)
    theirs = await make_supplier_part(
        database, supplier_id=other_supplier, part_id=plant.part_id, supplier_code="THEIRS"
    )
    for_the_box = await make_supplier_part(
        database, supplier_id=plant.supplier_id, part_id=plant.untested_part_id, supplier_code="BOX"
    )
    order = await make_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    before = await snapshot(client, database, plant.buyer, oid)
    part = plant.part_id
    invalid = "request.validation_failed"
    unknown = "procurement.unknown_reference"
    new_lines: list[tuple[dict[str, Any], str]] = [
        ({"part_id": part, "quantity": "0"}, invalid),
        ({"part_id": part, "quantity": "-5"}, invalid),
        ({"part_id": part, "quantity": "0.0000001"}, invalid),
        ({"part_id": part, "quantity": "1.1234567"}, invalid),
        ({"part_id": part, "quantity": "ten"}, invalid),
        ({"part_id": part, "quantity": ""}, invalid),
        ({"part_id": part, "quantity": "NaN"}, invalid),
        ({"part_id": part, "quantity": "Infinity"}, invalid),
        ({"part_id": part, "quantity": None}, invalid),
        ({"part_id": part, "quantity": "1e30"}, invalid),
        ({"part_id": part}, invalid),
        ({"part_id": part, "quantity": "1", "purchase_price": "-0.01"}, invalid),
        ({"part_id": part, "quantity": "1", "currency": "lei1"}, invalid),
        ({"part_id": part, "quantity": "1", "received_quantity": "1"}, invalid),
        ({"part_id": part, "quantity": "1", "line_number": 7}, invalid),
        ({"part_id": part, "quantity": "1", "order_id": oid}, invalid),
        ({"part_id": str(part), "quantity": "1"}, invalid),
        ({"part_id": 0, "quantity": "1"}, invalid),
        ({"part_id": 999_999, "quantity": "1"}, unknown),
        ({"part_id": retired, "quantity": "1"}, unknown),
        ({"part_id": made_here, "quantity": "1"}, unknown),
        ({"part_id": part, "quantity": "1", "supplier_part_id": theirs}, unknown),
        ({"part_id": part, "quantity": "1", "supplier_part_id": for_the_box}, unknown),
        ({"part_id": part, "quantity": "1", "supplier_part_id": 999_999}, unknown),
        ({"part_id": part, "quantity": "1", "destination_id": plant.lab_id}, unknown),
        ({"part_id": part, "quantity": "1", "destination_id": 999_999}, unknown),
    ]
    for body, code in new_lines:
        response = await client.post(order_url(oid, "/items"), json=body, headers=plant.buyer.headers)
        refused(response, 422, code)
    changes: list[tuple[dict[str, Any], str]] = [
        ({"quantity": "0"}, invalid),
        ({"quantity": "-1"}, invalid),
        ({"quantity": "2.0000001"}, invalid),
        ({"quantity": "lots"}, invalid),
        ({"part_id": plant.untested_part_id}, invalid),
        ({"received_quantity": "100"}, invalid),
        ({"purchase_price": "free"}, invalid),
        ({"supplier_part_id": theirs}, unknown),
        ({"supplier_part_id": for_the_box}, unknown),
        ({"destination_id": plant.lab_id}, unknown),
    ]
    for body, code in changes:
        response = await client.put(order_url(oid, f"/items/{line}"), json=body, headers=plant.buyer.headers)
        refused(response, 422, code)

    assert await snapshot(client, database, plant.buyer, oid) == before


async def test_a_line_is_reached_only_through_its_own_order(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    mine = await make_order(client, plant)
    theirs = await make_order(client, plant, lines=[(plant.untested_part_id, "7")])
    [their_line] = await line_ids(client, plant, theirs["id"])
    before = await snapshot(client, database, plant.buyer, theirs["id"])
    mine_before = await snapshot(client, database, plant.buyer, mine["id"])

    for item in (their_line, 999_999):
        put = await client.put(
            order_url(mine["id"], f"/items/{item}"), json={"quantity": "1"}, headers=plant.buyer.headers
        )
        assert refused(put, 404, "procurement.line_not_found")["details"] == {"order_id": mine["id"], "line_id": item}
        delete = await client.delete(order_url(mine["id"], f"/items/{item}"), headers=plant.buyer.headers)
        refused(delete, 404, "procurement.line_not_found")

    assert await snapshot(client, database, plant.buyer, theirs["id"]) == before
    assert await snapshot(client, database, plant.buyer, mine["id"]) == mine_before


async def test_an_issued_order_keeps_its_lines_and_an_order_is_issued_with_them(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "40")])
    await issue(client, plant, order["id"])

    flow = ok(await client.get(order_url(order["id"], "/approval-flow"), headers=plant.buyer.headers))
    lines = await get_lines(client, plant.buyer, order["id"])

    assert flow["status"] == "approved"
    assert [(line["line_number"], dec(line["quantity"])) for line in lines] == [(1, 100), (2, 40)]
    verification = ok(await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=plant.admin.headers))
    assert verification["ok"] is True
    assert all(check["content_unchanged"] for check in verification["signatures"])
