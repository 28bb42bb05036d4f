"""Bearer tokens: header formats, expiry, and revocation that is immediate despite the token cache."""

from datetime import timedelta

import anyio
import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.security import token_digest
from tests.domains.identity.support import audit_entries, scalar, stored_state
from tests.factories.identity import auth, make_admin, make_token, make_user

pytestmark = pytest.mark.anyio


async def _status(client: httpx.AsyncClient, token: str) -> tuple[int, str | None]:
    """Use the token (which also puts it in the per-process cache) and report status and error code."""
    response = await client.get("/api/auth/me", headers=auth(token))
    return response.status_code, None if response.status_code == 200 else response.json()["code"]


async def _revoked_reason(db: Database, token: str) -> str | None:
    return await scalar(db, "SELECT revoked_reason FROM identity_token WHERE token_hash = :h", h=token_digest(token))


async def test_logout_revokes_the_token_at_once(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="lena", role_slug="user")
    login = await client.post("/api/auth/login", json={"username": "lena", "password": user.password})
    token = login.json()["token"]
    assert await _status(client, token) == (200, None)  # now cached

    response = await client.post("/api/auth/logout", headers=auth(token, "Token"))

    assert response.status_code == 204
    assert response.content == b""
    assert await _status(client, token) == (401, "auth.token_revoked")
    assert await _revoked_reason(database, token) == "logout"
    assert await _status(client, user.token) == (200, None)  # other sessions stay
    [entry] = await audit_entries(database, "auth.logout")
    assert (entry["actor_username"], entry["entity_id"]) == ("lena", str(user.id))
    before = await stored_state(database)
    again = await client.post("/api/auth/logout", headers=auth(token))
    assert again.status_code == 401
    assert again.json()["code"] == "auth.token_revoked"
    assert await stored_state(database) == before


async def test_an_administrator_setting_a_new_password_revokes_every_token_of_the_user(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    user = await make_user(database, username="lena", role_slug="user")
    second = await make_token(database, user.id)
    assert await _status(client, user.token) == (200, None)
    assert await _status(client, second) == (200, None)

    response = await client.put(f"/api/users/{user.id}", json={"password": "a-brand-new-secret"}, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert await _status(client, user.token) == (401, "auth.token_revoked")
    assert await _status(client, second) == (401, "auth.token_revoked")
    assert await _revoked_reason(database, second) == "password_changed"
    assert await _status(client, admin.token) == (200, None)
    old = await client.post("/api/auth/login", json={"username": "lena", "password": user.password})
    assert old.status_code == 401
    new = await client.post("/api/auth/login", json={"username": "lena", "password": "a-brand-new-secret"})
    assert new.status_code == 200
    [change] = [
        e for e in await audit_entries(database, "identity_user.update") if "password_hash" in e["changes"]["after"]
    ]
    assert change["changes"]["after"]["password_hash"] == "[redacted]"
    assert change["actor_username"] == "root"


async def test_deactivating_a_user_revokes_their_tokens_for_good(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    lena = await make_user(database, username="lena", role_slug="user")
    omar = await make_user(database, username="omar", role_slug="user")
    assert await _status(client, lena.token) == (200, None)
    assert await _status(client, omar.token) == (200, None)

    put = await client.put(f"/api/users/{lena.id}", json={"is_active": False}, headers=admin.headers)
    delete = await client.delete(f"/api/users/{omar.id}", headers=admin.headers)

    assert put.status_code == 200
    assert put.json()["is_active"] is False
    assert delete.status_code == 204
    assert await _status(client, lena.token) == (401, "auth.token_revoked")
    assert await _status(client, omar.token) == (401, "auth.token_revoked")
    assert await _revoked_reason(database, lena.token) == "deactivated"
    assert await _revoked_reason(database, omar.token) == "deactivated"
    login = await client.post("/api/auth/login", json={"username": "lena", "password": lena.password})
    assert login.status_code == 401
    # Reactivation lets the user log in again but does not bring old tokens back.
    react = await client.put(f"/api/users/{lena.id}", json={"is_active": True}, headers=admin.headers)
    assert react.status_code == 200
    assert await _status(client, lena.token) == (401, "auth.token_revoked")
    login = await client.post("/api/auth/login", json={"username": "lena", "password": lena.password})
    assert login.status_code == 200


async def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await make_user(database, username="lena", role_slug="user")
    other = await make_token(database, user.id)
    assert await _status(client, other) == (200, None)

    response = await client.post(
        "/api/auth/password",
        json={"current_password": user.password, "new_password": "my-new-long-secret"},
        headers=user.headers,
    )

    assert response.status_code == 204
    assert await _status(client, user.token) == (200, None)
    assert await _status(client, other) == (401, "auth.token_revoked")
    assert await _revoked_reason(database, other) == "password_changed"
    assert await _revoked_reason(database, user.token) is None
    assert (
        await client.post("/api/auth/login", json={"username": "lena", "password": user.password})
    ).status_code == 401
    assert (
        await client.post("/api/auth/login", json={"username": "lena", "password": "my-new-long-secret"})
    ).status_code == 200


async def test_a_refused_own_password_change_changes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="lena", role_slug="user")
    remote = await make_user(database, username="remote", role_slug="user", auth_source="inventree")
    await make_token(database, user.id)
    cases = [
        (user, {"current_password": user.password, "new_password": "short"}, 422, "identity.weak_password"),
        (user, {"current_password": user.password, "new_password": "LENA"}, 422, "identity.weak_password"),
        (user, {"current_password": user.password, "new_password": " padded-password "}, 422, "identity.weak_password"),
        (user, {"current_password": user.password}, 422, "request.validation_failed"),
        (
            remote,
            {"current_password": remote.password, "new_password": "my-new-long-secret"},
            409,
            "identity.externally_managed",
        ),
    ]
    before = await stored_state(database)

    for made, body, status, code in cases:
        response = await client.post("/api/auth/password", json=body, headers=made.headers)
        assert response.status_code == status, body
        assert response.json()["code"] == code

    assert await stored_state(database) == before
    # A wrong current password changes nothing either, but the attempt itself is audited.
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "not-my-password", "new_password": "my-new-long-secret"},
        headers=user.headers,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (422, "identity.wrong_current_password")
    assert wrong.json()["errors"] == [
        {"loc": ["body", "current_password"], "code": "wrong_password", "msg": "is not the current password"}
    ]
    assert await stored_state(database) == {**before, "audit_entry": before["audit_entry"] + 1}
    [failed] = await audit_entries(database, "auth.password_change_failed")
    assert (failed["entity_type"], failed["entity_id"]) == ("identity_user", str(user.id))
    anonymous = await client.post(
        "/api/auth/password", json={"current_password": user.password, "new_password": "my-new-long-secret"}
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.not_authenticated"


async def test_expired_unknown_and_inactive_tokens_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="lena", role_slug="user")
    inactive = await make_user(database, username="ivan", role_slug="user", is_active=False)
    expired = await make_token(database, user.id, expires_in=timedelta(seconds=-1))
    expiring = await make_token(database, user.id, expires_in=timedelta(seconds=0.6))
    before = await stored_state(database)

    assert await _status(client, expired) == (401, "auth.token_expired")
    assert await _status(client, "x" * 43) == (401, "auth.invalid_token")
    assert await _status(client, inactive.token) == (401, "auth.user_inactive")
    assert await _status(client, expiring) == (200, None)  # cached for 5 s, but not past its expiry
    await anyio.sleep(0.7)
    assert await _status(client, expiring) == (401, "auth.token_expired")
    assert await _status(client, user.token) == (200, None)
    assert await stored_state(database) == before


async def test_the_authorization_header_takes_bearer_or_token(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="lena", role_slug="user")
    accepted = [f"Bearer {user.token}", f"Token {user.token}", f"bearer {user.token}", f"TOKEN  {user.token} "]
    malformed = [
        f"Basic {user.token}",
        f"JWT {user.token}",
        "Bearer",
        "Bearer ",
        user.token,
        f"Bearer {user.token} extra",
        "Bearer " + "a" * 513,
    ]

    for header in accepted:
        response = await client.get("/api/auth/verify", headers={"Authorization": header})
        assert response.status_code == 200, header
        assert response.json() == {"valid": True, "username": "lena", "name": "Lena Tester", "is_staff": False}
    for header in malformed:
        response = await client.get("/api/auth/verify", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["code"] == "auth.invalid_header"
        assert response.json()["detail"] == "Invalid authorization header format; use 'Bearer <token>'."
    for headers in ({}, {"Authorization": ""}, {"Authorization": "   "}):
        response = await client.get("/api/auth/verify", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "auth.not_authenticated"
