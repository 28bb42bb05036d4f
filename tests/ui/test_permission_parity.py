"""Permission parity between the browser UI and the API (ui.md §4.3, issue 5).

Every UI route names the API route(s) it is the browser form of and requires the same permission.
Then, on the demo plant, each demo user walks every page the UI links to: every link works, and no
page offers a form or htmx action for which the user lacks the permission; finally every unsafe UI
route answers 403 to a signed-in user without its permission, with nothing stored.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import select

from depotflow.core.db import Database
from depotflow.demo import load as load_demo
from depotflow.domains.identity.models import Role, User
from depotflow.ui.session import WebRequirement
from depotflow.web.deps import Requirement
from tests.conftest import system_context
from tests.factories.audit import entry_count
from tests.factories.identity import MadeUser, make_user
from tests.ui.conftest import sign_in

pytestmark = pytest.mark.anyio

# UI routes that stand for no API route: the sign-in pages and UI-only preferences.
NO_API_EQUIVALENT = {("GET", "/web/"), ("POST", "/web/lang")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    regex: re.Pattern[str]
    permission: str | None
    guarded: bool  # has an authorization dependency at all
    mirrors: tuple[str, ...] | None


def _requirements(dependant: Dependant) -> Iterator[Any]:
    if isinstance(dependant.call, WebRequirement | Requirement):
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _requirements(sub)


def _effective(app: FastAPI) -> Iterator[Any]:
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()


def route_table(app: FastAPI) -> list[RouteInfo]:
    out = []
    for ctx in _effective(app):
        reqs = list(_requirements(ctx.dependant))
        perms = {r.permission for r in reqs if r.permission is not None}
        assert len(perms) <= 1, f"{ctx.path} requires several permissions: {perms}"
        extra = ctx.openapi_extra or {}
        mirrors = tuple(extra["x-api-equivalent"]) if "x-api-equivalent" in extra else None
        for method in sorted(ctx.methods or ()):
            out.append(RouteInfo(method, ctx.path, ctx.path_regex, next(iter(perms), None), bool(reqs), mirrors))
    return out


def web_routes(app: FastAPI) -> list[RouteInfo]:
    return [r for r in route_table(app) if r.path.startswith("/web") and not r.path.startswith("/web/static")]


async def test_every_ui_route_mirrors_existing_api_routes_with_the_same_permission(app: FastAPI) -> None:
    table = route_table(app)
    api = {(r.method, r.path): r for r in table if not r.path.startswith("/web")}
    ui = web_routes(app)
    assert len(ui) >= 8
    problems = []
    for r in ui:
        if r.mirrors is None:
            problems.append(f"{r.method} {r.path}: declares no mirrored API route (use routing.mirrors)")
            continue
        if not r.mirrors and (r.method, r.path) not in NO_API_EQUIVALENT and not r.path.startswith("/web/login"):
            problems.append(f"{r.method} {r.path}: mirrors nothing")
        mirrored = []
        for spec in r.mirrors:
            method, _, path = spec.partition(" ")
            target = api.get((method, path))
            if target is None:
                problems.append(f"{r.method} {r.path}: mirrors {spec}, which is not an API route")
            else:
                mirrored.append(target)
        if mirrored and r.permission not in {m.permission for m in mirrored}:
            problems.append(
                f"{r.method} {r.path}: requires {r.permission!r}, its API routes "
                f"{sorted({str(m.permission) for m in mirrored})}"
            )
    assert not problems, "\n".join(problems)


class _Page(HTMLParser):
    """Links, form actions and htmx write targets of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: set[str] = set()
        self.writes: set[tuple[str, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("/web/"):
            self.links.add(a["href"].split("#")[0])
        if tag == "form" and a.get("method", "get").lower() == "post" and a.get("action"):
            self.writes.add(("POST", a["action"]))
        for method in ("post", "put", "patch", "delete"):
            if a.get(f"hx-{method}"):
                self.writes.add((method.upper(), a[f"hx-{method}"]))


def _match(routes: list[RouteInfo], method: str, url: str) -> RouteInfo | None:
    path = url.split("?")[0]
    for r in routes:
        if r.method == method and r.regex.match(path):
            return r
    return None


@pytest.fixture
async def demo_users(database: Database, settings: Any) -> dict[str, MadeUser]:
    async with database.unit_of_work(system_context("demo for the parity walk")) as session:
        result = await load_demo(
            session, security=settings.security, procurement=settings.procurement, secret=settings.resolved_secret_key()
        )
    users = {
        u.username: MadeUser(id=0, username=u.username, password=u.password, token="", role_id=None)
        for u in result.users
    }
    view_only = await make_user(
        database,
        username="viewer",
        permissions=[
            "procurement.view",
            "stock.view",
            "part.view",
            "company.view",
            "approval.view",
            "identity.users.view",
            "identity.roles.view",
            "audit.view",
            "config.view",
            "file.view",
        ],
    )
    users["viewer"] = view_only
    return users


MAX_PAGES = 120


async def test_each_demo_user_sees_only_actions_they_may_take_and_every_link_works(
    client, app: FastAPI, database: Database, demo_users: dict[str, MadeUser]
) -> None:
    routes = web_routes(app)
    for username, user in demo_users.items():
        client.cookies.clear()
        web = await sign_in(client, user)
        granted = await _permissions_of(database, username)
        seen: set[str] = set()
        queue = ["/web/dashboard"]
        problems: list[str] = []
        while queue and len(seen) < MAX_PAGES:
            url = queue.pop(0)
            if url in seen or url.startswith(("/web/logout", "/web/static")):
                continue
            seen.add(url)
            resp = await web.get(url)
            if resp.status_code in (301, 302, 303, 307):
                continue
            if resp.status_code != 200:
                problems.append(f"{username}: GET {url} → {resp.status_code}")
                continue
            if "text/html" not in resp.headers.get("content-type", ""):
                continue
            page = _Page()
            page.feed(resp.text)
            for method, target in sorted(page.writes):
                route = _match(routes, method, target)
                if route is None:
                    problems.append(f"{username}: {url} posts to {method} {target}, which is no UI route")
                elif route.permission is not None and route.permission not in granted:
                    problems.append(f"{username}: {url} offers {method} {target} needing {route.permission}")
            # Follow each path once per shape of query (pagination and sorting add nothing new).
            for link in sorted(page.links):
                if link not in seen and not re.search(r"[?&](page|sort|size)=", link):
                    queue.append(link)
        assert not problems, "\n".join(problems)
        assert len(seen) > 1


async def _permissions_of(database: Database, username: str) -> set[str]:
    async with database.session(write=False) as session:
        row = (
            await session.execute(
                select(Role.permissions).join(User, User.role_id == Role.id).where(User.username == username)
            )
        ).scalar_one_or_none()
    return set(row or [])


async def test_unsafe_ui_routes_refuse_a_user_without_the_permission_and_store_nothing(
    client, app: FastAPI, database: Database
) -> None:
    nobody = await make_user(database, username="nobody", permissions=[])
    web = await sign_in(client, nobody)
    before = await entry_count(database)
    checked = 0
    for r in web_routes(app):
        if r.method not in UNSAFE or r.permission is None:
            continue
        url = re.sub(r"\{[^}]+\}", "1", r.path)
        resp = (
            await web.post(url, {})
            if r.method == "POST"
            else await web.client.request(
                r.method, url, headers={"Origin": "https://testserver", "X-CSRF-Token": web.csrf}
            )
        )
        assert resp.status_code == 403, f"{r.method} {url}: {resp.status_code}"
        checked += 1
    assert checked >= 1
    assert await entry_count(database) == before
