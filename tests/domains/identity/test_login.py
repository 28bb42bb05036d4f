"""Login: tokens issued, failures that reveal nothing, and the audit of every attempt."""

from datetime import datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher

from depotflow.core.clock import utcnow
from depotflow.core.db import Database
from depotflow.core.security import token_digest
from tests.domains.identity.support import audit_entries, execute, scalar, stored_state
from tests.factories.identity import auth, make_admin, make_user

pytestmark = pytest.mark.anyio

INVALID = "Invalid credentials. Please check your username and password."


async def test_login_returns_a_token_its_expiry_and_the_staff_flag(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    before = utcnow()

    response = await client.post(
        "/api/auth/login",
        json={"username": "root", "password": admin.password},
        headers={"User-Agent": "pytest-agent"},
    )

    after = utcnow()
    assert response.status_code == 200, response.text
    body = response.json()
    token = body.pop("token")
    expires_at = datetime.fromisoformat(body.pop("expires_at"))
    assert body == {
        "token_type": "Bearer",
        "username": "root",
        "name": "Root Tester",
        "is_staff": True,
        "must_change_password": False,
        "message": "Login successful",
    }
    assert before + timedelta(minutes=720) <= expires_at <= after + timedelta(minutes=720)
    assert len(token) >= 40
    me = await client.get("/api/auth/me", headers=auth(token))
    assert me.status_code == 200
    assert me.json()["username"] == "root"
    # Only the digest is stored, with where the login came from.
    assert await scalar(database, "SELECT count(*) FROM identity_token WHERE token_hash = :h", h=token) == 0
    token_id = await scalar(database, "SELECT id FROM identity_token WHERE token_hash = :h", h=token_digest(token))
    row = await scalar(database, "SELECT ip_address || '|' || user_agent FROM identity_token WHERE id = :t", t=token_id)
    assert row == "127.0.0.1|pytest-agent"
    users = await client.get(f"/api/users/{admin.id}", headers=auth(token))
    last_login = datetime.fromisoformat(users.json()["last_login_at"])
    assert before <= last_login <= after
    [entry] = await audit_entries(database, "auth.login")
    assert entry == {
        "action": "auth.login",
        "actor_username": "root",
        "actor_user_id": admin.id,
        "entity_type": "identity_user",
        "entity_id": str(admin.id),
        "details": {"identity_server": "local", "token_id": token_id, "is_staff": True, "session": "api"},
        "changes": {},
        "ip_address": "127.0.0.1",
    }


async def test_each_login_issues_a_new_independent_token(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="nina", role_slug="manager", with_token=False)

    first = await client.post("/api/auth/login", json={"username": "nina", "password": user.password})
    second = await client.post("/api/auth/login", json={"username": "  nina ", "password": user.password})

    assert first.status_code == second.status_code == 200
    assert first.json()["is_staff"] is second.json()["is_staff"] is False
    assert first.json()["name"] == second.json()["name"] == "Nina Tester"
    assert second.json()["username"] == "nina"  # the username is trimmed before the lookup
    assert first.json()["token"] != second.json()["token"]
    for token in (first.json()["token"], second.json()["token"]):
        assert (await client.get("/api/auth/verify", headers=auth(token))).status_code == 200
    assert await scalar(database, "SELECT count(*) FROM identity_token WHERE user_id = :u", u=user.id) == 2
    assert [e["details"]["is_staff"] for e in await audit_entries(database, "auth.login")] == [False, False]


async def test_every_failed_login_answers_401_with_one_message_and_audits_its_reason(
    client: httpx.AsyncClient, database: Database
) -> None:
    olga = await make_user(database, username="olga", role_slug="user", with_token=False)
    ivan = await make_user(database, username="ivan", role_slug="user", with_token=False, is_active=False)
    remote = await make_user(database, username="remote", role_slug="user", with_token=False, auth_source="inventree")
    await execute(database, "UPDATE identity_user SET password_hash = NULL WHERE id = :u", u=remote.id)
    users_before = (await stored_state(database))["identity_user"]
    attempts = [
        ("olga", "wrong-password-123", "bad_password", olga.id),
        ("olga", f" {olga.password} ", "bad_password", olga.id),  # passwords are compared exactly as typed
        ("nobody", olga.password, "unknown_user", None),
        ("ivan", ivan.password, "inactive", ivan.id),
        ("ivan", "wrong-password-123", "bad_password", ivan.id),
        ("remote", remote.password, "bad_password", remote.id),  # no local password at all
        ("OLGA", olga.password, "unknown_user", None),  # usernames are exact
    ]

    for username, password, _reason, _user_id in attempts:
        response = await client.post("/api/auth/login", json={"username": username, "password": password})
        assert response.status_code == 401, username
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "auth.invalid_credentials"
        assert response.json()["detail"] == INVALID
        assert "token" not in response.json()

    # The failed attempts persisted although each request failed; nothing else changed.
    state = await stored_state(database)
    assert state["identity_token"] == []
    assert state["identity_user"] == users_before
    assert await audit_entries(database, "auth.login") == []
    assert await audit_entries(database, "auth.login_failed") == [
        {
            "action": "auth.login_failed",
            "actor_username": "anonymous",
            "actor_user_id": None,
            "entity_type": "identity_user" if user_id else None,
            "entity_id": str(user_id) if user_id else None,
            "details": {"username": username, "reason": reason, "locked": False},
            "changes": {},
            "ip_address": "127.0.0.1",
        }
        for username, _password, reason, user_id in attempts
    ]
    counters = await scalar(
        database,
        "SELECT sum(failures) FROM identity_login_throttle WHERE kind = 'user' AND key IN ('olga', 'ivan', 'nobody')",
    )
    assert counters == 6  # olga 3x (OLGA counts against the same account key), ivan twice, nobody once


async def test_malformed_login_requests_are_refused_without_counting_or_auditing(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_admin(database)
    before = await stored_state(database)
    cases = [
        ('{"username": "root"}', 422, "request.validation_failed"),
        ('{"password": "s3cret-pw"}', 422, "request.validation_failed"),
        ('{"username": "", "password": "s3cret-pw"}', 422, "request.validation_failed"),
        ('{"username": "root", "password": ""}', 422, "request.validation_failed"),
        ('{"username": "root", "password": "s3cret-pw", "remember": true}', 422, "request.validation_failed"),
        ('{"username": 5, "password": "s3cret-pw"}', 422, "request.validation_failed"),
        ('["root", "s3cret-pw"]', 422, "request.validation_failed"),
        ('{"username": "root", "password": "s3cret-pw"', 400, "request.malformed_json"),
    ]

    for content, status, code in cases:
        response = await client.post("/api/auth/login", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == status, content
        assert response.json()["code"] == code
        assert "s3cret-pw" not in response.text  # a rejected input is never echoed

    assert await stored_state(database) == before


async def test_login_upgrades_an_outdated_password_hash(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="olga", role_slug="user", with_token=False)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(user.password)
    await execute(database, "UPDATE identity_user SET password_hash = :h WHERE id = :u", h=weak, u=user.id)

    response = await client.post("/api/auth/login", json={"username": "olga", "password": user.password})

    assert response.status_code == 200
    stored = await scalar(database, "SELECT password_hash FROM identity_user WHERE id = :u", u=user.id)
    assert stored != weak
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    again = await client.post("/api/auth/login", json={"username": "olga", "password": user.password})
    assert again.status_code == 200
