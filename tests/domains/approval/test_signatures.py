"""Electronic signatures: password re-entry and lockout, what a signature records, once per signer, bad bodies."""

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from depotflow.core.canonical import canonical_json
from depotflow.core.clock import utcnow
from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.core.settings import Settings
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.errors import LoginLocked
from depotflow.domains.identity.models import LoginThrottle
from tests.conftest import make_settings
from tests.domains.identity.support import client_for, running_app, running_inventree
from tests.factories.approval_http import (
    ALL_APPROVAL,
    BASE,
    SIGNER,
    create_template,
    row_counts,
    rows,
    sign,
    start_flow,
    user_officer,
)
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_admin, make_user, role_id

pytestmark = pytest.mark.anyio

LOCKOUT = {"login_lock_after_user": 3, "login_lock_after_address": 50, "login_lock_seconds": 60}
UA = "DepotScanner/2.1 (line 4)"


async def _flow(
    client: httpx.AsyncClient, database: Database, *officers: tuple[str, str]
) -> tuple[MadeUser, dict[str, MadeUser], dict[str, Any]]:
    """A manager, signers named in `officers` ((username, action), in slot order) and a flow on the manager role."""
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    signers = {name: await make_user(database, username=name, permissions=SIGNER) for name, _ in officers}
    await create_template(
        client, manager, officers=[user_officer(signers[name], action) for name, action in officers], min_signatures=0
    )
    flow = await start_flow(client, manager, await role_id(database, "manager"))
    return manager, signers, flow


async def _get_flow(client: httpx.AsyncClient, viewer: MadeUser, flow_id: int) -> dict[str, Any]:
    return dict((await client.get(f"{BASE}/flows/{flow_id}", headers=viewer.headers)).json())


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


async def test_a_signature_records_who_when_what_over_which_content_and_from_where(
    settings: Settings, database: Database
) -> None:
    async with running_app(settings, database) as app, client_for(app, "192.0.2.44") as client:
        manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "must_sign"))
        sid = signers["sid"]
        started = utcnow()
        response = await sign(
            client,
            sid,
            flow["id"],
            meaning="reviewed",
            reason="  Checked against SOP-12  ",
            headers={"User-Agent": UA, "X-Request-Id": "sign-request-0001"},
        )
        finished = utcnow()
        fetched = await _get_flow(client, manager, flow["id"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["waiting_for"] == [1]
    [signature] = body["signatures"]
    content = {
        "name": "Manager",
        "slug": "manager",
        "description": "Sees users, roles, settings and the audit trail",
        "permissions": ["audit.view", "config.view", "identity.roles.view", "identity.users.view"],
    }
    assert {k: v for k, v in signature.items() if k not in ("id", "signed_at")} == {
        "user_id": sid.id,
        "username": "sid",
        "full_name": "Sid Tester",
        "slot": 0,
        "decision": "approve",
        "meaning": "reviewed",
        "reason": "Checked against SOP-12",
        "ip_address": "192.0.2.44",
        "user_agent": UA,
        "content_digest": _digest(content),
        "withdrawn_at": None,
        "withdrawn_by_id": None,
        "withdrawn_reason": None,
    }
    assert signature["signed_at"].endswith("Z")
    assert started <= datetime.fromisoformat(signature["signed_at"]) <= finished
    [stored] = await rows(
        database,
        "SELECT flow_id, user_id, hmac, content_digest FROM approval_signature WHERE id = :id",
        id=signature["id"],
    )
    assert stored["flow_id"] == flow["id"]
    assert stored["content_digest"] == signature["content_digest"]
    assert len(stored["hmac"]) == 64
    assert int(stored["hmac"], 16) >= 0
    assert "hmac" not in signature
    assert fetched == body
    # The signature and the flow's new status are audited with the request's id.
    [created] = await entries(database, action="approval_signature.create")
    assert created["request_id"] == "sign-request-0001"
    assert created["actor_user_id"] == sid.id
    assert created["ip_address"] == "192.0.2.44"
    assert created["user_agent"] == UA
    assert created["entity_id"] == str(signature["id"])
    assert created["changes"]["after"]["meaning"] == "reviewed"
    assert created["changes"]["after"]["content_digest"] == _digest(content)
    [flow_update] = await entries(database, action="approval_flow.update")
    assert flow_update["request_id"] == "sign-request-0001"
    assert flow_update["changes"]["before"]["status"] == "pending"
    assert flow_update["changes"]["after"]["status"] == "in_progress"


async def test_the_signature_keeps_the_name_the_signer_had_when_signing(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "must_sign"))
    admin = await make_admin(database)
    await sign(client, signers["sid"], flow["id"])

    renamed = await client.put(
        f"/api/users/{signers['sid'].id}", json={"first_name": "Sidney", "last_name": "Renamed"}, headers=admin.headers
    )

    assert renamed.status_code == 200, renamed.text
    [signature] = (await _get_flow(client, manager, flow["id"]))["signatures"]
    assert (signature["username"], signature["full_name"]) == ("sid", "Sid Tester")
    assert (await client.get(f"{BASE}/flows/{flow['id']}/verify", headers=manager.headers)).json()["ok"] is True


async def test_meanings_default_to_the_decision_and_a_rejection_closes_the_flow(
    client: httpx.AsyncClient, database: Database
) -> None:
    _manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "must_sign"))

    approved = await sign(client, signers["sid"], flow["id"], decision="approve")
    rejected = await sign(client, signers["sue"], flow["id"], decision="reject", reason="Wrong permissions")

    assert approved.status_code == 200
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert body["status"] == "rejected"
    assert body["waiting_for"] == []
    assert datetime.fromisoformat(body["completed_at"]) >= datetime.fromisoformat(body["signatures"][1]["signed_at"])
    assert [(s["decision"], s["meaning"], s["reason"]) for s in body["signatures"]] == [
        ("approve", "approved", None),
        ("reject", "rejected", "Wrong permissions"),
    ]


async def test_bad_signing_bodies_are_refused_before_the_password_is_checked(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signers, flow = await _flow(client, database, ("sid", "must_sign"))
    sid = signers["sid"]
    password = sid.password
    cases = [
        {"password": password, "decision": "reject"},
        {"password": password, "decision": "reject", "reason": "   "},
        {"password": password, "decision": "reject", "reason": None},
        {"password": password, "decision": "maybe"},
        {"password": password, "meaning": "Approved!"},
        {"password": password, "meaning": "rejected"},
        {"password": password, "decision": "reject", "reason": "no", "meaning": "approved"},
        {"password": password, "meaning": ""},
        {"password": password, "meaning": "m" * 51},
        {"password": password, "reason": "r" * 2001},
        {"password": password, "ip_address": "10.9.9.9"},
        {"password": password, "user_agent": "Forged/1.0"},
        {"password": password, "signed_at": "2020-01-01T00:00:00Z"},
        {"password": password, "user_id": manager.id},
        {"password": password, "signature_hash": "00"},
        {"password": ""},
        {"password": "p" * 1025},
        {"password": 12345},
        {},
    ]
    before = await row_counts(database)
    flow_before = await _get_flow(client, manager, flow["id"])

    for body in cases:
        response = await client.post(f"{BASE}/flows/{flow['id']}/sign", json=body, headers=sid.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "request.validation_failed", body
        assert password not in response.text
    unreasoned = await client.post(
        f"{BASE}/flows/{flow['id']}/sign", json={"password": password, "decision": "reject"}, headers=sid.headers
    )
    assert unreasoned.json()["errors"] == [
        {"loc": ["body"], "code": "value_error", "msg": "Value error, a rejection needs a reason"}
    ]
    for bad in ("0", str(2**63), "x"):
        response = await client.post(f"{BASE}/flows/{bad}/sign", json={"password": password}, headers=sid.headers)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["path", "flow_id"]

    # No signature, no audit entry: the password was never checked, so nothing counted toward a lockout.
    assert await row_counts(database) == before
    assert await rows(database, "SELECT key FROM identity_login_throttle") == []
    assert await _get_flow(client, manager, flow["id"]) == flow_before


async def test_a_wrong_password_is_refused_counted_and_audited_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signers, flow = await _flow(client, database, ("sid", "must_sign"))
    sid = signers["sid"]
    before = await row_counts(database)

    response = await sign(
        client, sid, flow["id"], password="not-my-password", headers={"X-Request-Id": "bad-password-0001"}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "identity.password_rejected"
    assert response.json()["detail"] == "The password is not correct; the signature was not recorded."
    assert response.json()["errors"] == [
        {"loc": ["body", "password"], "code": "password_rejected", "msg": "is not your current password"}
    ]
    assert "not-my-password" not in response.text
    assert await row_counts(database) == {**before, "audit_entry": before["audit_entry"] + 1}
    [entry] = await entries(database, action="auth.reauthentication_failed")
    assert entry["entity_type"] == "identity_user"
    assert entry["entity_id"] == str(sid.id)
    assert entry["actor_user_id"] == sid.id
    assert entry["request_id"] == "bad-password-0001"
    assert entry["details"] == {"username": "sid", "reason": "bad_password", "locked": False}
    throttles = await rows(
        database, "SELECT kind, key, failures, locked_until FROM identity_login_throttle ORDER BY kind"
    )
    assert throttles == [
        {"kind": "address", "key": "127.0.0.1", "failures": 1, "locked_until": None},
        {"kind": "user", "key": "sid", "failures": 1, "locked_until": None},
    ]
    after = await _get_flow(client, manager, flow["id"])
    assert after == flow


async def test_repeated_wrong_passwords_lock_the_signer_out_even_with_the_right_one(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)
    async with running_app(settings, database) as app, client_for(app) as client:
        manager, signers, flow = await _flow(client, database, ("sid", "must_sign"))
        sid = signers["sid"]
        before = await row_counts(database)
        first = await sign(client, sid, flow["id"], password="wrong-1")
        second = await sign(client, sid, flow["id"], password="wrong-2")
        third = await sign(client, sid, flow["id"], password="wrong-3")
        started = utcnow()
        correct = await sign(client, sid, flow["id"])
        login = await client.post("/api/auth/login", json={"username": "sid", "password": sid.password})
        flow_after = await _get_flow(client, manager, flow["id"])

    assert [first.status_code, second.status_code] == [422, 422]
    assert third.status_code == 429
    assert third.json()["code"] == "auth.login_locked"
    assert correct.status_code == 429
    assert correct.json()["code"] == "auth.login_locked"
    locked_until = datetime.fromisoformat(correct.json()["details"]["locked_until"])
    assert started < locked_until <= started + timedelta(seconds=60)
    assert 59 <= int(correct.headers["Retry-After"]) <= 61
    assert login.status_code == 429
    assert flow_after == flow
    failures = await entries(database, action="auth.reauthentication_failed")
    assert [e["details"]["locked"] for e in failures] == [False, False, True]
    locks = await entries(database, action="auth.login_locked")
    assert [e["details"].get("locked") for e in locks] == [None, "user", "user"]
    assert all(e["entity_id"] == str(sid.id) for e in [*failures, *locks[:2]])
    after = await row_counts(database)
    assert {k: after[k] - before[k] for k in after} == {
        "approval_template": 0,
        "approval_flow": 0,
        "approval_signature": 0,
        "audit_entry": 6,
    }


async def test_the_right_password_clears_earlier_failures(tmp_path: Path, db_url: str, database: Database) -> None:
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)
    async with running_app(settings, database) as app, client_for(app) as client:
        _manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "must_sign"))
        sid = signers["sid"]
        failed = [(await sign(client, sid, flow["id"], password=f"wrong-{i}")).status_code for i in range(2)]
        signed = await sign(client, sid, flow["id"])
        later = [(await sign(client, signers["sue"], flow["id"], password=f"bad-{i}")).status_code for i in range(2)]
        again = await sign(client, sid, flow["id"], password="wrong-again")

    assert failed == [422, 422]
    assert signed.status_code == 200, signed.text
    assert later == [422, 422]
    assert again.status_code == 422
    assert again.json()["code"] == "identity.password_rejected"


async def test_the_password_is_compared_exactly(client: httpx.AsyncClient, database: Database) -> None:
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    spaced = await make_user(database, username="spacey", permissions=SIGNER, password="  two spaces each side  ")
    await create_template(client, manager, officers=[user_officer(spaced)])
    flow = await start_flow(client, manager, await role_id(database, "manager"))

    trimmed = await sign(client, spaced, flow["id"], password="two spaces each side")
    exact = await sign(client, spaced, flow["id"])

    assert trimmed.status_code == 422
    assert trimmed.json()["code"] == "identity.password_rejected"
    assert exact.status_code == 200, exact.text
    assert exact.json()["status"] == "approved"


async def test_a_user_signs_a_flow_only_once(client: httpx.AsyncClient, database: Database) -> None:
    manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "must_sign"))
    first = await sign(client, signers["sid"], flow["id"])
    before = await row_counts(database)

    second = await sign(client, signers["sid"], flow["id"])
    rejecting = await sign(client, signers["sid"], flow["id"], decision="reject", reason="changed my mind")

    assert first.status_code == 200
    for response in (second, rejecting):
        assert response.status_code == 409
        assert response.json()["code"] == "approval.already_signed"
    assert await row_counts(database) == before
    assert await _get_flow(client, manager, flow["id"]) == first.json()


async def test_only_officers_sign(client: httpx.AsyncClient, database: Database) -> None:
    manager, _signers, flow = await _flow(client, database, ("sid", "must_sign"))
    outsider = await make_user(database, username="olga", permissions=SIGNER)
    before = await row_counts(database)

    response = await sign(client, outsider, flow["id"])
    wrong_password = await sign(client, outsider, flow["id"], password="guess")

    assert response.status_code == 403
    assert response.json()["code"] == "approval.not_an_officer"
    assert wrong_password.status_code == 422
    assert wrong_password.json()["code"] == "identity.password_rejected"
    assert await row_counts(database) == {**before, "audit_entry": before["audit_entry"] + 1}
    assert await _get_flow(client, manager, flow["id"]) == flow


async def test_a_closed_flow_takes_no_more_signatures(client: httpx.AsyncClient, database: Database) -> None:
    manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "can_sign"))
    approved = await sign(client, signers["sid"], flow["id"])
    assert approved.json()["status"] == "approved"
    before = await row_counts(database)

    late = await sign(client, signers["sue"], flow["id"])
    twice = await sign(client, signers["sid"], flow["id"])

    for response in (late, twice):
        assert response.status_code == 409
        assert response.json()["code"] == "approval.flow_closed"
        assert response.json()["detail"] == f"Approval flow {flow['id']} is approved; it takes no more signatures."
    assert await row_counts(database) == before
    assert await _get_flow(client, manager, flow["id"]) == approved.json()


async def test_signing_an_unknown_flow(client: httpx.AsyncClient, database: Database) -> None:
    _manager, signers, _flow_body = await _flow(client, database, ("sid", "must_sign"))
    before = await row_counts(database)

    response = await sign(client, signers["sid"], 987_654)

    assert response.status_code == 404
    assert response.json()["code"] == "approval.flow_not_found"
    assert response.json()["details"] == {"flow_id": 987_654}
    assert await row_counts(database) == before


async def test_a_password_check_raced_by_a_lock_does_not_pass_or_lift_it(
    settings: Settings, database: Database
) -> None:
    sid = await make_user(database, username="sid", permissions=SIGNER)
    actor = Actor(user_id=sid.id, username="sid", permissions=frozenset(SIGNER), role_id=sid.role_id)
    async with database.session(write=False) as read:
        check = await identity_service.check_login(
            read, username="sid", password=sid.password, ip_address="127.0.0.1", identity=settings.identity
        )
    assert check.outcome == "ok"
    # Between the password check and its confirmation, failed attempts elsewhere lock the account.
    locked_until = utcnow() + timedelta(minutes=10)
    async with database.engine.begin() as conn:
        await conn.execute(
            insert(LoginThrottle).values(
                kind="user", key="sid", failures=0, window_started_at=utcnow(), locked_until=locked_until
            )
        )

    context = ChangeContext(actor=actor, ip_address="127.0.0.1", reason="sign")
    with pytest.raises(LoginLocked):
        async with database.unit_of_work(context) as session:
            await identity_service.confirm_password(
                session, actor, check, security=settings.security, purpose="the signature"
            )

    async with database.session(write=False) as session:
        stored = (await session.execute(select(LoginThrottle.locked_until).where(LoginThrottle.key == "sid"))).all()
    assert stored == [(locked_until,)]


async def test_the_user_agent_comes_from_the_request_and_is_cut_to_its_column(
    client: httpx.AsyncClient, database: Database
) -> None:
    _manager, signers, flow = await _flow(client, database, ("sid", "must_sign"), ("sue", "must_sign"))

    long_agent = await sign(client, signers["sid"], flow["id"], headers={"User-Agent": "A" * 600})
    no_agent = await sign(client, signers["sue"], flow["id"], headers={"User-Agent": ""})

    assert long_agent.json()["signatures"][0]["user_agent"] == "A" * 512
    assert no_agent.status_code == 200, no_agent.text
    assert no_agent.json()["signatures"][1]["user_agent"] is None
    assert no_agent.json()["status"] == "approved"


async def test_with_inventree_identity_the_identity_server_checks_the_password(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    with running_inventree() as inventree:
        inventree.add("ines", "ines-inventree-pw")
        settings = make_settings(tmp_path, db_url, identity={"mode": "inventree", "inventree_url": inventree.url})
        async with running_app(settings, database) as app, client_for(app) as client:
            manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
            ines = await make_user(
                database, username="ines", permissions=SIGNER, auth_source="inventree", password="local-pw-unused"
            )
            await create_template(client, manager, officers=[user_officer(ines)])
            flow = await start_flow(client, manager, await role_id(database, "manager"))
            before = await row_counts(database)
            local_password = await sign(client, ines, flow["id"])
            inventree.failing = True
            unreachable = await sign(client, ines, flow["id"], password="ines-inventree-pw")
            after_refusals = await row_counts(database)
            inventree.failing = False
            signed = await sign(client, ines, flow["id"], password="ines-inventree-pw")

    assert local_password.status_code == 422
    assert local_password.json()["code"] == "identity.password_rejected"
    assert unreachable.status_code == 502
    assert unreachable.json()["code"] == "auth.identity_server_unavailable"
    assert after_refusals == {**before, "audit_entry": before["audit_entry"] + 2}
    [failed] = await entries(database, action="auth.reauthentication_failed")
    assert failed["details"] == {"username": "ines", "reason": "rejected_by_identity_server", "locked": False}
    assert failed["entity_id"] == str(ines.id)
    assert len(await entries(database, action="auth.login_error")) == 1
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "approved"
    assert signed.json()["signatures"][0]["username"] == "ines"
