"""Concurrent writers leave one valid chain with contiguous sequence numbers on both databases."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.util import await_only

from depotflow.core.db import Database
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.schemas import VerifyReport
from depotflow.domains.config.models import ConfigEntry
from depotflow.domains.identity.models import User
from tests.factories.audit import entries, entry_count, head
from tests.factories.identity import make_admin, make_user

pytestmark = pytest.mark.anyio

PARALLEL = 10


async def _verify(database: Database) -> VerifyReport:
    async with database.session(write=False) as session:
        return await audit_service.verify(session)


async def test_parallel_user_creations_leave_a_valid_contiguous_chain(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    start = await entry_count(database)

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/users/",
                json={"username": f"worker{i}", "password": "a-long-enough-password"},
                headers=admin.headers,
            )
            for i in range(PARALLEL)
        )
    )

    assert [r.status_code for r in responses] == [201] * PARALLEL, [r.text for r in responses]
    trail = await entries(database)
    assert [e["seq"] for e in trail] == list(range(1, start + PARALLEL + 1))
    created = [e for e in trail if e["action"] == "identity_user.create" and e["seq"] > start]
    assert sorted(e["request_id"] for e in created) == sorted(r.headers["x-request-id"] for r in responses)
    assert await _verify(database) == VerifyReport(ok=True, entries_checked=start + PARALLEL, head_seq=start + PARALLEL)


async def test_parallel_config_changes_leave_a_valid_chain_and_one_row_per_key(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    start = await entry_count(database)

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/config/", json={"company_name": f"Company {i}", "city": f"City {i}"}, headers=admin.headers
            )
            for i in range(PARALLEL)
        )
    )

    assert [r.status_code for r in responses] == [200] * PARALLEL, [r.text for r in responses]
    async with database.session(write=False) as session:
        rows = {e.key: e.value for e in (await session.execute(select(ConfigEntry))).scalars()}
    assert set(rows) == {"company_name", "city"}
    trail = await entries(database)
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    config_trail = [e for e in trail if e["seq"] > start]
    assert [e["action"] for e in config_trail[:2]] == ["config_entry.create", "config_entry.create"]
    assert {e["action"] for e in config_trail[2:]} <= {"config_entry.update"}
    # Each update's "before" is what the previous writer left: no change is lost from the trail.
    keys = {e["entity_id"]: e["changes"]["after"]["key"] for e in config_trail if e["action"] == "config_entry.create"}
    last: dict[str, Any] = {}
    for e in config_trail:
        key = keys[e["entity_id"]]
        if e["action"] == "config_entry.update":
            assert e["changes"]["before"]["value"] == last[key]
        last[key] = e["changes"]["after"]["value"]
    assert last == rows
    report = await _verify(database)
    assert report.ok is True
    assert report.head_seq == len(trail)


async def test_parallel_creations_of_one_username_create_it_once(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    start = await entry_count(database)

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/users/", json={"username": "twin", "password": "a-long-enough-password"}, headers=admin.headers
            )
            for _ in range(4)
        )
    )

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"identity.username_taken"}
    async with database.session(write=False) as session:
        assert (await session.execute(select(func.count()).where(User.username == "twin"))).scalar_one() == 1
    assert await entry_count(database) == start + 1
    assert (await _verify(database)).ok is True


async def test_verify_is_not_fooled_by_a_writer_committing_while_it_reads(database: Database) -> None:
    await make_admin(database)
    count = await entry_count(database)
    wrote: list[bool] = []

    async def write_meanwhile() -> None:
        await make_user(database, username="meanwhile", with_token=False)

    def interleave(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Once verify has read the head and starts reading entries, another transaction commits.
        if not wrote and "FROM audit_entry" in statement and "ORDER BY audit_entry.id" in statement:
            wrote.append(True)
            await_only(write_meanwhile())

    event.listen(database.engine.sync_engine, "before_cursor_execute", interleave)
    try:
        report = await _verify(database)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", interleave)

    assert wrote == [True]
    assert report == VerifyReport(ok=True, entries_checked=count, head_seq=count)
    assert await head(database) == (count + 1, (await entries(database, seq=count + 1))[0]["hash"])
    assert (await _verify(database)).ok is True


async def test_parallel_config_changes_over_overlapping_keys_all_succeed(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    bodies = [
        {"company_name": "Solo"},
        {"city": "Cluj", "company_name": "Pair", "tax_id": "RO1"},
        {"tax_id": "RO2"},
        {"city": "Iasi", "tax_id": "RO3"},
    ] * 4

    responses = await asyncio.gather(*(client.post("/api/config/", json=b, headers=admin.headers) for b in bodies))

    assert [r.status_code for r in responses] == [200] * len(bodies), [r.text for r in responses]
    async with database.session(write=False) as session:
        keys = sorted(e.key for e in (await session.execute(select(ConfigEntry))).scalars())
    assert keys == ["city", "company_name", "tax_id"]
    trail = await entries(database)
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert (await _verify(database)).ok is True
