"""Account administration in the browser (ui.md F6, A3, F11): unlock, password reset and ending
sessions from the user page, one's own sessions on /web/account, and the audit log's CSV export.

Each action is a reason dialog: 303 and a flash on success; 422 with the typed reason kept (never a
password) and the stored data unchanged when refused; the permission of the mirrored API route."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from depotflow.core.db import Database
from depotflow.domains.audit import permissions as audit_perms
from depotflow.domains.identity import permissions as identity_perms
from depotflow.domains.identity.models import ApiToken, User
from tests.domains.identity.support import audit_entries, stored_state
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, auth, make_admin, make_user
from tests.ui.conftest import ORIGIN, WebClient, csrf_from, sign_in, text_of

pytestmark = pytest.mark.anyio

TEMPORARY = "temporary-secret-42"


@pytest.fixture
async def second_client(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same (started) app."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        yield c


async def _lock_out(client: httpx.AsyncClient, username: str) -> None:
    for attempt in range(5):  # the default per-account limit
        await client.post("/api/auth/login", json={"username": username, "password": f"wrong-{attempt}"})


async def _throttle_lock(database: Database, username: str) -> Any:
    async with database.session(write=False) as session:
        stmt = text("SELECT locked_until FROM identity_login_throttle WHERE kind = 'user' AND key = :k")
        return (await session.execute(stmt, {"k": username})).scalar_one_or_none()


async def _user(database: Database, username: str) -> User:
    async with database.session(write=False) as session:
        return (await session.execute(select(User).where(User.username == username))).scalar_one()


async def _token_ids(database: Database, user_id: int) -> list[int]:
    async with database.session(write=False) as session:
        stmt = select(ApiToken.id).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        return sorted((await session.execute(stmt)).scalars())


# --- unlock ------------------------------------------------------------------------------------------


async def test_unlock_from_the_user_page_lets_the_user_sign_in(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database: Database
) -> None:
    web = await sign_in(client, await make_admin(database))
    alice = await make_user(database, username="alice", permissions=[])
    await _lock_out(second_client, "alice")
    assert await _throttle_lock(database, "alice") is not None

    listed = await web.get("/web/admin/users", params={"q": "alice"})
    assert "Sign-in locked" in text_of(listed.text)  # the users list shows the lock too
    detail = await web.get(f"/web/admin/users/{alice.id}")
    assert "Sign-in locked" in detail.text
    dialog_url = f"/web/admin/users/{alice.id}/unlock/dialog"
    assert f'hx-get="{dialog_url}"' in detail.text

    fragment = await web.get(dialog_url, target="dialog-content")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert 'name="reason"' in fragment.text
    assert f'hx-post="/web/admin/users/{alice.id}/unlock"' in fragment.text
    page = await web.get(dialog_url)
    assert page.status_code == 200
    assert "<html" in page.text

    before = await stored_state(database)
    missing = await web.post(f"/web/admin/users/{alice.id}/unlock", {"reason": "   "})
    assert missing.status_code == 422
    assert 'id="e-reason"' in missing.text
    assert await stored_state(database) == before

    done = await web.post(f"/web/admin/users/{alice.id}/unlock", {"reason": "Verified by phone"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/web/admin/users/{alice.id}"
    shown = await web.get(done.headers["location"])
    assert "Sign-in for alice is unlocked." in shown.text
    assert "Not locked" in shown.text
    assert "/unlock/dialog" not in shown.text
    assert "Sign-in locked" not in text_of((await web.get("/web/admin/users", params={"q": "alice"})).text)
    assert await _throttle_lock(database, "alice") is None
    assert [e["reason"] for e in await entries(database, action="identity.user_unlocked")] == ["Verified by phone"]

    again = await web.post(f"/web/admin/users/{alice.id}/unlock", {"reason": "twice"}, target="dialog-content")
    assert again.status_code == 409
    assert "This account is not locked." in again.text
    assert ">twice</textarea>" in again.text  # the typed reason is kept
    assert len(await audit_entries(database, "identity.user_unlocked")) == 1

    await sign_in(second_client, alice)  # asserts the sign-in reaches the dashboard


# --- password reset ------------------------------------------------------------------------------------


async def test_reset_password_forces_a_change_and_ends_the_users_sessions(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    web = await sign_in(client, admin)
    bert = await make_user(database, username="bert", permissions=[identity_perms.USERS_VIEW])
    bert_web = await sign_in(second_client, bert)
    url = f"/web/admin/users/{bert.id}/reset-password"

    own = await web.get(f"/web/admin/users/{admin.id}")
    assert "/reset-password/dialog" not in own.text
    assert f'href="{url}/dialog"' in (await web.get(f"/web/admin/users/{bert.id}")).text
    dialog = await web.get(f"{url}/dialog", target="dialog-content")
    assert 'name="temporary_password"' in dialog.text
    assert 'autocomplete="new-password"' in dialog.text

    before = await stored_state(database)
    refusals = {
        "weak": (
            {"temporary_password": "short", "temporary_password_again": "short", "reason": "r"},
            "e-temporary_password",
        ),
        "differ": (
            {"temporary_password": TEMPORARY, "temporary_password_again": TEMPORARY + "x", "reason": "r"},
            "e-temporary_password_again",
        ),
        "no reason": (
            {"temporary_password": TEMPORARY, "temporary_password_again": TEMPORARY, "reason": ""},
            "e-reason",
        ),
    }
    for name, (data, error_id) in refusals.items():
        refused = await web.post(url, data)
        assert refused.status_code == 422, name
        assert f'id="{error_id}"' in refused.text, name
        assert TEMPORARY not in refused.text, name
        assert await stored_state(database) == before, name
    kept = await web.post(
        url, {"temporary_password": "short", "temporary_password_again": "short", "reason": "Keep me"}
    )
    assert "Keep me" in kept.text

    done = await web.post(
        url, {"temporary_password": TEMPORARY, "temporary_password_again": TEMPORARY, "reason": "Forgot it"}
    )
    assert done.status_code == 303, done.text
    shown = await web.get(done.headers["location"])
    assert "bert has a temporary password and must change it at the next sign-in" in text_of(shown.text)
    assert "Must be changed at the next sign-in" in shown.text
    stored = await _user(database, "bert")
    assert stored.must_change_password
    assert await _token_ids(database, bert.id) == []
    assert (await second_client.get("/api/auth/me", headers=auth(bert.token))).status_code == 401
    signed_out = await bert_web.get("/web/dashboard")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/web/login")
    events = await audit_entries(database, "identity.password_reset")
    assert [(e["actor_username"], e["details"]["sessions_revoked"]) for e in events] == [("root", 2)]

    # The old password fails; the temporary one signs in straight to the forced change.
    second_client.cookies.clear()
    login_page = await second_client.get("/web/login")
    form = {"username": "bert", "next": "/web/dashboard", "csrf_token": csrf_from(login_page.text)}
    old = await second_client.post("/web/login", data={**form, "password": bert.password}, headers={"Origin": ORIGIN})
    assert old.status_code == 422
    new = await second_client.post("/web/login", data={**form, "password": TEMPORARY}, headers={"Origin": ORIGIN})
    assert new.status_code == 303
    forced = await second_client.get("/web/dashboard")
    assert forced.status_code == 303
    assert forced.headers["location"] == "/web/account"
    account = await second_client.get("/web/account")
    assert "Change your password before you continue." in account.text


# --- ending sessions ------------------------------------------------------------------------------------


async def test_ending_all_sessions_signs_the_user_out_everywhere(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database: Database
) -> None:
    web = await sign_in(client, await make_admin(database))
    carla = await make_user(database, username="carla", permissions=[])
    carla_web = await sign_in(second_client, carla)

    detail = text_of((await web.get(f"/web/admin/users/{carla.id}")).text)
    assert "Browser session" in detail
    assert "API token" in detail
    url = f"/web/admin/users/{carla.id}/revoke-sessions"

    before = await stored_state(database)
    assert (await web.post(url, {"reason": ""})).status_code == 422
    assert await stored_state(database) == before

    done = await web.post(url, {"reason": "Badge lost"}, target="dialog-content")
    assert done.status_code == 200
    assert done.headers["HX-Redirect"] == f"/web/admin/users/{carla.id}"
    shown = await web.get(f"/web/admin/users/{carla.id}")
    assert "2 sessions of carla were ended." in shown.text
    assert "No active sessions." in shown.text
    assert (await carla_web.get("/web/dashboard")).status_code == 303
    assert (await second_client.get("/api/auth/me", headers=auth(carla.token))).status_code == 401
    assert [e["reason"] for e in await entries(database, action="identity.sessions_revoked")] == ["Badge lost"]


async def test_account_actions_need_the_manage_permission(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await make_user(database, username="viv", permissions=[identity_perms.USERS_VIEW])
    target = await make_user(database, username="tom", permissions=[])
    await _lock_out(client, "tom")
    web = await sign_in(client, viewer)

    page = await web.get(f"/web/admin/users/{target.id}")
    assert page.status_code == 200
    assert "Sign-in locked" in page.text
    assert "Account actions" not in page.text
    assert "/unlock/dialog" not in page.text
    before = await stored_state(database)
    for action in ("unlock", "reset-password", "revoke-sessions"):
        assert (await web.get(f"/web/admin/users/{target.id}/{action}/dialog")).status_code == 403
        data = {"reason": "x", "temporary_password": TEMPORARY, "temporary_password_again": TEMPORARY}
        assert (await web.post(f"/web/admin/users/{target.id}/{action}", data)).status_code == 403
    assert await stored_state(database) == before

    client.cookies.clear()
    admin = await sign_in(client, await make_admin(database))
    for action in ("unlock", "reset-password", "revoke-sessions"):
        assert (await admin.get(f"/web/admin/users/999999/{action}/dialog")).status_code == 404
        assert (await admin.post(f"/web/admin/users/999999/{action}", {"reason": "x"})).status_code == 404


# --- my sessions (A3) -------------------------------------------------------------------------------------


async def test_account_page_lists_my_sessions_and_ends_another(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database: Database
) -> None:
    dana: MadeUser = await make_user(database, username="dana", permissions=[])
    erik = await make_user(database, username="erik", permissions=[])
    web: WebClient = await sign_in(client, dana)
    await sign_in(second_client, dana)
    tokens = await _token_ids(database, dana.id)
    assert len(tokens) == 3  # the factory's API token and two browser sessions

    page = await web.get("/web/account")
    assert page.status_code == 200
    assert "My active sessions" in page.text
    assert "This session" in page.text
    forms = [t for t in tokens if f'action="/web/account/sessions/{t}/revoke"' in page.text]
    assert len(forms) == 2  # every session but the current one
    current = next(t for t in tokens if t not in forms)

    before = await stored_state(database)
    assert (await web.post(f"/web/account/sessions/{current}/revoke")).status_code == 409
    eriks = (await _token_ids(database, erik.id))[0]
    assert (await web.post(f"/web/account/sessions/{eriks}/revoke")).status_code == 404
    assert (await web.post("/web/account/sessions/999999/revoke")).status_code == 404
    assert (await web.post(f"/web/account/sessions/{forms[0]}/revoke", csrf="0" * 64)).status_code == 403
    assert await stored_state(database) == before

    api_token = tokens[0]  # the factory's, older than both browser sessions
    assert api_token in forms
    done = await web.post(f"/web/account/sessions/{api_token}/revoke")
    assert done.status_code == 303
    assert done.headers["location"] == "/web/account"
    assert "The session was ended." in (await web.get("/web/account")).text
    assert (await client.get("/api/auth/me", headers=auth(dana.token))).status_code == 401
    assert (await web.get("/web/dashboard")).status_code == 200
    assert [e["actor_username"] for e in await audit_entries(database, "auth.session_revoked")] == ["dana"]


# --- audit export ----------------------------------------------------------------------------------------


async def test_audit_export_link_keeps_the_filters(client: httpx.AsyncClient, database: Database) -> None:
    web = await sign_in(client, await make_admin(database))
    assert (
        await web.post("/web/admin/users", {"username": "jane", "password": "a-long-enough-secret"})
    ).status_code == 303

    page = await web.get("/web/admin/audit?action=identity_user.create&username=root")
    link = "/web/admin/audit/export.csv?action=identity_user.create&amp;username=root"
    assert f'href="{link}"' in page.text
    fragment = await web.get("/web/admin/audit?action=identity_user.create", target="results")
    assert 'href="/web/admin/audit/export.csv?action=identity_user.create"' in fragment.text

    export = await web.get(link.replace("&amp;", "&"))
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.content.startswith(b"\xef\xbb\xbf")
    lines = export.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("seq,occurred_at,actor_username")
    assert len(lines) == 2
    assert ",root," in lines[1]
    assert "identity_user.create" in lines[1]

    bad = await web.get("/web/admin/audit/export.csv?since=31.12.2026")
    assert bad.status_code == 422
    assert 'id="e-since"' in bad.text

    client.cookies.clear()
    outsider = await sign_in(client, await make_user(database, username="lee", permissions=[identity_perms.USERS_VIEW]))
    assert (await outsider.get("/web/admin/audit/export.csv")).status_code == 403
    auditor_user = await make_user(database, username="kim", permissions=[audit_perms.VIEW])
    client.cookies.clear()
    auditor = await sign_in(client, auditor_user)
    assert (await auditor.get("/web/admin/audit/export.csv")).status_code == 200
