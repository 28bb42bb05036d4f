"""`depotflow demo`, run as a real process against a fresh database (SQLite and PostgreSQL): the demo
accounts log in with the printed passwords, the orders are in every state, the trail, the signatures
and the stock ledger verify, and a second run changes nothing."""

import os
import re
import subprocess
import sys
from collections.abc import Awaitable
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from sqlalchemy import text

from depotflow.core.db import Database
from depotflow.core.settings import Settings

pytestmark = pytest.mark.anyio

PROCUREMENT = "/modules/depo_procurement/api"
DEMO_USERS = ("buyer", "approver1", "approver2", "operator", "qc_officer")
COUNTED = ("procurement_order", "stock_lot", "stock_movement", "identity_user", "company", "audit_entry")


async def depotflow(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m depotflow ARGS` against the test's database and data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPOTFLOW_")}
    env.update(
        DEPOTFLOW_DATABASE_URL=settings.resolved_database_url,
        DEPOTFLOW_DATA_DIR=str(settings.data_dir),
        DEPOTFLOW_LOG_LEVEL="WARNING",
    )

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "depotflow", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    return await anyio.to_thread.run_sync(run)


async def gather(*runs: Awaitable[subprocess.CompletedProcess[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run CLI processes side by side (each start costs seconds of imports)."""
    results: list[subprocess.CompletedProcess[str] | None] = [None] * len(runs)

    async def one(index: int, run: Awaitable[subprocess.CompletedProcess[str]]) -> None:
        results[index] = await run

    async with anyio.create_task_group() as group:
        for index, run in enumerate(runs):
            group.start_soon(one, index, run)
    return [r for r in results if r is not None]


def printed_passwords(stdout: str) -> dict[str, str]:
    found = {}
    for username in DEMO_USERS:
        match = re.search(rf"^  {re.escape(username)}\s+(\S+)\s", stdout, re.MULTILINE)
        assert match, f"no password printed for {username}:\n{stdout}"
        found[username] = match.group(1)
    return found


async def counts(database: Database) -> dict[str, int]:
    async with database.session(write=False) as session:
        return {
            table: int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()) for table in COUNTED
        }


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def test_demo_loads_a_plant_that_works_and_loads_it_once(
    settings: Settings, client: httpx.AsyncClient, database: Database
) -> None:
    loaded = await depotflow(settings, "demo")

    assert loaded.returncode == 0, loaded.stderr
    assert re.search(r"username: admin\n  password: \S+", loaded.stdout), loaded.stdout  # as `serve` prints it
    passwords = printed_passwords(loaded.stdout)
    tokens = {}
    for username, password in passwords.items():
        login = ok(await client.post("/api/auth/login", json={"username": username, "password": password}))
        assert login["must_change_password"] is False
        tokens[username] = {"Authorization": f"Bearer {login['token']}"}

    buyer = tokens["buyer"]
    orders = ok(await client.get(f"{PROCUREMENT}/purchase-orders", params={"limit": 50}, headers=buyer))["items"]
    by_state: dict[str, list[dict[str, Any]]] = {}
    for order in orders:
        by_state.setdefault(order["state"], []).append(order)
    assert {"pending", "issued", "receiving", "finished", "cancelled"} <= by_state.keys()
    signatures = []
    for order in by_state["pending"]:
        flow = ok(await client.get(f"{PROCUREMENT}/purchase-orders/{order['id']}/approval-flow", headers=buyer))
        signatures.append(len([s for s in flow["signatures"] if s["withdrawn_at"] is None]))
    assert sorted(signatures) == [0, 1]  # one untouched, one waiting for the second approver

    def lots_of(order: dict[str, Any]) -> Any:
        return client.get(f"{PROCUREMENT}/purchase-orders/{order['id']}/received-items", headers=buyer)

    [finished] = by_state["finished"]
    [released] = ok(await lots_of(finished))["items"]
    assert released["status"]["slug"] == "ok"
    qc = ok(await client.get(f"{PROCUREMENT}/purchase-orders/{finished['id']}/qc-records", headers=buyer))["items"]
    assert [(r["result"], r["confirmed"]) for r in qc] == [("conform", True)]
    [receiving] = by_state["receiving"]
    [waiting] = ok(await lots_of(receiving))["items"]
    assert waiting["status"]["slug"] in ("quarantine", "quarantine_transferable")
    templates = ok(await client.get(f"{PROCUREMENT}/document-templates", headers=buyer))["items"]
    assert {t["code"] for t in templates} == {"PO-STD", "PO-QC"}
    # The operator may receive against the issued order (the role works, not only the data).
    me = ok(await client.get("/api/auth/me", headers=tokens["operator"]))
    assert "procurement.receive" in me["permissions"]

    audit, approvals, stock = await gather(
        depotflow(settings, "audit", "verify"),
        depotflow(settings, "approvals", "verify"),
        depotflow(settings, "stock", "check"),
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert approvals.returncode == 0, approvals.stdout + approvals.stderr
    assert stock.returncode == 0, stock.stdout + stock.stderr

    before = await counts(database)
    again, if_empty = await gather(depotflow(settings, "demo"), depotflow(settings, "demo", "--if-empty"))

    assert again.returncode == 0, again.stderr
    assert "already loaded" in again.stdout
    assert "password" not in again.stdout
    assert if_empty.returncode == 0, if_empty.stderr
    assert await counts(database) == before


async def test_if_empty_leaves_a_database_in_use_alone(settings: Settings, database: Database) -> None:
    created = await depotflow(settings, "create-user", "carol", "--password", "carol-password-1", "--admin")
    assert created.returncode == 0, created.stderr
    before = await counts(database)

    skipped = await depotflow(settings, "demo", "--if-empty")

    assert skipped.returncode == 0, skipped.stderr
    assert "not loaded" in skipped.stdout
    assert "password" not in skipped.stdout
    assert await counts(database) == before
