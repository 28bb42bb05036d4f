"""The procurement story end to end through the HTTP API, on both databases:
supplier, part and location → order with lines → two officers sign → issued → partial receipt →
second receipt → finished → QC sampling → signed conform release → the lot is `ok` with the right
quantity, the ledger is consistent and every signature verifies."""

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.stock import service as stock_service
from tests.factories.audit import entries
from tests.factories.procurement import (
    PROCUREMENT,
    dec,
    line_ids,
    make_order,
    make_plant,
    ok,
    receipt,
    receive,
    sign,
)

pytestmark = pytest.mark.anyio


async def test_order_to_released_stock(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "40")])
    assert order["reference"].startswith("PO-")
    assert order["state"] == "pending"
    assert order["currency"] == "RON"  # from the supplier
    assert order["approval_status"] == "pending"
    oid = order["id"]
    url = f"{PROCUREMENT}/purchase-orders/{oid}"
    api_line, box_line = await line_ids(client, plant, oid)

    # Two officers sign; the first signature locks the order, the second issues it.
    flow = ok(await sign(client, oid, plant.approver1))
    assert flow["status"] == "in_progress"
    detail = ok(await client.get(url, headers=plant.buyer.headers))
    assert detail["state"] == "pending"
    assert detail["editable"] is False
    locked = await client.patch(url, json={"notes": "late change"}, headers=plant.buyer.headers)
    assert locked.status_code == 409
    assert locked.json()["code"] == "procurement.order_locked"
    flow = ok(await sign(client, oid, plant.approver2))
    assert flow["status"] == "approved"
    assert [s["user_agent"] for s in flow["signatures"]] == ["pytest-story", "pytest-story"]
    detail = ok(await client.get(url, headers=plant.buyer.headers))
    assert detail["state"] == "issued"
    assert detail["issued_at"] is not None

    # Partial receipt of the tested part: quarantine, the order is receiving.
    first = ok(await receive(client, plant, oid, receipt(api_line, "60", batch_code="B-2026-001")), 201)
    assert first["status"]["slug"] == "quarantine"
    assert dec(first["quantity"]) == 60
    assert first["origin_reference"] == order["reference"]
    assert ok(await client.get(url, headers=plant.buyer.headers))["state"] == "receiving"
    # The packaging needs no QC release: straight to ok.
    box = ok(await receive(client, plant, oid, receipt(box_line, "40", expiry_date=None)), 201)
    assert box["status"]["slug"] == "ok"
    assert box["batch_code"] == f"{order['reference']}-2-1"
    assert ok(await client.get(url, headers=plant.buyer.headers))["state"] == "receiving"
    # The rest of the tested part, transferable quarantine: every line received, the order finishes.
    second = ok(
        await receive(client, plant, oid, receipt(api_line, "40", batch_code="B-2026-002", transferable=True)), 201
    )
    assert second["status"]["slug"] == "quarantine_transferable"
    detail = ok(await client.get(url, headers=plant.buyer.headers))
    assert detail["state"] == "finished"
    assert detail["close_reason"] == "All lines received"
    lines = ok(await client.get(f"{url}/items", headers=plant.buyer.headers))["items"]
    assert [(dec(line["received_quantity"]), dec(line["remaining_quantity"])) for line in lines] == [(100, 0), (40, 0)]
    received = ok(await client.get(f"{url}/received-items", headers=plant.buyer.headers))
    assert received["total"] == 3

    # QC: sampling takes 0.5 out of the first lot; the result is confirmed with a signature.
    record = ok(
        await client.post(
            f"{url}/qc-records",
            json={"lot_id": first["id"], "sampling_date": "2026-11-21", "sampled_quantity": "0.5"},
            headers=plant.qc.headers,
        ),
        201,
    )
    assert record["result"] == "pending"
    assert record["sampling_movement_id"] is not None
    confirmed = ok(
        await client.patch(
            f"{url}/qc-records/{record['id']}",
            json={
                "analysis_number": "BA-1234",
                "analysis_date": "2026-11-22",
                "result": "conform",
                "confirm": True,
                "password": plant.qc.password,
            },
            headers=plant.qc.headers,
        )
    )
    assert confirmed["confirmed"] is True
    assert confirmed["lot_status"] == "ok"
    lot = ok(await client.get(f"/modules/inventory/api/stock-lots/{first['id']}", headers=plant.qc.headers))
    assert lot["status"]["slug"] == "ok"
    assert dec(lot["quantity"]) == dec("59.5")
    assert dec(lot["received_quantity"]) == 60
    # A confirmed record is final.
    again = await client.patch(
        f"{url}/qc-records/{record['id']}", json={"result": "non_conform"}, headers=plant.qc.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "stock.qc_confirmed"

    # The QC signature is a real one: sealed, content bound, verifiable.
    verification = ok(
        await client.get(f"/api/approvals/flows/{confirmed['flow_id']}/verify", headers=plant.admin.headers)
    )
    assert verification["ok"] is True
    order_flow = ok(await client.get(f"{url}/approval-flow", headers=plant.buyer.headers))
    assert ok(await client.get(f"/api/approvals/flows/{order_flow['id']}/verify", headers=plant.admin.headers))["ok"]

    # Every change left its trail, and the ledger adds up.
    lot_trail = await entries(database, entity_type="stock_lot", entity_id=str(first["id"]))
    assert [e["action"] for e in lot_trail] == ["stock_lot.create", "stock_lot.update"]
    assert lot_trail[1]["reason"] == f"QC record {record['id']}: conform"
    async with database.session(write=False) as session:
        report = await stock_service.check_ledger(session)
    assert report.ok, report.problems
    assert report.lots == 3
