"""Every route declares its authorization; without a token it answers 401, without the permission 403."""

import re
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from depotflow.core.db import Database
from depotflow.core.settings import Settings
from depotflow.main import create_app
from depotflow.web.deps import Requirement
from depotflow.web.routing import PUBLIC_ROUTES, api_routes
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio


def _requirements(dependant: Dependant) -> list[Requirement]:
    found: list[Requirement] = []
    for dep in dependant.dependencies:
        if isinstance(dep.call, Requirement):
            found.append(dep.call)
        found.extend(_requirements(dep))
    return found


def _routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    return api_routes(app)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_no_two_routes_share_a_method_and_path() -> None:
    app = create_app(Settings(env="test"))
    counts = Counter((method, path) for method, path, _ in _routes(app))

    assert [key for key, n in counts.items() if n > 1] == []


def test_public_routes_are_exactly_the_declared_list() -> None:
    app = create_app(Settings(env="test"))
    unguarded = set()
    for method, path, route in _routes(app):
        requirements = _requirements(route.dependant)
        if not requirements:
            unguarded.add((method, path))
        else:
            assert len({r.permission for r in requirements}) == 1, f"{method} {path} declares several permissions"

    assert unguarded == set(PUBLIC_ROUTES)


def test_operation_ids_are_unique() -> None:
    spec = create_app(Settings(env="test")).openapi()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]

    assert len(ids) == len(set(ids))


async def test_every_guarded_route_answers_401_without_a_token(client: httpx.AsyncClient, app: FastAPI) -> None:
    checked = 0
    for method, path, _route in _routes(app):
        if (method, path) in PUBLIC_ROUTES:
            continue
        response = await client.request(
            method, _concrete(path), json={} if method in ("POST", "PUT", "PATCH") else None
        )
        assert response.status_code == 401, f"{method} {path}: {response.status_code}"
        assert response.json()["code"] == "auth.not_authenticated"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="depotflow"'
        checked += 1

    assert checked >= 19


async def test_every_route_with_a_permission_answers_403_to_a_user_without_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    nobody = await make_user(database, username="nobody", permissions=[])
    checked = 0
    # Logout revokes the token, so it goes last.
    routes = sorted(_routes(app), key=lambda r: r[1] == "/api/auth/logout")
    for method, path, route in routes:
        requirements = _requirements(route.dependant)
        if not requirements:
            continue
        permission = requirements[0].permission
        response = await client.request(
            method, _concrete(path), headers=nobody.headers, json={} if method in ("POST", "PUT", "PATCH") else None
        )
        if permission is None:
            assert response.status_code not in (401, 403), f"{method} {path}: {response.status_code}"
            continue
        assert response.status_code == 403, f"{method} {path}: {response.status_code}"
        body = response.json()
        assert body["code"] == "permission_denied"
        assert body["details"] == {"required_permission": permission}
        checked += 1

    assert checked >= 13
