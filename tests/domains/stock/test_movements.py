"""Manual movements: adjustments, scrap and transfers, all or nothing."""

from decimal import Decimal
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user
from tests.factories.stock import BASE, balance, make_location, make_lot, make_part, reverse_lot, row_counts

pytestmark = pytest.mark.anyio


async def _adjuster(database: Database) -> MadeUser:
    return await make_user(database, username="adam", permissions=["stock.view", "stock.adjust"])


async def _post(client: httpx.AsyncClient, user: MadeUser, **body: Any) -> httpx.Response:
    body.setdefault("notes", "by hand")
    return await client.post(f"{BASE}/stock-movements", json=body, headers=user.headers)


async def _setup(database: Database, status: str = "ok", quantity: int = 10) -> tuple[int, int, int]:
    store = await make_location(database, "STORE")
    lab = await make_location(database, "LAB", "laboratory")
    lot = await make_lot(
        database,
        part_id=await make_part(database, "API-1"),
        location_id=store,
        quantity=quantity,
        batch_code="L-1",
        status=status,
    )
    return lot, store, lab


async def test_adjustments_go_either_way(client: httpx.AsyncClient, database: Database) -> None:
    adjuster = await _adjuster(database)
    lot, store, _lab = await _setup(database)

    up = await _post(client, adjuster, lot_id=lot, kind="adjustment", location_id=store, quantity="2.25", notes="found")
    down = await _post(client, adjuster, lot_id=lot, kind="adjustment", location_id=store, quantity="-4")

    assert up.status_code == 201, up.text
    assert down.status_code == 201, down.text
    [item] = up.json()["items"]
    assert (item["kind"], Decimal(item["quantity"]), item["location_id"], item["lot_id"]) == (
        "adjustment",
        Decimal("2.25"),
        store,
        lot,
    )
    assert (item["notes"], item["document_type"], item["transfer_group"]) == ("found", "manual", None)
    assert item["created_by_id"] == adjuster.id
    assert Decimal(down.json()["items"][0]["quantity"]) == Decimal(-4)
    assert await balance(database, lot, store) == Decimal("8.25")
    created = await entries(database, action="stock_movement.create")
    assert [e["actor_username"] for e in created[-2:]] == ["adam", "adam"]


async def test_scrap_takes_stock_out(client: httpx.AsyncClient, database: Database) -> None:
    adjuster = await _adjuster(database)
    lot, store, _lab = await _setup(database, status="damaged")

    response = await _post(client, adjuster, lot_id=lot, kind="scrap", location_id=store, quantity="3")

    assert response.status_code == 201, response.text
    [item] = response.json()["items"]
    assert (item["kind"], Decimal(item["quantity"])) == ("scrap", Decimal(-3))
    assert await balance(database, lot, store) == Decimal(7)


async def test_a_transfer_posts_both_halves(client: httpx.AsyncClient, database: Database) -> None:
    adjuster = await _adjuster(database)
    lot, store, lab = await _setup(database)

    first = await _post(
        client, adjuster, lot_id=lot, kind="transfer_out", location_id=store, to_location_id=lab, quantity="4"
    )
    back = await _post(
        client, adjuster, lot_id=lot, kind="transfer_out", location_id=lab, to_location_id=store, quantity="1"
    )

    assert first.status_code == 201, first.text
    out, into = first.json()["items"]
    assert (out["kind"], out["location_id"], Decimal(out["quantity"])) == ("transfer_out", store, Decimal(-4))
    assert (into["kind"], into["location_id"], Decimal(into["quantity"])) == ("transfer_in", lab, Decimal(4))
    assert out["transfer_group"] == into["transfer_group"]
    assert len(out["transfer_group"]) == 36
    assert back.status_code == 201, back.text
    assert back.json()["items"][0]["transfer_group"] != out["transfer_group"]
    assert await balance(database, lot, store) == Decimal(7)
    assert await balance(database, lot, lab) == Decimal(3)
    read = (await client.get(f"{BASE}/stock-lots/{lot}", headers=adjuster.headers)).json()
    assert Decimal(read["quantity"]) == Decimal(10)
    assert {b["location_code"]: Decimal(b["quantity"]) for b in read["balances"]} == {"STORE": 7, "LAB": 3}


@pytest.mark.parametrize(
    ("status", "allowed"), [("quarantine", False), ("quarantine_transferable", True), ("ok", True)]
)
async def test_transfers_follow_the_lot_status(
    client: httpx.AsyncClient, database: Database, status: str, allowed: bool
) -> None:
    adjuster = await _adjuster(database)
    lot, store, lab = await _setup(database, status=status)
    before = await row_counts(database)

    response = await _post(
        client, adjuster, lot_id=lot, kind="transfer_out", location_id=store, to_location_id=lab, quantity="1"
    )

    if allowed:
        assert response.status_code == 201, response.text
        assert await balance(database, lot, lab) == Decimal(1)
    else:
        assert (response.status_code, response.json()["code"]) == (409, "stock.not_transferable")
        assert response.json()["details"] == {"lot_id": lot, "status": status}
        assert await row_counts(database) == before
    # Quarantined stock is still counted and scrapped where it is.
    assert (
        await _post(client, adjuster, lot_id=lot, kind="adjustment", location_id=store, quantity="-1")
    ).status_code == 201


async def test_taking_more_than_the_balance_writes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    adjuster = await _adjuster(database)
    lot, store, lab = await _setup(database, quantity=5)
    before = await row_counts(database)

    attempts = [
        {"kind": "adjustment", "location_id": store, "quantity": "-5.000001"},
        {"kind": "scrap", "location_id": store, "quantity": "6"},
        {"kind": "transfer_out", "location_id": store, "to_location_id": lab, "quantity": "5.5"},
        # Nothing at the lab yet: the outgoing half fails before the incoming one is written.
        {"kind": "transfer_out", "location_id": lab, "to_location_id": store, "quantity": "1"},
    ]
    for body in attempts:
        response = await _post(client, adjuster, lot_id=lot, **body)
        assert (response.status_code, response.json()["code"]) == (409, "stock.insufficient"), (body, response.text)

    assert await row_counts(database) == before
    assert await balance(database, lot, store) == Decimal(5)
    assert await balance(database, lot, lab) is None
    details = (await _post(client, adjuster, lot_id=lot, kind="scrap", location_id=store, quantity="6")).json()[
        "details"
    ]
    assert details == {"lot_id": lot, "location_id": store, "available": "5", "requested": "6"}
    emptied = await _post(client, adjuster, lot_id=lot, kind="scrap", location_id=store, quantity="5")
    assert emptied.status_code == 201
    assert await balance(database, lot, store) == Decimal(0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "receipt", "quantity": "1"}, "stock.invalid_movement"),
        ({"kind": "consumption", "quantity": "-1"}, "stock.invalid_movement"),
        ({"kind": "transfer_in", "quantity": "1"}, "stock.invalid_movement"),
        ({"kind": "sampling", "quantity": "1"}, "stock.invalid_movement"),
        ({"kind": "reversal", "quantity": "-1"}, "stock.invalid_movement"),
        ({"kind": "adjustment", "quantity": "0"}, "stock.invalid_movement"),
        ({"kind": "scrap", "quantity": "-1"}, "stock.invalid_movement"),
        ({"kind": "scrap", "quantity": "0"}, "stock.invalid_movement"),
        ({"kind": "transfer_out", "quantity": "1"}, "stock.invalid_movement"),
        ({"kind": "transfer_out", "quantity": "-1", "to_location_id": "LAB"}, "stock.invalid_movement"),
        ({"kind": "transfer_out", "quantity": "1", "to_location_id": "STORE"}, "stock.invalid_movement"),
        ({"kind": "adjustment", "quantity": "1", "to_location_id": "LAB"}, "stock.invalid_movement"),
        ({"kind": "transfer_out", "quantity": "1", "to_location_id": 9999}, "stock.unknown_reference"),
        ({"kind": "transfer_out", "quantity": "1", "to_location_id": "OLD"}, "stock.unknown_reference"),
        ({"kind": "adjustment", "quantity": "1", "location_id": 9999}, "stock.unknown_reference"),
        ({"kind": "adjustment", "quantity": "1", "location_id": "OLD"}, "stock.unknown_reference"),
        ({"kind": "theft", "quantity": "1"}, "validation_failed"),
        ({"kind": "adjustment", "quantity": "0.0000001"}, "validation_failed"),
        ({"kind": "adjustment", "quantity": "NaN"}, "validation_failed"),
        ({"kind": "adjustment", "quantity": "1", "notes": ""}, "validation_failed"),
        ({"kind": "adjustment", "quantity": "1", "colour": "red"}, "validation_failed"),
    ],
)
async def test_invalid_movements_are_refused(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], code: str
) -> None:
    adjuster = await _adjuster(database)
    lot, store, lab = await _setup(database)
    old = await make_location(database, "OLD", is_active=False)
    names = {"STORE": store, "LAB": lab, "OLD": old}
    body = {"lot_id": lot, "location_id": store, "notes": "by hand", **body}
    for key in ("location_id", "to_location_id"):
        if isinstance(body.get(key), str):
            body[key] = names[body[key]]
    before = await row_counts(database)

    response = await client.post(f"{BASE}/stock-movements", json=body, headers=adjuster.headers)

    assert response.status_code == 422, response.text
    if code != "validation_failed":
        assert response.json()["code"] == code
    assert await row_counts(database) == before


async def test_unknown_and_reversed_lots_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    adjuster = await _adjuster(database)
    lot, store, _lab = await _setup(database)
    await reverse_lot(database, lot)
    before = await row_counts(database)

    missing = await _post(client, adjuster, lot_id=9999, kind="adjustment", location_id=store, quantity="1")
    reversed_ = await _post(client, adjuster, lot_id=lot, kind="adjustment", location_id=store, quantity="1")

    assert (missing.status_code, missing.json()["code"]) == (404, "stock.lot_not_found")
    assert (reversed_.status_code, reversed_.json()["code"]) == (409, "stock.lot_reversed")
    assert await row_counts(database) == before
