"""Signature integrity: a field edited in the database breaks that signature's HMAC; object changes are reported."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update

from depotflow.core.db import Database
from depotflow.domains.approval.models import ApprovalSignature
from tests.conftest import make_settings
from tests.domains.identity.support import client_for, running_app
from tests.factories.approval_http import (
    ALL_APPROVAL,
    SIGNER,
    create_template,
    rows,
    sign,
    start_flow,
    tamper,
    user_officer,
    verify,
    withdraw,
)
from tests.factories.identity import MadeUser, make_admin, make_user, role_id

pytestmark = pytest.mark.anyio


async def _two_signatures(
    client: httpx.AsyncClient, database: Database
) -> tuple[MadeUser, MadeUser, MadeUser, dict[str, Any]]:
    """Two officers (and a third, can_sign, who does not sign) have signed a flow on the manager role."""
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    sid = await make_user(database, username="sid", permissions=SIGNER)
    sue = await make_user(database, username="sue", permissions=SIGNER)
    await create_template(
        client, manager, officers=[user_officer(sid), user_officer(sue), user_officer(manager, "can_sign")]
    )
    flow = await start_flow(client, manager, await role_id(database, "manager"))
    assert (await sign(client, sid, flow["id"], headers={"User-Agent": "Scanner/1"})).status_code == 200
    signed = await sign(client, sue, flow["id"], decision="approve", meaning="released", reason="QA ok")
    assert signed.status_code == 200, signed.text
    return manager, sid, sue, signed.json()


def _checks(report: dict[str, Any]) -> list[tuple[int, bool, bool | None]]:
    return [(c["user_id"], c["valid"], c["content_unchanged"]) for c in report["signatures"]]


async def test_untouched_signatures_verify(client: httpx.AsyncClient, database: Database) -> None:
    manager, sid, sue, flow = await _two_signatures(client, database)
    first, second = flow["signatures"]

    report = await verify(client, manager, flow["id"])

    assert report == {
        "flow_id": flow["id"],
        "ok": True,
        "status": flow["status"],
        "status_consistent": True,
        "signatures": [
            {"signature_id": first["id"], "user_id": sid.id, "valid": True, "content_unchanged": True},
            {"signature_id": second["id"], "user_id": sue.id, "valid": True, "content_unchanged": True},
        ],
    }


async def test_a_flow_without_signatures_verifies_trivially(client: httpx.AsyncClient, database: Database) -> None:
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    await create_template(client, manager, officers=[user_officer(manager)])
    flow = await start_flow(client, manager, await role_id(database, "user"))

    assert await verify(client, manager, flow["id"]) == {
        "flow_id": flow["id"],
        "ok": True,
        "status": "pending",
        "status_consistent": True,
        "signatures": [],
    }


async def test_a_status_forged_in_the_database_is_reported(client: httpx.AsyncClient, database: Database) -> None:
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    await create_template(client, manager, officers=[user_officer(manager)])
    flow = await start_flow(client, manager, await role_id(database, "user"))
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE approval_flow SET status = 'approved' WHERE id = :id"), {"id": flow["id"]})

    report = await verify(client, manager, flow["id"])

    assert (report["ok"], report["status"], report["status_consistent"]) == (False, "approved", False)


async def test_an_edited_signature_field_invalidates_that_signature_only(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, sid, sue, flow = await _two_signatures(client, database)
    target = flow["signatures"][0]["id"]
    edits = [
        ("meaning", "'reviewed'"),
        ("user_agent", "'Forged/1.0'"),
        ("ip_address", "'10.66.66.66'"),
        ("reason", "'backdated'"),
        ("username", "'mallory'"),
        ("full_name", "'Mallory Tester'"),
        ("decision", "'reject'"),
        ("slot", "2"),
        ("user_id", str(manager.id)),
        ("content_digest", "'" + "0" * 64 + "'"),
        ("hmac", "'" + "f" * 64 + "'"),
    ]

    for column, value in edits:
        [original] = await rows(database, f"SELECT {column} AS v FROM approval_signature WHERE id = :id", id=target)
        assert (
            await tamper(database, f"UPDATE approval_signature SET {column} = {value} WHERE id = :id", id=target) == 1
        )
        report = await verify(client, manager, flow["id"])
        assert report["ok"] is False, column
        assert [(c["signature_id"], c["valid"]) for c in report["signatures"]] == [
            (target, False),
            (flow["signatures"][1]["id"], True),
        ], column
        await tamper(
            database, f"UPDATE approval_signature SET {column} = :v WHERE id = :id", v=original["v"], id=target
        )
        assert (await verify(client, manager, flow["id"]))["ok"] is True, column

    assert [sid.id, sue.id] == [s["user_id"] for s in flow["signatures"]]


async def test_a_shifted_signing_time_invalidates_the_signature(client: httpx.AsyncClient, database: Database) -> None:
    manager, sid, sue, flow = await _two_signatures(client, database)
    target = flow["signatures"][1]["id"]
    async with database.session(write=False) as session:
        query = select(ApprovalSignature.signed_at).where(ApprovalSignature.id == target)
        signed_at = (await session.execute(query)).scalar_one()

    for shift in (timedelta(days=-1), timedelta(microseconds=1)):
        async with database.engine.begin() as conn:
            await conn.execute(
                update(ApprovalSignature).where(ApprovalSignature.id == target).values(signed_at=signed_at + shift)
            )
        report = await verify(client, manager, flow["id"])
        assert report["ok"] is False, shift
        assert _checks(report) == [(sid.id, True, True), (sue.id, False, True)], shift


async def test_moving_a_signature_or_retargeting_the_flow_breaks_the_seal(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, _sid, _sue, flow = await _two_signatures(client, database)
    other = await start_flow(client, manager, await role_id(database, "user"))
    moved = flow["signatures"][1]["id"]

    await tamper(database, "UPDATE approval_signature SET flow_id = :other WHERE id = :id", other=other["id"], id=moved)
    on_other = await verify(client, manager, other["id"])
    await tamper(database, "UPDATE approval_signature SET flow_id = :flow WHERE id = :id", flow=flow["id"], id=moved)
    admin_role = await role_id(database, "admin")
    await tamper(database, "UPDATE approval_flow SET object_id = :role WHERE id = :id", role=admin_role, id=flow["id"])
    retargeted = await verify(client, manager, flow["id"])
    await tamper(
        database, "UPDATE approval_flow SET object_id = :role WHERE id = :id", role=flow["object_id"], id=flow["id"]
    )
    await tamper(database, "UPDATE approval_flow SET stage = 'release' WHERE id = :id", id=flow["id"])
    restaged = await verify(client, manager, flow["id"])

    assert on_other["ok"] is False
    assert [(c["signature_id"], c["valid"]) for c in on_other["signatures"]] == [(moved, False)]
    assert retargeted["ok"] is False
    assert [c["valid"] for c in retargeted["signatures"]] == [False, False]
    assert restaged["ok"] is False
    assert [c["valid"] for c in restaged["signatures"]] == [False, False]


async def test_changing_the_signed_object_is_reported_without_invalidating(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, sid, sue, flow = await _two_signatures(client, database)
    admin = await make_admin(database)
    manager_role = await role_id(database, "manager")
    original = (await client.get(f"/api/roles/{manager_role}", headers=admin.headers)).json()["permissions"]

    changed = await client.put(
        f"/api/roles/{manager_role}", json={"permissions": [*original, "approval.view"]}, headers=admin.headers
    )
    after_change = await verify(client, manager, flow["id"])
    restored = await client.put(f"/api/roles/{manager_role}", json={"permissions": original}, headers=admin.headers)
    after_restore = await verify(client, manager, flow["id"])

    assert changed.status_code == 200, changed.text
    assert after_change["ok"] is True
    assert _checks(after_change) == [(sid.id, True, False), (sue.id, True, False)]
    assert restored.status_code == 200
    assert _checks(after_restore) == [(sid.id, True, True), (sue.id, True, True)]


async def test_a_withdrawn_signature_still_verifies(client: httpx.AsyncClient, database: Database) -> None:
    manager, sid, sue, flow = await _two_signatures(client, database)

    response = await withdraw(client, manager, flow["id"], sid.id)
    report = await verify(client, manager, flow["id"])

    assert response.status_code == 200
    assert report["ok"] is True
    assert _checks(report) == [(sid.id, True, True), (sue.id, True, True)]


async def test_signatures_are_sealed_with_the_server_secret(tmp_path: Path, db_url: str, database: Database) -> None:
    signing = make_settings(tmp_path, db_url, secret_key="s" * 40)
    async with running_app(signing, database) as app, client_for(app) as client:
        manager, _sid, _sue, flow = await _two_signatures(client, database)
        same_secret = await verify(client, manager, flow["id"])
    other = make_settings(tmp_path, db_url, secret_key="t" * 40)
    async with running_app(other, database) as app, client_for(app) as client:
        other_secret = await verify(client, manager, flow["id"])

    assert same_secret["ok"] is True
    assert other_secret["ok"] is False
    assert [c["valid"] for c in other_secret["signatures"]] == [False, False]
    assert [c["content_unchanged"] for c in other_secret["signatures"]] == [True, True]


async def test_undoing_a_withdrawal_in_the_database_is_detected(client: httpx.AsyncClient, database: Database) -> None:
    manager, sid, _sue, flow = await _two_signatures(client, database)
    await withdraw(client, manager, flow["id"], sid.id)

    await tamper(
        database,
        "UPDATE approval_signature SET withdrawn_at = NULL, withdrawn_by_id = NULL, withdrawn_reason = NULL "
        "WHERE id = :id",
        id=flow["signatures"][0]["id"],
    )
    report = await verify(client, manager, flow["id"])

    assert report["ok"] is False
    assert [c["valid"] for c in report["signatures"]] == [False, True]


async def test_a_signed_object_that_no_longer_exists_reads_as_changed(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    admin = await make_admin(database)
    await create_template(client, manager, officers=[user_officer(manager)])
    doomed = await client.post("/api/roles/", json={"name": "Temporary", "slug": "temporary"}, headers=admin.headers)
    flow = await start_flow(client, manager, doomed.json()["id"])
    assert (await sign(client, manager, flow["id"])).status_code == 200
    assert (await client.delete(f"/api/roles/{doomed.json()['id']}", headers=admin.headers)).status_code == 204

    report = await verify(client, manager, flow["id"])

    assert report["ok"] is True
    assert [(s["valid"], s["content_unchanged"]) for s in report["signatures"]] == [(True, False)]
