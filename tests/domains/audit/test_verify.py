"""The hash chain detects altered, removed and forged entries, and the table itself is append-only."""

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from depotflow.core.canonical import canonical_json
from depotflow.core.db import Database
from depotflow.domains.audit import chain
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.models import GENESIS_HASH, AuditEntry
from depotflow.domains.audit.schemas import VerifyProblem, VerifyReport
from tests.factories.audit import entries, entry_count, head, tampering
from tests.factories.identity import make_admin, make_user

pytestmark = pytest.mark.anyio

CLI = Path(sys.executable).with_name("depotflow")


async def _activity(client: httpx.AsyncClient, database: Database) -> int:
    """Users, roles, config changes and logins; returns the number of entries written."""
    admin = await make_admin(database)
    await make_user(database, username="viewer", permissions=["audit.view"])
    for name in ("ann", "ben"):
        response = await client.post(
            "/api/users/", json={"username": name, "password": "a-long-enough-password"}, headers=admin.headers
        )
        assert response.status_code == 201, response.text
    response = await client.post("/api/config/", json={"company_name": "Acme", "city": "Cluj"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    response = await client.post("/api/auth/login", json={"username": "ann", "password": "wrong-password-1"})
    assert response.status_code == 401, response.text
    count = await entry_count(database)
    assert count >= 10
    return count


async def _verify(database: Database) -> VerifyReport:
    async with database.session(write=False) as session:
        return await audit_service.verify(session)


def _plain(db_url: str) -> str:
    return db_url.replace("sqlite+aiosqlite://", "sqlite://").replace("postgresql+asyncpg://", "postgresql://")


async def _cli_verify(db_url: str, tmp_path: Path) -> tuple[int, str]:
    env = {
        **os.environ,
        "DEPOTFLOW_DATABASE_URL": _plain(db_url),
        "DEPOTFLOW_DATA_DIR": str(tmp_path),
        "DEPOTFLOW_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        str(CLI), "audit", "verify", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, _err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_an_untouched_chain_verifies(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)

    report = await _verify(database)

    assert report == VerifyReport(ok=True, entries_checked=count, head_seq=count)


async def test_an_empty_chain_verifies(database: Database) -> None:
    assert await _verify(database) == VerifyReport(ok=True, entries_checked=0, head_seq=0)


async def test_the_chain_links_every_entry_to_the_one_before(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)

    trail = await entries(database)

    assert [e["seq"] for e in trail] == list(range(1, count + 1))
    assert trail[0]["prev_hash"] == GENESIS_HASH
    assert [e["prev_hash"] for e in trail[1:]] == [e["hash"] for e in trail[:-1]]
    for e in trail:
        fields = {name: e[name] for name in chain.HASHED_FIELDS}
        fields["changes"] = canonical_json(e["changes"])
        fields["details"] = canonical_json(e["details"])
        assert chain.entry_hash(fields) == e["hash"]
    assert await head(database) == (count, trail[-1]["hash"])


async def test_an_altered_entry_is_reported_at_its_seq(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)
    target = count // 2

    async with tampering(database) as conn:
        await conn.execute(text("UPDATE audit_entry SET actor_username = 'mallory' WHERE seq = :s"), {"s": target})

    report = await _verify(database)
    assert report.ok is False
    assert report.head_seq == count
    assert report.entries_checked == target
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("altered", target)


async def test_an_altered_change_set_is_reported(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)
    [created] = await entries(database, action="config_entry.create", entity_type="config_entry", entity_id="1")

    async with tampering(database) as conn:
        await conn.execute(
            text("UPDATE audit_entry SET changes = :c WHERE seq = :s"),
            {"c": '{"after":{"key":"company_name","value":"Evil"}}', "s": created["seq"]},
        )

    report = await _verify(database)
    assert report.ok is False
    assert report.head_seq == count
    assert report.first_problem == VerifyProblem(
        entry_id=created["id"], seq=created["seq"], problem="altered", message=f"entry #{created['seq']} was altered"
    )


async def test_an_altered_entry_with_a_recomputed_hash_breaks_the_next_link(
    client: httpx.AsyncClient, database: Database
) -> None:
    count = await _activity(client, database)
    target = 3
    [entry] = await entries(database, seq=target)
    fields = {name: entry[name] for name in chain.HASHED_FIELDS}
    fields["changes"] = canonical_json(entry["changes"])
    fields["details"] = canonical_json(entry["details"])
    fields["actor_username"] = "mallory"

    async with tampering(database) as conn:
        await conn.execute(
            text("UPDATE audit_entry SET actor_username = 'mallory', hash = :h WHERE seq = :s"),
            {"h": chain.entry_hash(fields), "s": target},
        )

    report = await _verify(database)
    assert report.ok is False
    assert report.head_seq == count
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("broken_link", target + 1)


async def test_a_deleted_middle_entry_is_reported_missing(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)
    target = 4
    [following] = await entries(database, seq=target + 1)

    async with tampering(database) as conn:
        await conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": target})

    report = await _verify(database)
    assert report == VerifyReport(
        ok=False,
        entries_checked=target,
        head_seq=count,
        first_problem=VerifyProblem(
            entry_id=following["id"],
            seq=target,
            problem="missing",
            message=f"expected entry #{target}, found #{target + 1} (entries were removed)",
        ),
    )


async def test_a_deleted_first_entry_is_reported_missing(client: httpx.AsyncClient, database: Database) -> None:
    await _activity(client, database)

    async with tampering(database) as conn:
        await conn.execute(text("DELETE FROM audit_entry WHERE seq = 1"))

    report = await _verify(database)
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("missing", 1)


async def test_a_deleted_last_entry_is_reported_against_the_head(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)

    async with tampering(database) as conn:
        await conn.execute(text("DELETE FROM audit_entry WHERE seq = :s"), {"s": count})

    report = await _verify(database)
    assert report == VerifyReport(
        ok=False,
        entries_checked=count - 1,
        head_seq=count,
        first_problem=VerifyProblem(
            entry_id=None,
            seq=count,
            problem="missing",
            message=f"the chain ends at #{count - 1} but its head records #{count}",
        ),
    )


async def test_a_truncated_tail_is_still_reported_after_new_activity(
    client: httpx.AsyncClient, database: Database
) -> None:
    count = await _activity(client, database)
    async with tampering(database) as conn:
        await conn.execute(text("DELETE FROM audit_entry WHERE seq >= :s"), {"s": count - 1})

    await make_user(database, username="later")

    report = await _verify(database)
    assert report.ok is False
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("missing", count - 1)


async def _forge(database: Database, **overrides: object) -> dict[str, object]:
    [last] = await entries(database, seq=(await head(database))[0])
    row: dict[str, object] = {name: last[name] for name in chain.HASHED_FIELDS}
    row.update(
        changes='{"after":{"username":"ghost"}}',
        details="{}",
        action="identity_user.create",
        entity_id="999",
        actor_username="root",
        prev_hash=last["hash"],
        seq=int(last["seq"]) + 1,  # type: ignore[call-overload]
    )
    row.update(overrides)
    row["hash"] = chain.entry_hash(row)
    async with database.engine.begin() as conn:
        await conn.execute(insert(AuditEntry.__table__).values(**row))
    return row


async def test_a_forged_entry_appended_without_moving_the_head_is_reported(
    client: httpx.AsyncClient, database: Database
) -> None:
    count = await _activity(client, database)

    await _forge(database)

    report = await _verify(database)
    assert report.ok is False
    assert report.entries_checked == count + 1
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("head_mismatch", count + 1)


async def test_a_forged_entry_with_an_earlier_seq_is_reported_out_of_order(
    client: httpx.AsyncClient, database: Database
) -> None:
    count = await _activity(client, database)

    await _forge(database, seq=0)

    report = await _verify(database)
    assert report.ok is False
    assert report.entries_checked == count + 1
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("out_of_order", 0)


async def test_a_forged_entry_skipping_ahead_is_reported(client: httpx.AsyncClient, database: Database) -> None:
    count = await _activity(client, database)

    await _forge(database, seq=count + 5)

    report = await _verify(database)
    assert report.ok is False
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("missing", count + 1)


async def test_the_cli_verifies_and_reports_tampering(
    client: httpx.AsyncClient, database: Database, db_url: str, tmp_path: Path
) -> None:
    count = await _activity(client, database)

    code, out = await _cli_verify(db_url, tmp_path)
    assert code == 0, out
    assert VerifyReport.model_validate_json(out) == VerifyReport(ok=True, entries_checked=count, head_seq=count)

    async with tampering(database) as conn:
        await conn.execute(text("UPDATE audit_entry SET reason = 'covered up' WHERE seq = 2"))

    code, out = await _cli_verify(db_url, tmp_path)
    assert code == 1, out
    report = VerifyReport.model_validate_json(out)
    assert report.first_problem is not None
    assert (report.first_problem.problem, report.first_problem.seq) == ("altered", 2)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_entry SET actor_username = 'mallory' WHERE seq = 1", "DELETE FROM audit_entry WHERE seq = 1"],
    ids=["update", "delete"],
)
async def test_changing_or_removing_an_entry_is_refused_by_the_database(
    client: httpx.AsyncClient, database: Database, statement: str
) -> None:
    await _activity(client, database)
    before = await entries(database)

    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text(statement))

    assert await entries(database) == before
    assert (await _verify(database)).ok is True


async def test_deleting_every_entry_is_refused_by_the_database(
    client: httpx.AsyncClient, database: Database, db_kind: str
) -> None:
    await _activity(client, database)
    before = await entries(database)
    statement = "TRUNCATE audit_entry" if db_kind == "postgresql" else "DELETE FROM audit_entry"

    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text(statement))

    assert await entries(database) == before
