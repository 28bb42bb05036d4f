"""Load benchmark: the purchase order list and receiving against the /health baseline, same server, same run.

For each database (SQLite, then PostgreSQL), in a fresh data directory:

1. `depotflow migrate` and `depotflow demo` (the demo plant: suppliers, parts, locations, users);
2. bulk-seed 10,000 purchase orders (two lines each) and 100,000 received lots with their receipt
   movements and balances, with SQLAlchemy Core on one connection (not audited: benchmark data);
3. `depotflow serve` (1 worker); wrk (2 threads, 10 s, after a 2 s warm-up of /health) at
   - `GET /health` (the baseline, 50 connections),
   - `GET /modules/depo_procurement/api/purchase-orders?limit=50` as the buyer (50 connections),
   - `POST .../purchase-orders/{id}/receive-stock` as the operator (a wrk Lua script posting one
     unit with a unique batch code to lines of issued orders ordered in huge quantities; 10
     connections), each receipt a real one: lot, movement, balance, line, audit entries;

and prints req/s, p99 and the ratio to the baseline.

PostgreSQL: the database in DEPOTFLOW_BENCH_DATABASE_URL (must be empty) if set, else a throwaway
cluster of its own (needs the `postgresql` package, as the tests do).

    .venv/bin/python bench/procurement_vs_baseline.py [--database both|sqlite|postgresql]
        [--duration 10] [--connections 50] [--write-connections 10] [--orders 10000] [--lots 100000]
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import (
    DEPOTFLOW,
    WrkResult,
    bench_env,
    create_database,
    login,
    machine,
    run_wrk,
    server,
    throwaway_postgres,
)
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from depotflow.core.clock import utcnow
from depotflow.core.settings import to_async_url
from depotflow.domains.company.models import Company
from depotflow.domains.identity.models import User
from depotflow.domains.part.models import Part
from depotflow.domains.procurement.models import PurchaseOrder, PurchaseOrderLine, ReferenceCounter
from depotflow.domains.stock.models import StockBalance, StockLocation, StockLot, StockMovement, StockStatus

PROCUREMENT = "/modules/depo_procurement/api"
LIST_PATH = f"{PROCUREMENT}/purchase-orders?limit=50"
ORIGIN = "purchase_order"
CHUNK = 5_000
TARGETS = 500  # issued order lines the receipts are spread over
HUGE = Decimal(100_000_000)

# Share of the orders in each state; lots go to the receiving and finished ones.
STATES = (("pending", 10), ("issued", 20), ("receiving", 30), ("finished", 35), ("cancelled", 5))


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    orders: int
    lines: int
    lots: int
    seconds: float
    targets: list[tuple[int, int]]  # (order id, line id) of issued orders, to receive against


async def _next_id(conn: AsyncConnection, table: Any) -> int:
    return int((await conn.execute(select(func.coalesce(func.max(table.c.id), 0)))).scalar_one()) + 1


async def _insert(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await conn.execute(insert(table), rows[start : start + CHUNK])


async def seed(database_url: str, *, orders: int, lots: int) -> Seeded:
    """Bulk insert orders, lines, lots, receipt movements and balances (Core, one transaction)."""
    started = time.monotonic()
    engine = create_async_engine(to_async_url(database_url))
    order_t, line_t = PurchaseOrder.__table__, PurchaseOrderLine.__table__
    lot_t, movement_t, balance_t = StockLot.__table__, StockMovement.__table__, StockBalance.__table__
    try:
        async with engine.begin() as conn:
            suppliers = (await conn.execute(select(Company.id, Company.currency).where(Company.is_supplier))).all()
            parts = (await conn.execute(select(Part.id, Part.requires_qc_release).order_by(Part.id))).all()
            qc_part = next(p.id for p in parts if p.requires_qc_release)
            location = (
                await conn.execute(select(StockLocation.id).where(StockLocation.code == "CLJ-QUA"))
            ).scalar_one()
            users = dict((await conn.execute(select(User.username, User.id))).all())
            statuses = dict((await conn.execute(select(StockStatus.slug, StockStatus.id))).all())
            last = (
                await conn.execute(select(ReferenceCounter.last_value).where(ReferenceCounter.series == "PO"))
            ).scalar_one()
            first_order, first_line = await _next_id(conn, order_t), await _next_id(conn, line_t)
            first_lot, first_movement = await _next_id(conn, lot_t), await _next_id(conn, movement_t)
            first_balance = await _next_id(conn, balance_t)

            now = utcnow()
            weights = [state for state, share in STATES for _ in range(share)]
            order_rows: list[dict[str, Any]] = []
            line_rows: list[dict[str, Any]] = []
            receivable: list[dict[str, Any]] = []  # lines of receiving and finished orders
            targets: list[tuple[int, int]] = []
            for n in range(orders):
                order_id, state = first_order + n, weights[n % len(weights)]
                supplier = suppliers[n % len(suppliers)]
                created = now - dt.timedelta(minutes=(orders - n) * 60)
                closed = state in ("finished", "cancelled")
                order_rows.append(
                    {
                        "id": order_id,
                        "reference": f"PO-{last + n + 1:04d}",
                        "supplier_id": supplier.id,
                        "state": state,
                        "description": f"Benchmark order {n}",
                        "supplier_reference": "",
                        "currency": supplier.currency,
                        "issue_date": created.date(),
                        "target_date": created.date() + dt.timedelta(days=30),
                        "destination_id": location,
                        "delivery_address": "",
                        "notes": "",
                        "documents": {},
                        "created_by_id": users["buyer"],
                        "created_at": created,
                        "updated_at": created,
                        "issued_at": None if state in ("pending", "cancelled") else created,
                        "closed_at": created if closed else None,
                        "closed_by_id": users["buyer"] if closed else None,
                        "close_reason": {"finished": "All lines received", "cancelled": "Benchmark"}.get(state),
                    }
                )
                for number in (1, 2):
                    line_id = first_line + len(line_rows)
                    part = qc_part if state == "issued" else parts[(n + number) % len(parts)].id
                    line = {
                        "id": line_id,
                        "order_id": order_id,
                        "line_number": number,
                        "part_id": part,
                        "supplier_part_id": None,
                        "quantity": HUGE if state == "issued" else Decimal(100),
                        "received_quantity": Decimal(0),
                        "purchase_price": Decimal("12.5"),
                        "currency": supplier.currency,
                        "reference": "",
                        "destination_id": None,
                        "notes": "",
                        "created_at": created,
                        "updated_at": created,
                        # not columns: what the lots need
                        "_state": state,
                        "_supplier": supplier.id,
                        "_reference": f"PO-{last + n + 1:04d}",
                    }
                    line_rows.append(line)
                    if state in ("receiving", "finished"):
                        receivable.append(line)
                    elif state == "issued" and number == 1 and len(targets) < TARGETS:
                        targets.append((order_id, line_id))

            lot_rows: list[dict[str, Any]] = []
            movement_rows: list[dict[str, Any]] = []
            balance_rows: list[dict[str, Any]] = []
            quantity = Decimal(10)
            for i in range(lots):
                line = receivable[i % len(receivable)]
                line["received_quantity"] += quantity
                lot_id = first_lot + i
                common = {"lot_id": lot_id, "part_id": line["part_id"], "location_id": location}
                lot_rows.append(
                    {
                        "id": lot_id,
                        "part_id": line["part_id"],
                        "batch_code": f"BENCH-{i:07d}",
                        "supplier_batch_code": "",
                        "supplier_id": line["_supplier"],
                        "manufacturing_date": None,
                        "expiry_date": dt.date(2030, 1, 1),
                        "retest_date": None,
                        "received_quantity": quantity,
                        "expected_quantity": None,
                        "origin_type": ORIGIN,
                        "origin_id": line["order_id"],
                        "origin_line_id": line["id"],
                        "origin_reference": line["_reference"],
                        "status_id": statuses["ok" if line["_state"] == "finished" else "quarantine"],
                        "receipt": {},
                        "findings": [],
                        "notes": "",
                        "received_by_id": users["operator"],
                        "created_at": line["created_at"],
                        "status_changed_at": line["created_at"],
                        "reversed_at": None,
                        "reversed_by_id": None,
                        "reversal_reason": None,
                    }
                )
                movement_rows.append(
                    {
                        **common,
                        "id": first_movement + i,
                        "kind": "receipt",
                        "quantity": quantity,
                        "document_type": ORIGIN,
                        "document_id": line["order_id"],
                        "transfer_group": None,
                        "notes": "",
                        "created_by_id": users["operator"],
                        "created_at": line["created_at"],
                    }
                )
                balance_rows.append(
                    {**common, "id": first_balance + i, "quantity": quantity, "updated_at": line["created_at"]}
                )
            for line in receivable:
                # Finished lines are fully received; receiving ones still wait for some.
                extra = Decimal(0) if line["_state"] == "finished" else Decimal(50)
                line["quantity"] = max(line["received_quantity"], Decimal(1)) + extra
            columns = {c.name for c in line_t.columns}
            clean_lines = [{k: v for k, v in line.items() if k in columns} for line in line_rows]

            await _insert(conn, order_t, order_rows)
            await _insert(conn, line_t, clean_lines)
            await _insert(conn, lot_t, lot_rows)
            await _insert(conn, movement_t, movement_rows)
            await _insert(conn, balance_t, balance_rows)
            await conn.execute(
                update(ReferenceCounter).where(ReferenceCounter.series == "PO").values(last_value=last + orders)
            )
            if conn.dialect.name == "postgresql":
                # Explicit ids do not move the sequences; the server's own inserts must not collide.
                for table in (order_t, line_t, lot_t, movement_t, balance_t):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"
                        )
                    )
                await conn.execute(text("ANALYZE"))
        if engine.dialect.name == "sqlite":
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return Seeded(
        orders=len(order_rows),
        lines=len(line_rows),
        lots=len(lot_rows),
        seconds=time.monotonic() - started,
        targets=targets,
    )


# --- load --------------------------------------------------------------------------------------

RECEIVE_SCRIPT = """
-- One receipt per request: one unit for one of the issued order lines, with a unique batch code.
local targets = {%(targets)s}
local token = "%(token)s"
local nonce = "%(nonce)s"
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function request()
  counter = counter + 1
  local id = thread_id or 0
  local target = targets[(counter * 7 + id) %% #targets + 1]
  local body = string.format(
    '{"line_id": %%d, "quantity": "1", "batch_code": "%%s-%%d-%%d", "supplier_batch_code": "SUP-1", '
    .. '"manufacturing_date": "2026-01-01", "expiry_date": "2029-01-01", "clean_transport": true}',
    target[2], nonce, id, counter)
  return wrk.format("POST", "%(prefix)s/purchase-orders/" .. target[1] .. "/receive-stock",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  if status ~= 201 and not reported then
    reported = true
    io.stderr:write("receive-stock answered " .. status .. ": " .. body .. "\\n")
  end
end
"""


def receive_script(directory: Path, token: str, targets: list[tuple[int, int]]) -> Path:
    path = directory / "receive.lua"
    path.write_text(
        RECEIVE_SCRIPT
        % {
            "targets": ", ".join(f"{{{order}, {line}}}" for order, line in targets),
            "token": token,
            "nonce": f"W{int(time.time())}",
            "prefix": PROCUREMENT,
        }
    )
    return path


def preflight(base: str, token: str, order_id: int, line_id: int) -> None:
    """One receipt by hand, so that a refused body is reported clearly instead of as wrk errors."""
    body = {
        "line_id": line_id,
        "quantity": "1",
        "batch_code": f"PREFLIGHT-{int(time.time())}",
        "manufacturing_date": "2026-01-01",
        "expiry_date": "2029-01-01",
        "clean_transport": True,
    }
    request = urllib.request.Request(
        f"{base}{PROCUREMENT}/purchase-orders/{order_id}/receive-stock",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"receive-stock refused the benchmark's receipt: {exc.code} {exc.read().decode()}") from exc


def demo_passwords(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^  (buyer|operator)\s+(\S+)\s", stdout, re.MULTILINE))


@dataclass(frozen=True)
class Run:
    database: str
    seeded: Seeded
    baseline: WrkResult
    listing: WrkResult
    receiving: WrkResult


def run_one(kind: str, database_url: str | None, args: argparse.Namespace) -> Run:
    data_dir = Path(tempfile.mkdtemp(prefix="depotflow-bench-"))
    try:
        env = bench_env(data_dir, database_url)
        url = database_url or f"sqlite:///{data_dir / 'depotflow.db'}"
        subprocess.run([*DEPOTFLOW, "migrate"], env=env, check=True, capture_output=True)
        demo = subprocess.run([*DEPOTFLOW, "demo", "--no-migrate"], env=env, check=True, capture_output=True, text=True)
        passwords = demo_passwords(demo.stdout)
        if set(passwords) != {"buyer", "operator"}:
            raise SystemExit(f"the database is not empty, or the demo did not load:\n{demo.stdout}")
        seeded = asyncio.run(seed(url, orders=args.orders, lots=args.lots))
        print(
            f"[{kind}] seeded {seeded.orders} orders, {seeded.lines} lines, {seeded.lots} lots "
            f"(+ movements, balances) in {seeded.seconds:.1f} s",
            flush=True,
        )
        with server(env) as base:
            buyer = login(base, "buyer", passwords["buyer"])
            operator = login(base, "operator", passwords["operator"])
            preflight(base, operator, *seeded.targets[0])
            script = receive_script(data_dir, operator, seeded.targets)
            common = {"duration": args.duration, "timeout": 30}
            run_wrk(f"{base}/health", duration=2, connections=args.connections)  # warm-up
            baseline = run_wrk(f"{base}/health", connections=args.connections, **common)
            listing = run_wrk(f"{base}{LIST_PATH}", connections=args.connections, token=buyer, **common)
            receiving = run_wrk(base, connections=args.write_connections, script=script, **common)
        return Run(kind, seeded, baseline, listing, receiving)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    external = os.environ.get("DEPOTFLOW_BENCH_DATABASE_URL")
    if external:
        yield external
        return
    with throwaway_postgres() as server_url:
        yield create_database(server_url, "depotflow_bench")


def report(runs: list[Run], args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    print(
        f"\n{dt.date.today().isoformat()}, {machine()}, load average {load:.1f}, 1 worker, "
        f"{args.duration} s per measurement, {args.orders:,} orders, {args.lots:,} lots"
    )
    print("| database | route | connections | req/s | p99 | ratio to /health | timeouts (30 s) |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        base = run.baseline.requests_per_second
        for route, connections, result in (
            ("`GET /health` (baseline)", args.connections, run.baseline),
            ("`GET .../purchase-orders?limit=50`", args.connections, run.listing),
            ("`POST .../receive-stock`", args.write_connections, run.receiving),
        ):
            ratio = result.requests_per_second / base
            print(
                f"| {run.database} | {route} | {connections} | {result.requests_per_second:,.1f} | "
                f"{result.p99_ms:,.1f} ms | {ratio:.3f} | {result.timeouts} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--write-connections", type=int, default=10)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--lots", type=int, default=100_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    runs = []
    if args.database in ("both", "sqlite"):
        runs.append(run_one("SQLite", None, args))
    if args.database in ("both", "postgresql"):
        with postgres_database() as url:
            runs.append(run_one("PostgreSQL", url, args))
    report(runs, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
