"""The UI's cookie session: sign-in, CSRF and Origin checks, the web token kind kept off the API,
idle timeout, sign-out, and safe redirects."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from depotflow.core.clock import utcnow
from depotflow.core.db import Database
from depotflow.domains.identity.models import ApiToken, WebSessionActivity
from tests.factories.audit import entries
from tests.factories.identity import make_user
from tests.ui.conftest import ORIGIN, csrf_from, sign_in

pytestmark = pytest.mark.anyio


async def test_sign_in_sets_an_httponly_session_cookie_and_shows_the_dashboard(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    cookie = next(c for c in client.cookies.jar if c.name in ("df_session", "__Host-df_session"))
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = await web.get("/web/dashboard")
    assert page.status_code == 200
    assert "ana" in page.text.lower()


async def test_the_api_refuses_the_web_session_cookie_and_token(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    await sign_in(client, user)
    assert (await client.get("/api/auth/me")).status_code == 401
    token = next(c.value for c in client.cookies.jar if c.name.endswith("df_session"))
    resp = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


async def test_wrong_password_is_422_with_the_username_kept(client, database: Database) -> None:
    await make_user(database, username="ana", permissions=[])
    page = await client.get("/web/login")
    resp = await client.post(
        "/web/login",
        data={"username": "ana", "password": "nope", "csrf_token": csrf_from(page.text)},
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 422
    assert 'value="ana"' in resp.text
    assert "Invalid username or password" in resp.text


async def test_login_without_csrf_token_or_from_another_origin_is_refused(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    page = await client.get("/web/login")
    token = csrf_from(page.text)
    no_token = await client.post("/web/login", data={"username": "ana", "password": user.password})
    assert no_token.status_code == 403
    cross = await client.post(
        "/web/login",
        data={"username": "ana", "password": user.password, "csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert not any(c.name.endswith("df_session") for c in client.cookies.jar)


async def test_unsafe_requests_need_the_session_csrf_token_and_same_origin(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    assert (await web.post("/web/logout", csrf="0" * 64)).status_code == 403
    assert (await web.post("/web/logout", origin="https://evil.example")).status_code == 403
    assert (await web.get("/web/dashboard")).status_code == 200  # still signed in
    out = await web.post("/web/logout")
    assert out.status_code == 303
    after = await client.get("/web/dashboard")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/web/login?next=")


async def test_pages_redirect_to_login_and_htmx_gets_hx_redirect(client, database: Database) -> None:
    resp = await client.get("/web/dashboard")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/web/login?next=/web/dashboard"
    hx = await client.get("/web/dashboard", headers={"HX-Request": "true"})
    assert hx.status_code == 401
    assert hx.headers["HX-Redirect"].startswith("/web/login")


async def test_next_only_goes_to_our_own_pages(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    for evil in ("https://evil.example/", "//evil.example/web/", "/api/auth/me"):
        page = await client.get("/web/login")
        resp = await client.post(
            "/web/login",
            data={"username": "ana", "password": user.password, "next": evil, "csrf_token": csrf_from(page.text)},
            headers={"Origin": ORIGIN},
        )
        assert resp.status_code == 303
        assert resp.headers["location"] == "/web/dashboard"
        client.cookies.clear()


async def test_security_headers_on_web_pages(client, database: Database) -> None:
    resp = await client.get("/web/login")
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert resp.headers["referrer-policy"] == "same-origin"
    assert resp.headers["x-content-type-options"] == "nosniff"


async def test_idle_session_ends_and_ping_keeps_it_alive(client, database: Database, app) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    assert (await web.post("/web/session/ping")).status_code == 204
    assert (await web.post("/web/session/ping", csrf="0" * 64)).status_code == 403
    idle = app.state.settings.web.session_idle_minutes
    async with database.session(write=True) as session:
        token_id = (
            await session.execute(select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.kind == "web"))
        ).scalar_one()
        await session.merge(WebSessionActivity(token_id=token_id, last_seen_at=utcnow() - timedelta(minutes=idle + 1)))
        await session.commit()
    resp = await client.get("/web/dashboard")
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/web/login")
    assert (await web.post("/web/session/ping")).status_code in (401, 303)


async def test_lockout_is_shown_with_the_remaining_minutes(client, database: Database, app) -> None:
    user = await make_user(database, username="ana", permissions=[])
    limit = app.state.settings.security.login_lock_after_user
    statuses = []
    for _ in range(limit + 1):
        page = await client.get("/web/login")
        resp = await client.post(
            "/web/login",
            data={"username": "ana", "password": "wrong", "csrf_token": csrf_from(page.text)},
            headers={"Origin": ORIGIN},
        )
        statuses.append(resp.status_code)
    assert statuses[0] == 422
    assert statuses[-1] == 429
    assert "locked for 15 more minutes" in resp.text
    # Even the right password is refused while locked, and no session is created.
    page = await client.get("/web/login")
    locked = await client.post(
        "/web/login",
        data={"username": "ana", "password": user.password, "csrf_token": csrf_from(page.text)},
        headers={"Origin": ORIGIN},
    )
    assert locked.status_code == 429
    assert not any(c.name.endswith("df_session") for c in client.cookies.jar)


async def test_web_sign_in_and_out_are_in_the_audit_trail_as_web_sessions(client, database: Database) -> None:
    user = await make_user(database, username="ana", permissions=[])
    web = await sign_in(client, user)
    logins = await entries(database, action="auth.login")
    assert [e["details"]["session"] for e in logins] == ["web"]
    assert logins[0]["actor_username"] == "ana"
    await web.post("/web/logout")
    assert len(await entries(database, action="auth.logout")) == 1
