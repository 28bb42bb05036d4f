"""The ledger consistency check, through the service and the `depotflow stock check` command."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from depotflow.core.db import Database
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.models import StockBalance, StockLot, StockMovement
from depotflow.domains.stock.schemas import ConsistencyReport
from tests.cli.test_cli import base_env, run
from tests.factories.identity import make_user
from tests.factories.stock import BASE, make_location, make_lot, make_part, reverse_lot

pytestmark = pytest.mark.anyio

balances = StockBalance.__table__
lots = StockLot.__table__
movements = StockMovement.__table__


async def _check(database: Database) -> ConsistencyReport:
    async with database.session(write=False) as session:
        return await stock_service.check_ledger(session)


def _found(report: ConsistencyReport) -> list[tuple[str, int | None, int | None]]:
    return [(p.kind, p.lot_id, p.location_id) for p in report.problems]


async def _busy_ledger(client: httpx.AsyncClient, database: Database) -> dict[str, int]:
    """Lots that went through every kind of movement, written through the API and the ledger."""
    user = await make_user(database, username="kim", permissions=["stock.view", "stock.adjust", "qc.record"])
    store = await make_location(database, "STORE")
    lab = await make_location(database, "LAB", "laboratory")
    part = await make_part(database, "API-1")
    moved = await make_lot(database, part_id=part, location_id=store, quantity=10, batch_code="L-1", status="ok")
    sampled = await make_lot(database, part_id=part, location_id=store, quantity="2.5", batch_code="L-2")
    reversed_lot = await make_lot(database, part_id=part, location_id=store, quantity=3, batch_code="L-3")
    await reverse_lot(database, reversed_lot)
    for body in (
        {"kind": "transfer_out", "location_id": store, "to_location_id": lab, "quantity": "4"},
        {"kind": "adjustment", "location_id": lab, "quantity": "-0.5"},
        {"kind": "scrap", "location_id": store, "quantity": "6"},
    ):
        response = await client.post(
            f"{BASE}/stock-movements", json={"lot_id": moved, "notes": "x", **body}, headers=user.headers
        )
        assert response.status_code == 201, response.text
    sample = await client.post(
        f"{BASE}/stock-lots/{sampled}/qc-records", json={"sampled_quantity": "0.5"}, headers=user.headers
    )
    assert sample.status_code == 201, sample.text
    return {"store": store, "lab": lab, "moved": moved, "sampled": sampled, "reversed": reversed_lot}


async def test_a_consistent_ledger_passes(client: httpx.AsyncClient, database: Database) -> None:
    empty = await _check(database)
    await _busy_ledger(client, database)

    report = await _check(database)

    assert empty == ConsistencyReport(ok=True, lots=0, movements=0, balances=0, problems=[])
    assert report.problems == []
    assert report.ok is True
    # receipts 3, reversal 1, transfer 2, adjustment 1, scrap 1, sampling 1
    assert (report.lots, report.movements, report.balances) == (3, 9, 4)


async def test_every_kind_of_tampering_is_found(client: httpx.AsyncClient, database: Database) -> None:
    ids = await _busy_ledger(client, database)
    store, lab, moved, sampled = ids["store"], ids["lab"], ids["moved"], ids["sampled"]
    part = await make_part(database, "API-2")
    other = await make_lot(database, part_id=part, location_id=store, quantity=7, batch_code="O-1", status="ok")
    bare = await make_lot(database, part_id=part, location_id=store, quantity=1, batch_code="B-1", status="ok")
    async with database.engine.begin() as conn:
        # A stored balance edited by hand.
        await conn.execute(
            update(balances)
            .where(balances.c.lot_id == moved, balances.c.location_id == lab)
            .values(quantity=Decimal("9.5"))
        )
        # A balance row deleted, and one made up.
        await conn.execute(delete(balances).where(balances.c.lot_id == sampled))
        await conn.execute(
            insert(balances).values(
                lot_id=other, part_id=part, location_id=lab, quantity=Decimal(2), updated_at=datetime.now(UTC)
            )
        )
        # A lot whose received quantity no longer matches its receipt, which was also reversed by hand.
        await conn.execute(update(lots).where(lots.c.id == other).values(received_quantity=Decimal(70)))
        await conn.execute(update(lots).where(lots.c.id == other).values(reversed_at=datetime.now(UTC)))
        # A second receipt, and a lot without any movement.
        receipt = (await conn.execute(select(movements).where(movements.c.lot_id == bare))).mappings().one()
        await conn.execute(
            insert(movements).values(**{k: v for k, v in receipt.items() if k not in ("id", "notes")}, notes="again")
        )
        template = (await conn.execute(select(lots).where(lots.c.id == bare))).mappings().one()
        orphan = (
            await conn.execute(
                insert(lots).values(
                    **{k: v for k, v in template.items() if k not in ("id", "batch_code")}, batch_code="NO-MOVES"
                )
            )
        ).inserted_primary_key[0]

    report = await _check(database)

    assert report.ok is False
    assert sorted(_found(report), key=str) == sorted(
        [
            ("balance_mismatch", moved, lab),
            ("missing_balance", sampled, store),
            ("extra_balance", other, lab),
            ("received_quantity", other, None),
            ("reversed_not_empty", other, None),
            ("receipt", bare, None),
            ("balance_mismatch", bare, store),
            ("receipt", orphan, None),
        ],
        key=str,
    )
    [mismatch] = [p for p in report.problems if p.kind == "balance_mismatch" and p.lot_id == moved]
    assert mismatch.detail == "balance is 9.5, movements add up to 3.5"


async def test_a_ledger_adding_up_below_zero_is_found(database: Database) -> None:
    store = await make_location(database, "STORE")
    lot = await make_lot(
        database, part_id=await make_part(database, "API-1"), location_id=store, quantity=4, batch_code="L"
    )
    async with database.engine.begin() as conn:
        receipt = (await conn.execute(select(movements).where(movements.c.lot_id == lot))).mappings().one()
        await conn.execute(
            insert(movements).values(
                **{k: v for k, v in receipt.items() if k not in ("id", "kind", "quantity")},
                kind="adjustment",
                quantity=Decimal(-6),
            )
        )

    report = await _check(database)

    assert _found(report) == [("balance_mismatch", lot, store), ("negative_balance", lot, store)]


async def test_the_command_reports_and_exits_1_on_a_tampered_balance(
    client: httpx.AsyncClient, database: Database, db_url: str, tmp_path: Path
) -> None:
    ids = await _busy_ledger(client, database)
    env = base_env(tmp_path, DEPOTFLOW_DATABASE_URL=db_url)

    good = await anyio.to_thread.run_sync(run, ["stock", "check"], env)
    async with database.engine.begin() as conn:
        await conn.execute(
            update(balances)
            .where(balances.c.lot_id == ids["moved"], balances.c.location_id == ids["store"])
            .values(quantity=Decimal(100))
        )
    bad = await anyio.to_thread.run_sync(run, ["stock", "check"], env)

    assert good.returncode == 0, good.stdout + good.stderr
    assert json.loads(good.stdout) == {"ok": True, "lots": 3, "movements": 9, "balances": 4, "problems": []}
    assert bad.returncode == 1, bad.stdout + bad.stderr
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "kind": "balance_mismatch",
            "lot_id": ids["moved"],
            "location_id": ids["store"],
            "detail": "balance is 100, movements add up to 0",
        }
    ]
