"""Concurrent requests on both databases (truly parallel transactions on PostgreSQL): receipts on
one line never exceed the over-receipt policy together; parallel order creation hands out unique,
consecutive references; the reference keeps counting past PO-9999."""

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from depotflow.core.db import Database
from depotflow.domains.stock import service as stock_service
from depotflow.main import create_app
from tests.conftest import make_settings
from tests.factories.procurement import PROCUREMENT, dec, issued_order, line_ids, make_plant, ok, receipt, receive

pytestmark = pytest.mark.anyio

PARALLEL = 6


async def test_parallel_receipts_never_exceed_the_line(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)  # one line of 100
    [line] = await line_ids(client, plant, order["id"])

    responses = await asyncio.gather(
        *(receive(client, plant, order["id"], receipt(line, "30", batch_code=f"RACE-{i}")) for i in range(PARALLEL))
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * (PARALLEL - 3), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"procurement.over_receipt"}
    [detail] = ok(await client.get(f"{PROCUREMENT}/purchase-orders/{order['id']}/items", headers=plant.buyer.headers))[
        "items"
    ]
    assert dec(detail["received_quantity"]) == 90
    async with database.session(write=False) as session:
        lots = int((await session.execute(text("SELECT count(*) FROM stock_lot"))).scalar_one())
        movements = int((await session.execute(text("SELECT count(*) FROM stock_movement"))).scalar_one())
        report = await stock_service.check_ledger(session)
    assert (lots, movements) == (3, 3)
    assert report.ok, report.problems


async def test_parallel_receipts_within_a_tolerance(
    client: httpx.AsyncClient, database: Database, tmp_path: Path, db_url: str
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    [line] = await line_ids(client, plant, order["id"])
    policy = {"over_receipt": "tolerance", "over_receipt_tolerance_percent": "10"}
    app = create_app(make_settings(tmp_path, db_url, procurement=policy))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as tolerant,
    ):
        responses = await asyncio.gather(
            *(
                receive(tolerant, plant, order["id"], receipt(line, "25", batch_code=f"TOL-{i}"))
                for i in range(PARALLEL)
            )
        )

    # 110 are allowed: four receipts of 25 fit (100); a fifth would make 125.
    assert sorted(r.status_code for r in responses) == [201] * 4 + [409] * (PARALLEL - 4), [r.text for r in responses]


async def test_parallel_order_creation_gives_unique_consecutive_references(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    body = {"supplier_id": plant.supplier_id}

    responses = await asyncio.gather(
        *(
            client.post(f"{PROCUREMENT}/purchase-orders", json=body, headers=plant.buyer.headers)
            for _ in range(PARALLEL * 2)
        )
    )

    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    references = sorted(r.json()["reference"] for r in responses)
    assert references == [f"PO-{n:04d}" for n in range(1, PARALLEL * 2 + 1)]


async def test_references_keep_counting_after_po_9999(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    body = {"supplier_id": plant.supplier_id}
    ok(await client.post(f"{PROCUREMENT}/purchase-orders", json=body, headers=plant.buyer.headers), 201)
    async with database.engine.begin() as connection:
        await connection.execute(text("UPDATE procurement_counter SET last_value = 9998 WHERE series = 'PO'"))

    made = [
        ok(await client.post(f"{PROCUREMENT}/purchase-orders", json=body, headers=plant.buyer.headers), 201)[
            "reference"
        ]
        for _ in range(3)
    ]

    assert made == ["PO-9999", "PO-10000", "PO-10001"]
    listed = ok(
        await client.get(f"{PROCUREMENT}/purchase-orders", params={"sort": "-reference"}, headers=plant.buyer.headers)
    )
    assert listed["total"] == 4
