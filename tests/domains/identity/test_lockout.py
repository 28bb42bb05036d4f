"""Login throttling: account and address lockout, counter resets, lock expiry and slow-down."""

import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import anyio
import httpx
import pytest

from depotflow.core.clock import utcnow
from depotflow.core.db import Database
from depotflow.web import problems
from tests.conftest import make_settings
from tests.domains.identity.support import app_client, audit_entries, client_for, running_app, scalar, stored_state
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

LOCKOUT = {"login_lock_after_user": 3, "login_lock_after_address": 5, "login_lock_seconds": 60}


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_an_account_locks_after_repeated_failures_even_for_the_right_password(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)

    async with app_client(settings, database) as client:
        first = await _login(client, "alice", "wrong-password-1")
        second = await _login(client, "alice", "wrong-password-2")
        third = await _login(client, "alice", "wrong-password-3")
        before = await stored_state(database)
        started = utcnow()
        correct = await _login(client, "alice", alice.password)

    assert [first.status_code, second.status_code] == [401, 401]
    assert third.status_code == 429
    assert third.json()["code"] == "auth.login_locked"
    assert correct.status_code == 429
    assert correct.json()["code"] == "auth.login_locked"
    assert correct.json()["detail"] == "Too many failed logins; try again later."
    assert "token" not in correct.json()
    locked_until = datetime.fromisoformat(correct.json()["details"]["locked_until"])
    assert started < locked_until <= started + timedelta(seconds=60)
    assert 59 <= int(correct.headers["Retry-After"]) <= 61
    assert 59 <= int(third.headers["Retry-After"]) <= 61
    # The refused attempt stored nothing but its audit entry.
    after = await stored_state(database)
    assert after == {**before, "audit_entry": before["audit_entry"] + 1}
    assert after["identity_token"] == []
    assert [e["details"]["reason"] for e in await audit_entries(database, "auth.login_failed")] == ["bad_password"] * 3
    assert [e["details"]["locked"] for e in await audit_entries(database, "auth.login_failed")] == [False, False, True]
    locks = await audit_entries(database, "auth.login_locked")
    assert len(locks) == 2
    assert locks[1]["details"] == {"username": "alice", "locked": "user", "locked_until": locked_until.isoformat()}
    assert await audit_entries(database, "auth.login") == []


async def test_other_accounts_from_the_address_work_until_the_address_limit(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    await make_user(database, username="alice", role_slug="user", with_token=False)
    bob = await make_user(database, username="bob", role_slug="user", with_token=False)
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)

    async with running_app(settings, database) as app, client_for(app, "10.0.0.1") as office:
        for attempt in range(3):
            await _login(office, "alice", f"wrong-{attempt}")
        # alice is locked; bob, from the same address, is not (3 address failures of 5).
        assert (await _login(office, "bob", bob.password)).status_code == 200
        assert (await _login(office, "bob", "wrong-4")).status_code == 401
        # The fifth failure from the address, for an account that does not even exist, locks the address.
        fifth = await _login(office, "nobody", "wrong-5")
        assert fifth.status_code == 429
        assert fifth.json()["code"] == "auth.login_locked"
        refused = await _login(office, "bob", bob.password)
        assert refused.status_code == 429
        assert refused.json()["code"] == "auth.login_locked"
        assert 59 <= int(refused.headers["Retry-After"]) <= 61

        async with client_for(app, "10.0.0.2") as elsewhere:
            # The address lock is per address; the account lock follows the account everywhere.
            assert (await _login(elsewhere, "bob", bob.password)).status_code == 200
            assert (await _login(elsewhere, "alice", "anything-at-all")).status_code == 429

    [address_lock] = [
        e for e in await audit_entries(database, "auth.login_locked") if e["details"].get("locked") == "address"
    ]
    assert address_lock["details"]["username"] == "bob"
    assert address_lock["ip_address"] == "10.0.0.1"
    assert len(await audit_entries(database, "auth.login")) == 2


async def test_a_successful_login_resets_the_account_counter_but_not_the_address_counter(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)

    async with app_client(settings, database) as client:
        assert [(await _login(client, "alice", f"wrong-{i}")).status_code for i in range(2)] == [401, 401]
        assert (await _login(client, "alice", alice.password)).status_code == 200
        assert await scalar(database, "SELECT failures FROM identity_login_throttle WHERE kind = 'user'") == 0
        assert [(await _login(client, "alice", f"wrong-{i}")).status_code for i in range(2)] == [401, 401]
        assert (await _login(client, "alice", alice.password)).status_code == 200
        # Four failures from this address so far: the fifth locks it.
        assert (await _login(client, "alice", "wrong-again")).status_code == 429

    assert await scalar(database, "SELECT failures FROM identity_login_throttle WHERE kind = 'user'") == 1


async def test_a_lock_expires_and_failures_outside_the_window_are_forgotten(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    security = {**LOCKOUT, "login_lock_after_address": 50, "login_lock_seconds": 1, "login_window_seconds": 1}
    settings = make_settings(tmp_path, db_url, security=security)

    async with app_client(settings, database) as client:
        statuses = [(await _login(client, "alice", f"wrong-{i}")).status_code for i in range(3)]
        assert statuses == [401, 401, 429]
        assert [(await _login(client, "bert", f"wrong-{i}")).status_code for i in range(2)] == [401, 401]
        locked = await _login(client, "alice", alice.password)
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] in {"1", "2"}

        await anyio.sleep(1.1)

        assert (await _login(client, "alice", alice.password)).status_code == 200
        # bert's two failures fell out of the window: this third one starts a new window instead of locking.
        assert (await _login(client, "bert", "wrong-3")).status_code == 401

    failures = await scalar(
        database, "SELECT failures FROM identity_login_throttle WHERE kind = 'user' AND key = 'bert'"
    )
    assert failures == 1


async def test_failures_beyond_the_slowdown_threshold_are_answered_later(
    tmp_path: Path, db_url: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    settings = make_settings(
        tmp_path,
        db_url,
        security={
            "login_slowdown_after": 2,
            "login_slowdown_step_seconds": 0.2,
            "login_slowdown_max_seconds": 0.3,
            "login_lock_after_user": 10,
        },
    )
    # Which answers wait, and how long, is read from the error handler's calls to anyio.sleep (a
    # spy that still sleeps), not from wall-clock comparisons that a loaded machine would upset.
    waits: list[float] = []
    real_sleep = anyio.sleep

    async def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        await real_sleep(seconds)

    monkeypatch.setattr(problems, "anyio", SimpleNamespace(sleep=recording_sleep))

    async with app_client(settings, database) as client:
        waited: list[list[float]] = []
        durations = []
        for attempt in range(5):
            started = time.monotonic()
            response = await _login(client, "alice", f"wrong-{attempt}")
            durations.append(time.monotonic() - started)
            waited.append(waits[:])
            waits.clear()
            assert response.status_code == 401
            assert response.json()["code"] == "auth.invalid_credentials"
        assert (await _login(client, "alice", alice.password)).status_code == 200
        waited.append(waits[:])

    # After 2 failures each further one waits a step more: 0.2 s, then 0.4 s capped at 0.3 s; the
    # first two failures and the successful sign-in do not wait.
    assert waited == [[], [], [pytest.approx(0.2)], [pytest.approx(0.3)], [pytest.approx(0.3)], []]
    # And the answer really is that late (a lower bound holds however busy the machine is).
    assert durations[2] >= 0.2
    assert durations[3] >= 0.3
    assert durations[4] >= 0.3


async def test_concurrent_failures_are_each_counted_once(tmp_path: Path, db_url: str, database: Database) -> None:
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)
    statuses: list[int] = []

    async def attempt(client: httpx.AsyncClient, password: str) -> None:
        statuses.append((await _login(client, "alice", password)).status_code)

    async with app_client(settings, database) as client:
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(attempt, client, f"wrong-{i}")
        assert (await _login(client, "alice", alice.password)).status_code == 429

    assert sorted(statuses) == [401, 401, 429, 429, 429, 429]
    assert [e["details"]["locked"] for e in await audit_entries(database, "auth.login_failed")] == [False, False, True]
    assert len(await audit_entries(database, "auth.login_locked")) == 5
