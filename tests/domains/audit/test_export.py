"""GET /api/audit/verify and GET /api/audit/export.csv: the chain check over HTTP and the CSV export
(filters, UTF-8 with BOM, cells a spreadsheet would run as formulas defused, permissions)."""

import csv
import io

import httpx
import pytest
from sqlalchemy import text

from depotflow.core.db import Database
from depotflow.domains.audit import service as audit_service
from tests.conftest import system_context
from tests.factories.audit import entry_count, tampering
from tests.factories.identity import MadeUser, make_admin, make_user

pytestmark = pytest.mark.anyio


async def _seed(client: httpx.AsyncClient, database: Database) -> MadeUser:
    admin = await make_admin(database)
    auditor = await make_user(database, username="auditor", permissions=["audit.view"])
    for name in ("ann", "ben"):
        response = await client.post(
            "/api/users/",
            json={"username": name, "password": "a-long-enough-password", "first_name": '=HYPERLINK("x")'},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
    async with database.unit_of_work(system_context("-1+1 Ștefan's fix")) as session:
        await audit_service.record(session, action="@import", entity_type="identity_user", entity_id=1)
    return auditor


def _rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


async def test_verify_reports_an_intact_chain_and_where_it_breaks(
    client: httpx.AsyncClient, database: Database
) -> None:
    auditor = await _seed(client, database)
    count = await entry_count(database)

    intact = await client.get("/api/audit/verify", headers=auditor.headers)

    assert intact.status_code == 200, intact.text
    assert intact.json() == {"ok": True, "entries_checked": count, "head_seq": count, "first_problem": None}

    async with tampering(database) as conn:
        await conn.execute(text("UPDATE audit_entry SET actor_username = 'mallory' WHERE seq = 3"))
    broken = await client.get("/api/audit/verify", headers=auditor.headers)
    assert broken.status_code == 200
    body = broken.json()
    assert (body["ok"], body["entries_checked"], body["head_seq"]) == (False, 3, count)
    assert body["first_problem"]["seq"] == 3
    assert body["first_problem"]["problem"] == "altered"
    assert await entry_count(database) == count  # verifying writes nothing


async def test_verify_and_export_need_the_audit_permission(client: httpx.AsyncClient, database: Database) -> None:
    await _seed(client, database)
    outsider = await make_user(database, username="out", permissions=["identity.users.view"])
    count = await entry_count(database)

    for path in ("/api/audit/verify", "/api/audit/export.csv"):
        assert (await client.get(path)).status_code == 401
        refused = await client.get(path, headers=outsider.headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
    assert await entry_count(database) == count


async def test_export_is_utf8_csv_with_a_bom_oldest_first_and_defuses_formulas(
    client: httpx.AsyncClient, database: Database
) -> None:
    auditor = await _seed(client, database)
    count = await entry_count(database)

    response = await client.get("/api/audit/export.csv", headers=auditor.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="audit-log.csv"'
    rows = _rows(response.content)
    assert list(rows[0]) == list(audit_service.CSV_COLUMNS)
    assert [int(r["seq"]) for r in rows] == list(range(1, count + 1))
    last = rows[-1]
    assert last["action"] == "'@import"
    assert last["reason"] == "'-1+1 Ștefan's fix"
    assert last["actor_kind"] == "system"
    created = [r for r in rows if r["action"] == "identity_user.create" and r["actor_username"] == "root"]
    assert len(created) == 2
    # A JSON cell holding a formula-looking value starts with "{": left as it is, readable.
    assert '=HYPERLINK(\\"x\\")' in created[0]["changes"]
    assert all(not r[c].startswith(("=", "+", "-", "@")) for r in rows for c in r)
    assert await entry_count(database) == count


async def test_export_keeps_the_filters_and_refuses_bad_ones(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)

    query = "action=identity_user.create&username=root"
    by_action = _rows((await client.get(f"/api/audit/export.csv?{query}", headers=auditor.headers)).content)
    assert [(r["action"], r["actor_username"]) for r in by_action] == [("identity_user.create", "root")] * 2
    by_user = _rows((await client.get("/api/audit/export.csv?username=nobody", headers=auditor.headers)).content)
    assert by_user == []
    future = await client.get("/api/audit/export.csv?since=2999-01-01T00:00:00Z", headers=auditor.headers)
    assert _rows(future.content) == []

    naive = await client.get("/api/audit/export.csv?since=2026-01-01T00:00:00", headers=auditor.headers)
    assert naive.status_code == 422
    assert naive.json()["code"] == "request.validation_failed"


async def test_export_streams_many_entries_in_batches(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await make_user(database, username="auditor", permissions=["audit.view"])
    async with database.unit_of_work(system_context()) as session:
        for n in range(1200):
            await audit_service.record(session, action="bulk.event", details={"n": n})
    count = await entry_count(database)

    rows = _rows((await client.get("/api/audit/export.csv", headers=auditor.headers)).content)

    assert len(rows) == count
    assert [int(r["seq"]) for r in rows] == list(range(1, count + 1))
    assert len({r["hash"] for r in rows}) == count
