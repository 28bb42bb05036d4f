"""QC records on a lot's own route: sampling takes stock out through the ledger, all or nothing."""

from decimal import Decimal

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import MadeUser, make_user
from tests.factories.stock import BASE, balance, make_location, make_lot, make_part, reverse_lot, row_counts

pytestmark = pytest.mark.anyio


async def _recorder(database: Database) -> MadeUser:
    return await make_user(database, username="quinn", permissions=["stock.view", "qc.record"])


async def _lot(database: Database, quantity: int = 5) -> tuple[int, int, int]:
    store = await make_location(database, "STORE")
    lab = await make_location(database, "LAB", "laboratory")
    lot = await make_lot(
        database, part_id=await make_part(database, "API-1"), location_id=store, quantity=quantity, batch_code="L-1"
    )
    return lot, store, lab


async def test_sampling_posts_a_movement_and_reduces_the_balance(client: httpx.AsyncClient, database: Database) -> None:
    recorder = await _recorder(database)
    lot, store, _lab = await _lot(database)

    response = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records",
        json={"sampled_quantity": "0.25", "sampling_date": "2026-11-20", "analysis_number": "AN-1"},
        headers=recorder.headers,
    )

    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["lot_id"], record["batch_code"], record["lot_status"]) == (lot, "L-1", "quarantine")
    assert (Decimal(record["sampled_quantity"]), record["result"], record["confirmed"]) == (
        Decimal("0.25"),
        "pending",
        False,
    )
    assert record["created_by_id"] == recorder.id
    assert await balance(database, lot, store) == Decimal("4.75")
    movements = (await client.get(f"{BASE}/stock-lots/{lot}/movements", headers=recorder.headers)).json()["items"]
    sampling = movements[0]
    assert (sampling["id"], sampling["kind"], Decimal(sampling["quantity"])) == (
        record["sampling_movement_id"],
        "sampling",
        Decimal("-0.25"),
    )
    assert (sampling["location_id"], sampling["document_type"]) == (store, "qc_record")
    listed = (await client.get(f"{BASE}/stock-lots/{lot}/qc-records", headers=recorder.headers)).json()
    assert listed["total"] == 1
    assert listed["items"] == [record]


async def test_a_record_without_sampling_moves_nothing(client: httpx.AsyncClient, database: Database) -> None:
    recorder = await _recorder(database)
    lot, store, _lab = await _lot(database)

    first = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records", json={"lot_id": lot, "result": "conform"}, headers=recorder.headers
    )
    second = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records", json={"comment": "re-test"}, headers=recorder.headers
    )

    assert first.status_code == 201, first.text
    assert (first.json()["sampling_movement_id"], first.json()["result"]) == (None, "conform")
    assert await balance(database, lot, store) == Decimal(5)
    listed = (await client.get(f"{BASE}/stock-lots/{lot}/qc-records", headers=recorder.headers)).json()
    assert [r["id"] for r in listed["items"]] == [second.json()["id"], first.json()["id"]]
    searched = await client.get(
        f"{BASE}/stock-lots/{lot}/qc-records", params={"search": "RE-TEST"}, headers=recorder.headers
    )
    assert [r["id"] for r in searched.json()["items"]] == [second.json()["id"]]


async def test_sampling_more_than_available_writes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    recorder = await _recorder(database)
    lot, store, lab = await _lot(database, quantity=2)
    before = await row_counts(database)

    too_much = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records", json={"sampled_quantity": "2.5"}, headers=recorder.headers
    )
    elsewhere = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records",
        json={"sampled_quantity": "1", "location_id": lab},
        headers=recorder.headers,
    )

    assert (too_much.status_code, too_much.json()["code"]) == (409, "stock.insufficient")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "stock.insufficient")
    assert await row_counts(database) == before
    assert await balance(database, lot, store) == Decimal(2)


async def test_bad_qc_requests_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    recorder = await _recorder(database)
    lot, store, _lab = await _lot(database)
    part = await make_part(database, "API-2")
    other = await make_lot(database, part_id=part, location_id=store, quantity=1, batch_code="O-1")
    reversed_lot = await make_lot(database, part_id=part, location_id=store, quantity=1, batch_code="R-1")
    await reverse_lot(database, reversed_lot)
    before = await row_counts(database)

    mismatch = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records", json={"lot_id": other}, headers=recorder.headers
    )
    missing = await client.post(f"{BASE}/stock-lots/999/qc-records", json={}, headers=recorder.headers)
    reversed_ = await client.post(f"{BASE}/stock-lots/{reversed_lot}/qc-records", json={}, headers=recorder.headers)
    unknown_location = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records",
        json={"sampled_quantity": "1", "location_id": 9999},
        headers=recorder.headers,
    )
    negative = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records", json={"sampled_quantity": "-1"}, headers=recorder.headers
    )
    confirm = await client.post(
        f"{BASE}/stock-lots/{lot}/qc-records", json={"confirmed": True}, headers=recorder.headers
    )
    list_missing = await client.get(f"{BASE}/stock-lots/999/qc-records", headers=recorder.headers)

    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "stock.lot_mismatch")
    assert mismatch.json()["errors"][0]["loc"] == ["body", "lot_id"]
    assert (missing.status_code, missing.json()["code"]) == (404, "stock.lot_not_found")
    assert (reversed_.status_code, reversed_.json()["code"]) == (409, "stock.lot_reversed")
    assert (unknown_location.status_code, unknown_location.json()["code"]) == (422, "stock.unknown_reference")
    assert negative.status_code == 422
    assert confirm.status_code == 422
    assert (list_missing.status_code, list_missing.json()["code"]) == (404, "stock.lot_not_found")
    assert await row_counts(database) == before
