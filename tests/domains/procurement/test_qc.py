"""QC of received lots through the procurement routes: records only for this order's lots, sampling
within what the lot holds, confirmation with the signer's password, a result and qc.release, and the
lot's status after it; confirmed records are final and re-tests are new records."""

from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import make_user
from tests.factories.procurement import (
    Plant,
    dec,
    issued_order,
    line_ids,
    lot,
    make_plant,
    movements,
    ok,
    order_url,
    receipt,
    received,
    refused,
    reverse,
    row_counts,
    snapshot,
)
from tests.factories.stock import make_location, make_lot

pytestmark = pytest.mark.anyio


async def _received_lot(
    client: httpx.AsyncClient, plant: Plant, quantity: str = "10", **fields: Any
) -> tuple[int, Any]:
    """An issued order of the tested part (and the packaging) and one lot received on its first line."""
    order = await issued_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "100")])
    [line, _] = await line_ids(client, plant, order["id"])
    return order["id"], await received(client, plant, order["id"], receipt(line, quantity, **fields))


async def _record(client: httpx.AsyncClient, plant: Plant, order_id: int, **body: Any) -> Any:
    response = await client.post(order_url(order_id, "/qc-records"), json=body, headers=plant.qc.headers)
    return ok(response, 201)


async def _patch(client: httpx.AsyncClient, user: Any, order_id: int, qc_id: int, **body: Any) -> httpx.Response:
    return await client.patch(order_url(order_id, f"/qc-records/{qc_id}"), json=body, headers=user.headers)


async def test_records_are_taken_for_this_orders_lots_within_what_they_hold(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    lab_store = await make_location(database, "WH-LAB", name="Sample store")
    oid, mine = await _received_lot(client, plant, batch_code="B-MINE")
    other_oid, theirs = await _received_lot(client, plant, batch_code="B-THEIRS")
    manual = await make_lot(
        database, part_id=plant.part_id, location_id=plant.warehouse_id, quantity=5, batch_code="M-1"
    )
    url = order_url(oid, "/qc-records")
    before = await snapshot(client, database, plant.admin, oid)
    invalid = "request.validation_failed"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"lot_id": theirs["id"]}, 422, "procurement.unknown_reference"),
        ({"lot_id": manual}, 422, "procurement.unknown_reference"),
        ({"lot_id": 999_999}, 422, "procurement.unknown_reference"),
        ({"lot_id": mine["id"], "sampled_quantity": "10.000001"}, 409, "stock.insufficient"),
        ({"lot_id": mine["id"], "sampled_quantity": "11"}, 409, "stock.insufficient"),
        ({"lot_id": mine["id"], "sampled_quantity": "1", "location_id": lab_store}, 409, "stock.insufficient"),
        ({"lot_id": mine["id"], "sampled_quantity": "1", "location_id": 999_999}, 422, "stock.unknown_reference"),
        ({"lot_id": mine["id"], "sampled_quantity": "-1"}, 422, invalid),
        ({"lot_id": mine["id"], "sampled_quantity": "a bit"}, 422, invalid),
        ({"lot_id": mine["id"], "result": "maybe"}, 422, invalid),
        ({"lot_id": mine["id"], "confirmed": True}, 422, invalid),
        ({"lot_id": mine["id"], "order_id": other_oid}, 422, invalid),
        ({"lot_id": mine["id"], "sampling_date": "21.11.2026"}, 422, invalid),
        ({"lot_id": str(mine["id"])}, 422, invalid),
        ({}, 422, invalid),
    ]

    for body, status, code in cases:
        refused(await client.post(url, json=body, headers=plant.qc.headers), status, code)

    assert await snapshot(client, database, plant.admin, oid) == before
    record = await _record(
        client, plant, oid, lot_id=mine["id"], sampling_date="2026-11-21", sampled_quantity="10", analysis_number="BA-1"
    )
    assert (record["order_id"], record["lot_id"], record["part_id"], record["batch_code"]) == (
        oid,
        mine["id"],
        plant.part_id,
        "B-MINE",
    )
    assert (record["result"], record["confirmed"], record["lot_status"]) == ("pending", False, "quarantine")
    assert (record["created_by_id"], dec(record["sampled_quantity"])) == (plant.qc.id, 10)
    kept = await movements(client, plant.operator, mine["id"])
    assert sorted((m["kind"], dec(m["quantity"])) for m in kept) == [("receipt", 10), ("sampling", -10)]
    assert record["sampling_movement_id"] in {m["id"] for m in kept}
    assert dec((await lot(client, plant.operator, mine["id"]))["quantity"]) == 0
    # Nothing is left to sample.
    counts = await row_counts(database)
    refused(
        await client.post(url, json={"lot_id": mine["id"], "sampled_quantity": "0.000001"}, headers=plant.qc.headers),
        409,
        "stock.insufficient",
    )
    assert await row_counts(database) == counts


async def test_a_reversed_lot_takes_no_qc_record(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    oid, made = await _received_lot(client, plant)
    ok(await reverse(client, plant.admin, made["id"]))
    before = await row_counts(database)

    response = await client.post(order_url(oid, "/qc-records"), json={"lot_id": made["id"]}, headers=plant.qc.headers)

    refused(response, 409, "stock.lot_reversed")
    assert await row_counts(database) == before


async def test_confirming_needs_the_password_a_result_and_qc_release(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    clerk = await make_user(database, username="cleo", permissions=["procurement.view", "stock.view", "qc.record"])
    oid, made = await _received_lot(client, plant)
    record = await _record(client, plant, oid, lot_id=made["id"], sampled_quantity="0.5")
    qid = record["id"]

    async def unchanged(expected_rows: dict[str, int]) -> None:
        assert (await snapshot(client, database, plant.admin, oid))["rows"] == expected_rows
        [now] = ok(await client.get(order_url(oid, "/qc-records"), headers=plant.qc.headers))["items"]
        assert now == record
        assert (await lot(client, plant.qc, made["id"]))["status"]["slug"] == "quarantine"

    rows = (await snapshot(client, database, plant.admin, oid))["rows"]
    for body in (
        {"confirm": True, "result": "conform"},
        {"confirm": True, "result": "conform", "password": ""},
        {"confirm": "yes", "result": "conform", "password": plant.qc.password},
        {"confirmed": True},
        {"result": "passed"},
        {"lot_id": 2},
    ):
        refused(await _patch(client, plant.qc, oid, qid, **body), 422, "request.validation_failed")
    await unchanged(rows)

    pending = await _patch(client, plant.qc, oid, qid, analysis_number="BA-9", confirm=True, password=plant.qc.password)
    refused(pending, 422, "stock.qc_result_pending")
    await unchanged(rows)

    wrong = await _patch(client, plant.qc, oid, qid, result="conform", confirm=True, password="not-my-password")
    refused(wrong, 422, "identity.password_rejected")
    rows = {**rows, "audit_entry": rows["audit_entry"] + 1}  # the failed re-authentication, nothing else
    await unchanged(rows)

    denied = await _patch(client, clerk, oid, qid, result="conform", confirm=True, password=clerk.password)
    refused(denied, 403, "permission_denied")
    await unchanged(rows)

    # Recording without confirming is the clerk's job.
    noted = ok(await _patch(client, clerk, oid, qid, analysis_number="BA-10", analysis_date="2026-11-22"))
    assert (noted["analysis_number"], noted["confirmed"]) == ("BA-10", False)

    rejected = ok(
        await _patch(
            client,
            plant.qc,
            oid,
            qid,
            result="non_conform",
            comment="Assay 91%",
            confirm=True,
            password=plant.qc.password,
            reason="Out of specification",
        )
    )
    assert (rejected["result"], rejected["confirmed"], rejected["lot_status"]) == ("non_conform", True, "rejected")
    assert (rejected["confirmed_by_id"], rejected["comment"]) == (plant.qc.id, "Assay 91%")
    assert rejected["flow_id"] is not None
    assert (await lot(client, plant.qc, made["id"]))["status"]["slug"] == "rejected"
    verification = ok(
        await client.get(f"/api/approvals/flows/{rejected['flow_id']}/verify", headers=plant.admin.headers)
    )
    assert verification["ok"] is True

    final = await row_counts(database)
    refused(await _patch(client, plant.qc, oid, qid, comment="typo"), 409, "stock.qc_confirmed")
    refused(
        await _patch(client, plant.qc, oid, qid, result="conform", confirm=True, password=plant.qc.password),
        409,
        "stock.qc_confirmed",
    )
    assert await row_counts(database) == final


async def test_only_a_lot_in_quarantine_is_released_or_rejected(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "100")])
    oid = order["id"]
    tested, untested = await line_ids(client, plant, oid)
    box = await received(client, plant, oid, receipt(untested, "10", expiry_date=None))
    assert box["status"]["slug"] == "ok"
    drum = await received(client, plant, oid, receipt(tested, "10"))

    for made in (box, drum):
        if made is drum:
            first = await _record(client, plant, oid, lot_id=made["id"], result="conform")
            ok(await _patch(client, plant.qc, oid, first["id"], confirm=True, password=plant.qc.password))
            assert (await lot(client, plant.qc, made["id"]))["status"]["slug"] == "ok"
        record = await _record(client, plant, oid, lot_id=made["id"], result="non_conform")
        before = await row_counts(database)

        response = await _patch(client, plant.qc, oid, record["id"], confirm=True, password=plant.qc.password)

        problem = refused(response, 409, "stock.lot_not_in_quarantine")
        assert problem["details"] == {"lot_id": made["id"], "status": "ok"}
        assert await row_counts(database) == before
        assert (await lot(client, plant.qc, made["id"]))["status"]["slug"] == "ok"


async def test_a_lot_keeps_its_qc_history_newest_first(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    oid, made = await _received_lot(client, plant)
    url = order_url(oid, "/qc-records")
    first = await _record(client, plant, oid, lot_id=made["id"], sampled_quantity="0.5", analysis_number="BA-1")
    ok(await _patch(client, plant.qc, oid, first["id"], result="non_conform", comment="Suspect sample"))
    retest = await _record(client, plant, oid, lot_id=made["id"], sampled_quantity="0.2", analysis_number="BA-1R")

    listed = ok(await client.get(url, headers=plant.buyer.headers))

    assert [r["id"] for r in listed["items"]] == [retest["id"], first["id"]]
    assert listed["total"] == 2
    assert [(r["analysis_number"], r["result"], r["confirmed"]) for r in listed["items"]] == [
        ("BA-1R", "pending", False),
        ("BA-1", "non_conform", False),
    ]
    released = ok(
        await _patch(client, plant.qc, oid, retest["id"], result="conform", confirm=True, password=plant.qc.password)
    )
    assert released["lot_status"] == "ok"
    listed = ok(await client.get(url, headers=plant.buyer.headers))["items"]
    assert [(r["id"], r["confirmed"], r["lot_status"]) for r in listed] == [
        (retest["id"], True, "ok"),
        (first["id"], False, "ok"),
    ]
    assert dec((await lot(client, plant.qc, made["id"]))["quantity"]) == dec("9.3")


async def test_qc_records_are_reached_only_through_their_own_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    oid, made = await _received_lot(client, plant)
    other_oid, other = await _received_lot(client, plant)
    mine = await _record(client, plant, oid, lot_id=made["id"])
    theirs = await _record(client, plant, other_oid, lot_id=other["id"])
    before = await row_counts(database)

    for qc_id in (theirs["id"], 999_999):
        for body in ({"comment": "x"}, {"result": "conform", "confirm": True, "password": plant.qc.password}):
            refused(await _patch(client, plant.qc, oid, qc_id, **body), 404, "procurement.qc_record_not_found")
    refused(await _patch(client, plant.qc, 999_999, mine["id"], comment="x"), 404, "procurement.order_not_found")

    assert await row_counts(database) == before
    assert [
        r["id"] for r in ok(await client.get(order_url(oid, "/qc-records"), headers=plant.qc.headers))["items"]
    ] == [mine["id"]]
