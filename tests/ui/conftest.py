"""UI test helpers: a browser-like client that signs in through /web/login and sends the CSRF token
and Origin header the way the pages do.

    web = await sign_in(client, user)          # user: tests.factories.identity.MadeUser
    page = await web.get("/web/inventory/parts")
    resp = await web.post("/web/inventory/parts/new", {"ipn": "P-1", ...})
    frag = await web.get("/web/inventory/parts?q=x", target="results")   # htmx partial

Every request of a `WebClient` is a plain httpx request against the in-process app (the `client`
fixture of tests/conftest.py), so it runs on both databases like any other test.
"""

import html
import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories.identity import MadeUser

# Session cookies are Secure (and __Host- prefixed), as in production: the UI tests speak https.
ORIGIN = "https://testserver"
_HX_HEADERS = re.compile(r"hx-headers='([^']*)'")
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app over https, so the browser-only Secure cookies come back like in production."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
            yield c


def csrf_from(page: str) -> str:
    """The CSRF token a page carries (body hx-headers, else a form's hidden field)."""
    match = _HX_HEADERS.search(page)
    if match:
        return str(json.loads(html.unescape(match.group(1)))["X-CSRF-Token"])
    found = _CSRF_INPUT.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class WebClient:
    client: httpx.AsyncClient
    csrf: str
    user: MadeUser | None = None

    async def get(self, path: str, *, target: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if target is not None:
            headers.update({"HX-Request": "true", "HX-Target": target})
        return await self.client.get(path, headers=headers, **kwargs)

    async def post(
        self,
        path: str,
        data: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        htmx: bool = False,
        target: str | None = None,
        csrf: str | None = None,
        origin: str | None = ORIGIN,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A form post with the page's CSRF token (override with `csrf=`; `origin=None` omits it)."""
        items = list(data.items()) if isinstance(data, Mapping) else list(data or [])
        items.append(("csrf_token", self.csrf if csrf is None else csrf))
        sent = dict(headers or {})
        if origin is not None:
            sent["Origin"] = origin
        if htmx or target is not None:
            sent["HX-Request"] = "true"
            if target is not None:
                sent["HX-Target"] = target
        return await self.client.post(path, data=dict(_pairs_to_multi(items)), files=files, headers=sent)


def _pairs_to_multi(items: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            existing = out[key]
            out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[key] = value
    return out


async def sign_in(client: httpx.AsyncClient, user: MadeUser, *, password: str | None = None) -> WebClient:
    """Sign `user` in through the login form; the client keeps the session cookie."""
    page = await client.get("/web/login")
    assert page.status_code == 200, page.text
    token = csrf_from(page.text)
    resp = await client.post(
        "/web/login",
        data={
            "username": user.username,
            "password": password or user.password,
            "next": "/web/dashboard",
            "csrf_token": token,
        },
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 303, resp.text
    dashboard = await client.get("/web/dashboard")
    assert dashboard.status_code == 200, dashboard.text
    return WebClient(client=client, csrf=csrf_from(dashboard.text), user=user)


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment with tags stripped and whitespace collapsed (for assertions)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
