"""Account administration over the API: lock status and unlock, administrator password reset,
ending a user's sessions, and one's own sessions (ui.md F6, A3)."""

from datetime import datetime
from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.identity import permissions as identity_perms
from tests.conftest import make_settings
from tests.domains.identity.support import app_client, audit_entries, scalar, stored_state
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, auth, make_admin, make_token, make_user

pytestmark = pytest.mark.anyio

LOCKOUT = {"login_lock_after_user": 3, "login_lock_after_address": 50, "login_lock_seconds": 600}
TEMPORARY = "temporary-secret-42"


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def _lock_out(client: httpx.AsyncClient, username: str) -> None:
    for attempt in range(3):
        await _login(client, username, f"wrong-{attempt}")


async def _reasons(database: Database, action: str) -> list[str | None]:
    return [e["reason"] for e in await entries(database, action=action)]


# --- lock status and unlock --------------------------------------------------------------------------


async def test_a_locked_user_can_sign_in_after_an_audited_unlock(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    admin = await make_admin(database)
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)

    async with app_client(settings, database) as client:
        free = await client.get(f"/api/users/{alice.id}/lock", headers=admin.headers)
        assert free.status_code == 200
        assert free.json() == {"user_id": alice.id, "username": "alice", "locked": False, "locked_until": None}

        await _lock_out(client, "alice")
        assert (await _login(client, "alice", alice.password)).status_code == 429
        locked = await client.get(f"/api/users/{alice.id}/lock", headers=admin.headers)
        assert locked.json()["locked"] is True
        until = datetime.fromisoformat(locked.json()["locked_until"])

        unlocked = await client.post(
            f"/api/users/{alice.id}/unlock", json={"reason": "Called the help desk"}, headers=admin.headers
        )
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json() == {"user_id": alice.id, "username": "alice", "locked": False, "locked_until": None}
        assert (await client.get(f"/api/users/{alice.id}/lock", headers=admin.headers)).json()["locked"] is False
        assert await scalar(database, "SELECT locked_until FROM identity_login_throttle WHERE key = 'alice'") is None

        signed_in = await _login(client, "alice", alice.password)
        assert signed_in.status_code == 200, signed_in.text

    events = await audit_entries(database, "identity.user_unlocked")
    assert len(events) == 1
    assert events[0]["actor_username"] == "root"
    assert (events[0]["entity_type"], events[0]["entity_id"]) == ("identity_user", str(alice.id))
    assert events[0]["details"] == {"username": "alice", "locked_until": until.isoformat()}
    assert await _reasons(database, "identity.user_unlocked") == ["Called the help desk"]


async def test_unlock_refusals_change_nothing(tmp_path: Path, db_url: str, database: Database) -> None:
    admin = await make_admin(database)
    viewer = await make_user(database, username="viv", permissions=[identity_perms.USERS_VIEW])
    alice = await make_user(database, username="alice", role_slug="user", with_token=False)
    bob = await make_user(database, username="bob", role_slug="user", with_token=False)
    settings = make_settings(tmp_path, db_url, security=LOCKOUT)

    async with app_client(settings, database) as client:
        await _lock_out(client, "alice")
        before = await stored_state(database)
        reason = {"reason": "help desk"}
        refused = {
            "no permission": (await client.post(f"/api/users/{alice.id}/unlock", json=reason, headers=viewer.headers)),
            "unknown user": (await client.post("/api/users/999999/unlock", json=reason, headers=admin.headers)),
            "no reason": (await client.post(f"/api/users/{alice.id}/unlock", json={}, headers=admin.headers)),
            "blank reason": (
                await client.post(f"/api/users/{alice.id}/unlock", json={"reason": "  "}, headers=admin.headers)
            ),
            "not locked": (await client.post(f"/api/users/{bob.id}/unlock", json=reason, headers=admin.headers)),
        }
        assert {name: r.status_code for name, r in refused.items()} == {
            "no permission": 403,
            "unknown user": 404,
            "no reason": 422,
            "blank reason": 422,
            "not locked": 409,
        }
        assert refused["unknown user"].json()["code"] == "identity.user_not_found"
        assert refused["not locked"].json()["code"] == "identity.user_not_locked"
        assert await stored_state(database) == before
        assert (await client.get("/api/users/999999/lock", headers=admin.headers)).status_code == 404
        assert (await client.get(f"/api/users/{alice.id}/lock", headers=viewer.headers)).json()["locked"] is True
        assert (await _login(client, "alice", alice.password)).status_code == 429


# --- administrator password reset --------------------------------------------------------------------


async def test_a_password_reset_forces_a_change_and_ends_every_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    bert = await make_user(database, username="bert", role_slug="manager")
    other_token = await make_token(database, bert.id)
    assert (await client.get("/api/auth/me", headers=bert.headers)).status_code == 200

    reset = await client.post(
        f"/api/users/{bert.id}/password-reset",
        json={"temporary_password": TEMPORARY, "reason": "Forgot the password"},
        headers=admin.headers,
    )

    assert reset.status_code == 200, reset.text
    assert reset.json()["must_change_password"] is True
    assert TEMPORARY not in reset.text
    # The old tokens are refused at once, the old password fails, the temporary one signs in.
    for token in (bert.token, other_token):
        refused = await client.get("/api/auth/me", headers=auth(token))
        assert refused.status_code == 401
        assert refused.json()["code"] == "auth.token_revoked"
    assert (await _login(client, "bert", bert.password)).status_code == 401
    login = await _login(client, "bert", TEMPORARY)
    assert login.status_code == 200, login.text
    assert login.json()["must_change_password"] is True
    temporary = auth(login.json()["token"])
    forced = await client.get("/api/users/", headers=temporary)
    assert forced.status_code == 403
    assert forced.json()["code"] == "auth.password_change_required"
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": TEMPORARY, "new_password": "my-own-new-secret"},
        headers=temporary,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/api/users/", headers=temporary)).status_code == 200

    assert await scalar(database, "SELECT count(*) FROM identity_token WHERE revoked_reason = 'password_reset'") == 2
    events = await audit_entries(database, "identity.password_reset")
    assert [(e["actor_username"], e["entity_id"], e["details"]) for e in events] == [
        ("root", str(bert.id), {"username": "bert", "sessions_revoked": 2})
    ]
    assert await _reasons(database, "identity.password_reset") == ["Forgot the password"]
    # The user row's own entry carries the reason too, with the hash redacted.
    updates = [e for e in await entries(database, action="identity_user.update") if e["entity_id"] == str(bert.id)]
    assert updates[0]["reason"] == "Forgot the password"
    assert updates[0]["changes"]["after"]["must_change_password"] is True
    assert updates[0]["changes"]["after"]["password_hash"] == "[redacted]"
    assert TEMPORARY not in str(await entries(database))


async def test_password_reset_refusals_change_nothing(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    viewer = await make_user(database, username="viv", permissions=[identity_perms.USERS_VIEW])
    bert = await make_user(database, username="bert", role_slug="user")
    remote = await make_user(database, username="remo", role_slug="user", auth_source="inventree")
    body = {"temporary_password": TEMPORARY, "reason": "Forgot it"}
    before = await stored_state(database)

    cases = {
        "no permission": (bert.id, body, viewer),
        "unknown user": (999999, body, admin),
        "weak password": (bert.id, {**body, "temporary_password": "short"}, admin),
        "no reason": (bert.id, {"temporary_password": TEMPORARY}, admin),
        "own account": (admin.id, body, admin),
        "identity server account": (remote.id, body, admin),
    }
    answers = {}
    for name, (user_id, payload, who) in cases.items():
        response = await client.post(f"/api/users/{user_id}/password-reset", json=payload, headers=who.headers)
        answers[name] = (response.status_code, response.json().get("code"))
    assert answers == {
        "no permission": (403, "permission_denied"),
        "unknown user": (404, "identity.user_not_found"),
        "weak password": (422, "identity.weak_password"),
        "no reason": (422, "request.validation_failed"),
        "own account": (409, "identity.cannot_reset_own_password"),
        "identity server account": (409, "identity.externally_managed"),
    }
    assert await stored_state(database) == before
    assert (await client.get("/api/auth/me", headers=bert.headers)).status_code == 200
    assert (await _login(client, "bert", bert.password)).status_code == 200


# --- a user's sessions ---------------------------------------------------------------------------------


async def test_ending_all_sessions_of_a_user_refuses_their_tokens(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    carla = await make_user(database, username="carla", role_slug="user")
    second = await make_token(database, carla.id)
    login = await _login(client, "carla", carla.password)
    assert login.status_code == 200

    listed = await client.get(f"/api/users/{carla.id}/sessions", headers=admin.headers)
    assert listed.status_code == 200
    assert len(listed.json()) == 3
    assert set(listed.json()[0]) == {
        "id",
        "kind",
        "created_at",
        "expires_at",
        "last_seen_at",
        "ip_address",
        "user_agent",
        "current",
    }
    assert {s["kind"] for s in listed.json()} == {"api"}
    assert any(s["ip_address"] == "127.0.0.1" for s in listed.json())

    revoked = await client.post(
        f"/api/users/{carla.id}/sessions/revoke", json={"reason": "Laptop stolen"}, headers=admin.headers
    )

    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"revoked": 3}
    for token in (carla.token, second, login.json()["token"]):
        refused = await client.get("/api/auth/me", headers=auth(token))
        assert refused.status_code == 401
        assert refused.json()["code"] == "auth.token_revoked"
    assert (await client.get(f"/api/users/{carla.id}/sessions", headers=admin.headers)).json() == []
    assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200
    events = await audit_entries(database, "identity.sessions_revoked")
    assert [(e["actor_username"], e["entity_id"], e["details"]) for e in events] == [
        ("root", str(carla.id), {"username": "carla", "sessions_revoked": 3})
    ]
    assert await _reasons(database, "identity.sessions_revoked") == ["Laptop stolen"]
    token_updates = await entries(database, action="identity_token.update")
    assert len(token_updates) == 3
    assert {e["changes"]["after"]["revoked_reason"] for e in token_updates} == {"revoked_by_admin"}


async def test_ending_sessions_refusals_change_nothing(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    viewer = await make_user(database, username="viv", permissions=[identity_perms.USERS_VIEW])
    carla = await make_user(database, username="carla", role_slug="user")
    before = await stored_state(database)

    no_permission = await client.post(
        f"/api/users/{carla.id}/sessions/revoke", json={"reason": "x"}, headers=viewer.headers
    )
    unknown = await client.post("/api/users/999999/sessions/revoke", json={"reason": "x"}, headers=admin.headers)
    no_reason = await client.post(f"/api/users/{carla.id}/sessions/revoke", json={"reason": ""}, headers=admin.headers)
    bad_id = await client.post("/api/users/abc/sessions/revoke", json={"reason": "x"}, headers=admin.headers)

    assert (no_permission.status_code, unknown.status_code, no_reason.status_code) == (403, 404, 422)
    assert bad_id.status_code == 422
    assert (await client.get(f"/api/users/{carla.id}/sessions", headers=viewer.headers)).status_code == 200
    assert (await client.get("/api/users/999999/sessions", headers=admin.headers)).status_code == 404
    assert await stored_state(database) == before
    assert (await client.get("/api/auth/me", headers=carla.headers)).status_code == 200


async def test_ending_ones_own_sessions_keeps_the_one_in_use(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    other = await make_token(database, admin.id)

    revoked = await client.post(
        f"/api/users/{admin.id}/sessions/revoke", json={"reason": "Lost phone"}, headers=admin.headers
    )

    assert revoked.json() == {"revoked": 1}
    assert (await client.get("/api/auth/me", headers=admin.headers)).status_code == 200
    assert (await client.get("/api/auth/me", headers=auth(other))).status_code == 401


# --- one's own sessions (A3) ---------------------------------------------------------------------------


async def test_a_user_lists_and_ends_their_own_other_sessions(client: httpx.AsyncClient, database: Database) -> None:
    dana: MadeUser = await make_user(database, username="dana", role_slug="user")
    phone = await make_token(database, dana.id)

    mine = await client.get("/api/auth/sessions", headers=dana.headers)
    assert mine.status_code == 200
    assert sorted((s["current"], s["kind"]) for s in mine.json()) == [(False, "api"), (True, "api")]
    phone_id = next(s["id"] for s in mine.json() if not s["current"])
    current_id = next(s["id"] for s in mine.json() if s["current"])

    ended = await client.delete(f"/api/auth/sessions/{phone_id}", headers=dana.headers)

    assert ended.status_code == 204
    refused = await client.get("/api/auth/me", headers=auth(phone))
    assert (refused.status_code, refused.json()["code"]) == (401, "auth.token_revoked")
    assert [s["id"] for s in (await client.get("/api/auth/sessions", headers=dana.headers)).json()] == [current_id]
    events = await audit_entries(database, "auth.session_revoked")
    assert [(e["actor_username"], e["details"]) for e in events] == [("dana", {"session_id": phone_id, "kind": "api"})]


async def test_ending_a_session_that_is_not_ones_own_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    dana = await make_user(database, username="dana", role_slug="user")
    erik = await make_user(database, username="erik", role_slug="user")
    eriks = (await client.get("/api/auth/sessions", headers=erik.headers)).json()[0]["id"]
    danas = (await client.get("/api/auth/sessions", headers=dana.headers)).json()[0]["id"]
    before = await stored_state(database)

    foreign = await client.delete(f"/api/auth/sessions/{eriks}", headers=dana.headers)
    unknown = await client.delete("/api/auth/sessions/999999", headers=dana.headers)
    current = await client.delete(f"/api/auth/sessions/{danas}", headers=dana.headers)
    bad = await client.delete("/api/auth/sessions/0", headers=dana.headers)
    anonymous = await client.delete(f"/api/auth/sessions/{eriks}")

    assert (foreign.status_code, foreign.json()["code"]) == (404, "identity.session_not_found")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "identity.session_not_found")
    assert (current.status_code, current.json()["code"]) == (409, "identity.current_session")
    assert bad.status_code == 422
    assert anonymous.status_code == 401
    assert await stored_state(database) == before
    assert (await client.get("/api/auth/me", headers=erik.headers)).status_code == 200
