"""Receiving against purchase orders over HTTP: one lot and one receipt movement per delivery, the
line's received quantity and the order's state; every refusal (state, quantity, over-receipt,
location, dates, transport checks, batch codes) leaves the data as it was; failed checks keep a lot in
quarantine; and receipts nothing has used yet are reversed."""

from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.stock import service as stock_service
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    PROCUREMENT,
    add_line,
    bare_order,
    dec,
    get_lines,
    get_order,
    issue,
    issued_order,
    line_ids,
    lot,
    make_order,
    make_plant,
    movements,
    ok,
    order_url,
    receipt,
    receive,
    received,
    refused,
    reverse,
    snapshot,
    state_change,
)
from tests.factories.stock import make_location, make_lot

pytestmark = pytest.mark.anyio


async def _reverser(database: Database) -> MadeUser:
    return await make_user(
        database, username="rita", permissions=["procurement.view", "procurement.reverse_receipt", "stock.view"]
    )


async def _ledger_ok(database: Database) -> None:
    async with database.session(write=False) as session:
        report = await stock_service.check_ledger(session)
    assert report.ok, report.problems


async def test_a_receipt_is_one_lot_with_one_receipt_movement_and_moves_the_line_and_the_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    second_store = await make_location(database, "WH-2", name="Second store")
    order = await issued_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "40")])
    oid = order["id"]
    first_line, box_line = await line_ids(client, plant, oid)
    body = receipt(
        first_line,
        "60.5",
        batch_code=" B-2026-001 ",
        location_id=second_store,
        expected_quantity="60.5",
        retest_date="2027-10-01",
        containers=[{"num_containers": 3, "products_per_container": "20.166", "unit": "drum"}],
        containers_cleaned=True,
        accord_ba=True,
        is_list_supplier=True,
        supplier_ba_no="BA-77",
        supplier_ba_date="2026-10-02",
        notes="Dock 2",
    )

    made = await received(client, plant, oid, body)

    assert made["batch_code"] == "B-2026-001"
    assert made["status"]["slug"] == "quarantine"
    assert (dec(made["quantity"]), dec(made["received_quantity"]), dec(made["expected_quantity"])) == (
        dec("60.5"),
        dec("60.5"),
        dec("60.5"),
    )
    assert [(b["location_id"], b["location_code"], dec(b["quantity"])) for b in made["balances"]] == [
        (second_store, "WH-2", dec("60.5"))
    ]
    assert (made["origin_type"], made["origin_id"], made["origin_line_id"], made["origin_reference"]) == (
        "purchase_order",
        oid,
        first_line,
        order["reference"],
    )
    assert (made["part_id"], made["supplier_id"], made["supplier_batch_code"]) == (
        plant.part_id,
        plant.supplier_id,
        "SUP-LOT-7",
    )
    assert (made["manufacturing_date"], made["expiry_date"], made["retest_date"]) == (
        "2026-10-01",
        "2028-10-01",
        "2027-10-01",
    )
    assert made["findings"] == []
    assert made["receipt"]["containers"][0]["num_containers"] == 3
    assert (made["receipt"]["supplier_ba_no"], made["receipt"]["clean_transport"]) == ("BA-77", True)
    assert (made["received_by_id"], made["notes"], made["reversed_at"]) == (plant.operator.id, "Dock 2", None)
    [movement] = await movements(client, plant.operator, made["id"])
    assert (movement["kind"], movement["location_id"], dec(movement["quantity"])) == (
        "receipt",
        second_store,
        dec("60.5"),
    )
    assert (movement["document_type"], movement["document_id"]) == ("purchase_order", oid)
    lines = await get_lines(client, plant.buyer, oid)
    assert (dec(lines[0]["received_quantity"]), dec(lines[0]["remaining_quantity"])) == (dec("60.5"), dec("39.5"))
    detail = await get_order(client, plant.buyer, oid)
    assert (detail["state"], detail["fully_received_line_count"], detail["closed_at"]) == ("receiving", 0, None)

    # No batch code, no location: generated code, the order's destination.
    generated = await received(client, plant, oid, receipt(first_line, "10"))
    assert generated["batch_code"] == f"{order['reference']}-1-2"
    [movement] = await movements(client, plant.operator, generated["id"])
    assert (movement["location_id"], dec(movement["quantity"])) == (plant.warehouse_id, 10)
    # The part needs no QC release and every check passed: the lot is ok at once.
    box = await received(client, plant, oid, receipt(box_line, "40", expiry_date=None))
    assert (box["batch_code"], box["status"]["slug"]) == (f"{order['reference']}-2-1", "ok")
    assert len(await movements(client, plant.operator, box["id"])) == 1
    transferable = await received(client, plant, oid, receipt(first_line, "29.5", transferable=True))
    assert transferable["status"]["slug"] == "quarantine_transferable"

    detail = await get_order(client, plant.buyer, oid)
    assert (detail["state"], detail["fully_received_line_count"], detail["close_reason"]) == (
        "finished",
        2,
        "All lines received",
    )
    listed = ok(await client.get(order_url(oid, "/received-items"), headers=plant.buyer.headers))
    assert [item["id"] for item in listed["items"]] == [transferable["id"], box["id"], generated["id"], made["id"]]
    assert listed["total"] == 4
    found = ok(
        await client.get(order_url(oid, "/received-items"), params={"search": "b-2026"}, headers=plant.buyer.headers)
    )
    assert [item["id"] for item in found["items"]] == [made["id"]]
    await _ledger_ok(database)


async def test_the_line_destination_comes_before_the_orders(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    second_store = await make_location(database, "WH-2")
    order = await bare_order(client, plant, destination_id=plant.warehouse_id)
    await add_line(client, plant, order["id"], plant.untested_part_id, "10", destination_id=second_store)
    await issue(client, plant, order["id"])
    [line] = await line_ids(client, plant, order["id"])

    made = await received(client, plant, order["id"], receipt(line, "4", expiry_date=None))

    assert [b["location_id"] for b in made["balances"]] == [second_store]


async def test_receipts_are_taken_only_while_the_order_is_issued_or_receiving(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    manager = await make_user(database, username="mara", permissions=["procurement.view", "procurement.finish"])
    pending = await make_order(client, plant)
    cancelled = await make_order(client, plant)
    ok(await state_change(client, plant.buyer, cancelled["id"], "cancelled", "not needed"))
    finished = await issued_order(client, plant)
    ok(await state_change(client, manager, finished["id"], "finished", "bought elsewhere"))

    for order, state in ((pending, "pending"), (cancelled, "cancelled"), (finished, "finished")):
        [line] = await line_ids(client, plant, order["id"])
        before = await snapshot(client, database, plant.admin, order["id"])
        response = await receive(client, plant, order["id"], receipt(line, "10"))
        assert refused(response, 409, "procurement.not_receivable")["details"] == {"state": state}
        assert await snapshot(client, database, plant.admin, order["id"]) == before


async def test_bad_receipts_are_refused_and_change_nothing(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    closed = await make_location(database, "WH-OLD", is_active=False)
    order = await issued_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    other = await issued_order(client, plant)
    [other_line] = await line_ids(client, plant, other["id"])
    await received(client, plant, oid, receipt(line, "60", batch_code="B-1"))
    before = await snapshot(client, database, plant.admin, oid)
    invalid = "request.validation_failed"
    cases: list[tuple[dict[str, Any], int, str]] = [
        (receipt(line, "0"), 422, invalid),
        (receipt(line, "-5"), 422, invalid),
        (receipt(line, "ten"), 422, invalid),
        (receipt(line, "0.0000001"), 422, invalid),
        (receipt(line, "NaN"), 422, invalid),
        (receipt(line, "40.000001"), 409, "procurement.over_receipt"),
        (receipt(line, "41"), 409, "procurement.over_receipt"),
        (receipt(other_line, "1"), 404, "procurement.line_not_found"),
        (receipt(999_999, "1"), 404, "procurement.line_not_found"),
        (receipt(line, "1", location_id=plant.lab_id), 422, "procurement.unknown_reference"),
        (receipt(line, "1", location_id=closed), 422, "procurement.unknown_reference"),
        (receipt(line, "1", location_id=999_999), 422, "procurement.unknown_reference"),
        (receipt(line, "1", manufacturing_date="2026-10-01", expiry_date="2026-09-30"), 422, invalid),
        (receipt(line, "1", manufacturing_date="2026-10-01", expiry_date="2026-10-01"), 422, invalid),
        (receipt(line, "1", manufacturing_date="2026-10-01", retest_date="2026-09-01"), 422, invalid),
        (receipt(line, "1", expiry_date="2028-02-30"), 422, invalid),
        (receipt(line, "1", expiry_date=None), 422, "procurement.invalid_receipt"),
        (receipt(line, "1", temperature_control=True), 422, invalid),
        (receipt(line, "1", temperature_conditions_met=True), 422, invalid),
        (receipt(line, "1", temperature_control="yes", temperature_conditions_met=True), 422, invalid),
        (receipt(line, "1", clean_transport="true"), 422, invalid),
        (receipt(line, "1", containers=[{"num_containers": 0, "products_per_container": "1"}]), 422, invalid),
        (receipt(line, "1", containers=[{"num_containers": 1, "products_per_container": "0"}]), 422, invalid),
        (receipt(line, "1", containers=[{"num_containers": 1, "products_per_container": "1", "x": 1}]), 422, invalid),
        (receipt(line, "1", batch_code=""), 422, invalid),
        (receipt(line, "1", batch_code="B" * 65), 422, invalid),
        (receipt(line, "1", batch_code="B-1"), 409, "stock.batch_code_taken"),
        (receipt(line, "1", batch_code=" B-1 "), 409, "stock.batch_code_taken"),
        (receipt(line, "1", status="ok"), 422, invalid),
        (receipt(line, "1", origin_id=other["id"]), 422, invalid),
        (receipt(line, "1", part_id=plant.untested_part_id), 422, invalid),
        ({"quantity": "1"}, 422, invalid),
    ]

    for body, status, code in cases:
        refused(await receive(client, plant, oid, body), status, code)

    assert await snapshot(client, database, plant.admin, oid) == before
    over = refused(await receive(client, plant, oid, receipt(line, "41")), 409, "procurement.over_receipt")
    assert over["details"] == {"ordered": "100", "received": "60", "requested": "41", "allowed_total": "100"}


async def test_an_order_and_line_without_a_destination_need_a_location(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await bare_order(client, plant)
    await add_line(client, plant, order["id"], plant.untested_part_id, "10")
    await issue(client, plant, order["id"])
    [line] = await line_ids(client, plant, order["id"])
    before = await snapshot(client, database, plant.admin, order["id"])

    response = await receive(client, plant, order["id"], receipt(line, "5", expiry_date=None))

    problem = refused(response, 422, "procurement.invalid_receipt")
    assert problem["errors"] == [{"loc": ["body", "location_id"], "code": "missing", "msg": "required"}]
    assert await snapshot(client, database, plant.admin, order["id"]) == before
    made = await received(
        client, plant, order["id"], receipt(line, "5", expiry_date=None, location_id=plant.warehouse_id)
    )
    assert [b["location_id"] for b in made["balances"]] == [plant.warehouse_id]


async def test_a_failed_check_keeps_the_lot_in_quarantine_with_its_findings(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant, lines=[(plant.untested_part_id, "1000")])
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    good = {"expiry_date": None, "containers_cleaned": True, "accord_ba": True, "is_list_supplier": True}
    drums = {"num_containers": 2, "products_per_container": "10"}
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"containers": [{**drums, "is_damaged": True}, {**drums, "num_containers": 3}]}, ["containers_damaged:2"]),
        (
            {"containers": [{**drums, "is_unsealed": True, "is_mislabeled": True}]},
            ["containers_unsealed:2", "containers_mislabeled:2"],
        ),
        ({"clean_transport": False}, ["transport_not_clean"]),
        ({"temperature_control": True, "temperature_conditions_met": False}, ["temperature_conditions_not_met"]),
        ({"containers_cleaned": False, "transferable": True}, ["containers_not_cleaned"]),
        (
            {"accord_ba": False, "is_list_supplier": False},
            ["not_in_accordance_with_supplier_certificate", "supplier_not_on_approved_list"],
        ),
    ]

    for fields, findings in cases:
        made = await received(client, plant, oid, receipt(line, "1", **{**good, **fields}))
        assert (made["status"]["slug"], made["findings"]) == ("quarantine", findings), fields
        assert made["status"]["is_transferable"] is False

    passed = await received(
        client, plant, oid, receipt(line, "1", temperature_control=True, temperature_conditions_met=True, **good)
    )
    assert (passed["status"]["slug"], passed["findings"]) == ("ok", [])
    unchecked = await received(client, plant, oid, receipt(line, "1", expiry_date=None, clean_transport=None))
    assert (unchecked["status"]["slug"], unchecked["findings"]) == ("ok", [])


async def test_the_over_receipt_check_counts_every_receipt_on_the_line(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant, lines=[(plant.part_id, "10"), (plant.part_id, "5")])
    first, second = await line_ids(client, plant, order["id"])
    await received(client, plant, order["id"], receipt(first, "4"))
    await received(client, plant, order["id"], receipt(first, "6"))
    before = await snapshot(client, database, plant.admin, order["id"])

    refused(await receive(client, plant, order["id"], receipt(first, "0.000001")), 409, "procurement.over_receipt")
    assert await snapshot(client, database, plant.admin, order["id"]) == before
    assert (await get_order(client, plant.buyer, order["id"]))["state"] == "receiving"
    await received(client, plant, order["id"], receipt(second, "5"))
    assert (await get_order(client, plant.buyer, order["id"]))["state"] == "finished"


async def test_a_receipt_nothing_used_is_reversed_and_the_order_follows(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    reverser = await _reverser(database)
    order = await issued_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    first = await received(client, plant, oid, receipt(line, "60", batch_code="B-1"))
    second = await received(client, plant, oid, receipt(line, "40", batch_code="B-2"))
    assert (await get_order(client, plant.buyer, oid))["state"] == "finished"

    undone = ok(await reverse(client, reverser, second["id"], " Booked on the wrong order "))

    assert undone["reversed_at"] is not None
    assert (undone["reversed_by_id"], undone["reversal_reason"]) == (reverser.id, "Booked on the wrong order")
    assert dec(undone["quantity"]) == 0
    assert dec(undone["received_quantity"]) == 40
    kept = await movements(client, reverser, second["id"])
    assert sorted((m["kind"], m["location_id"], dec(m["quantity"])) for m in kept) == [
        ("receipt", plant.warehouse_id, 40),
        ("reversal", plant.warehouse_id, -40),
    ]
    assert [dec(b["quantity"]) for b in (await lot(client, reverser, second["id"]))["balances"]] in ([], [0])
    [detail] = await get_lines(client, plant.buyer, oid)
    assert (dec(detail["received_quantity"]), dec(detail["remaining_quantity"])) == (60, 40)
    order_now = await get_order(client, plant.buyer, oid)
    assert (order_now["state"], order_now["close_reason"], order_now["closed_at"]) == ("receiving", None, None)
    listed = ok(await client.get(order_url(oid, "/received-items"), headers=plant.buyer.headers))
    assert [item["id"] for item in listed["items"]] == [first["id"]]
    everything = ok(
        await client.get(
            order_url(oid, "/received-items"), params={"include_reversed": True}, headers=plant.buyer.headers
        )
    )
    assert [item["id"] for item in everything["items"]] == [second["id"], first["id"]]
    trail = await entries(database, entity_type="stock_lot", entity_id=str(second["id"]))
    assert trail[-1]["action"] == "stock_lot.update"
    assert trail[-1]["reason"] == "Booked on the wrong order"

    before = await snapshot(client, database, plant.admin, oid)
    refused(await reverse(client, reverser, second["id"]), 409, "stock.lot_reversed")
    assert await snapshot(client, database, plant.admin, oid) == before

    ok(await reverse(client, reverser, first["id"]))
    [detail] = await get_lines(client, plant.buyer, oid)
    assert dec(detail["received_quantity"]) == 0
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"
    # The order takes receipts again; generated batch codes never reuse a reversed lot's.
    again = await received(client, plant, oid, receipt(line, "100"))
    assert again["batch_code"] == f"{order['reference']}-1-3"
    assert (await get_order(client, plant.buyer, oid))["state"] == "finished"
    await _ledger_ok(database)


async def test_reversal_is_refused_for_used_unknown_or_foreign_lots(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    reverser = await _reverser(database)
    order = await issued_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    sampled = await received(client, plant, oid, receipt(line, "10", batch_code="B-S"))
    recorded = await received(client, plant, oid, receipt(line, "10", batch_code="B-R"))
    untouched = await received(client, plant, oid, receipt(line, "10", batch_code="B-U"))
    qc_url = order_url(oid, "/qc-records")
    ok(
        await client.post(qc_url, json={"lot_id": sampled["id"], "sampled_quantity": "0.5"}, headers=plant.qc.headers),
        201,
    )
    ok(await client.post(qc_url, json={"lot_id": recorded["id"]}, headers=plant.qc.headers), 201)
    manual = await make_lot(
        database, part_id=plant.part_id, location_id=plant.warehouse_id, quantity=5, batch_code="M-1"
    )
    before = await snapshot(client, database, plant.admin, oid)

    for used in (sampled, recorded):
        problem = refused(await reverse(client, reverser, used["id"]), 409, "stock.lot_in_use")
        assert problem["details"]["lot_id"] == used["id"]
    for missing in (999_999, manual):
        refused(await reverse(client, reverser, missing), 404, "procurement.received_lot_not_found")
    for reason in (None, "", "   "):
        refused(await reverse(client, reverser, untouched["id"], reason), 422, "request.validation_failed")
    refused(await reverse(client, reverser, untouched["id"], "r" * 2001), 422, "request.validation_failed")
    for user in (plant.operator, plant.buyer, plant.qc):
        problem = refused(await reverse(client, user, untouched["id"]), 403, "permission_denied")
        assert problem["details"] == {"required_permission": "procurement.reverse_receipt"}
    refused(
        await client.delete(f"{PROCUREMENT}/stock-items/{untouched['id']}", params={"reason": "x"}),
        401,
        "auth.not_authenticated",
    )

    assert await snapshot(client, database, plant.admin, oid) == before
    assert (await lot(client, plant.admin, untouched["id"]))["reversed_at"] is None


async def test_a_receipt_of_an_order_finished_by_hand_is_not_reversed(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    reverser = await _reverser(database)
    finisher = await make_user(database, username="fin", permissions=["procurement.view", "procurement.finish"])
    order = await issued_order(client, plant)
    [line] = await line_ids(client, plant, order["id"])
    short = await received(client, plant, order["id"], receipt(line, "70", batch_code="SHORT-1"))
    ok(await state_change(client, finisher, order["id"], "finished", "Supplier delivered 70 of 100"))
    before = await snapshot(client, database, plant.admin, order["id"])

    refused(await reverse(client, reverser, short["id"]), 409, "procurement.order_closed")

    assert await snapshot(client, database, plant.admin, order["id"]) == before
    assert (await get_order(client, plant.buyer, order["id"]))["close_reason"] == "Supplier delivered 70 of 100"
