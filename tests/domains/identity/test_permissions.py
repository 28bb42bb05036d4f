"""Authorisation on the identity routes: tokens required, permission slugs enforced, admin implies all."""

import httpx
import pytest
from fastapi import FastAPI

from depotflow.core.db import Database
from tests.domains.identity.support import stored_state
from tests.factories.identity import make_user, role_id

pytestmark = pytest.mark.anyio


async def test_every_identity_route_but_login_needs_a_token(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    routes = [
        (method.upper(), path.replace("{user_id}", "1").replace("{role_id}", "1").replace("{session_id}", "1"))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(("/api/auth", "/api/users", "/api/roles"))
        for method in operations
    ]
    before = await stored_state(database)

    assert len(routes) == 25
    for method, path in routes:
        response = await client.request(method, path, json={})
        if path == "/api/auth/login":
            assert response.status_code == 422
            continue
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "auth.not_authenticated", (method, path)

    assert await stored_state(database) == before


async def test_routes_refuse_users_without_the_permission(client: httpx.AsyncClient, database: Database) -> None:
    nobody = await make_user(database, username="nora", role_slug="user")
    viewer = await make_user(database, username="manu", role_slug="manager")  # views users and roles only
    user_role = await role_id(database, "user")
    attempts = [
        (nobody, "GET", "/api/users/", None, "identity.users.view"),
        (nobody, "GET", f"/api/users/{nobody.id}", None, "identity.users.view"),
        (nobody, "GET", "/api/roles/", None, "identity.roles.view"),
        (nobody, "GET", "/api/roles/permissions/items", None, "identity.roles.view"),
        (nobody, "PUT", f"/api/users/{nobody.id}", {"role_id": 1}, "identity.users.manage"),
        (
            viewer,
            "POST",
            "/api/users/",
            {"username": "evil", "password": "a-long-enough-secret"},
            "identity.users.manage",
        ),
        (viewer, "PUT", f"/api/users/{viewer.id}", {"role_id": 1}, "identity.users.manage"),
        (viewer, "DELETE", f"/api/users/{nobody.id}", None, "identity.users.manage"),
        (viewer, "POST", "/api/roles/", {"name": "Evil", "slug": "evil"}, "identity.roles.manage"),
        (viewer, "PUT", f"/api/roles/{user_role}", {"permissions": ["admin"]}, "identity.roles.manage"),
        (viewer, "DELETE", f"/api/roles/{user_role}", None, "identity.roles.manage"),
    ]
    before = await stored_state(database)

    for made, method, url, body, permission in attempts:
        response = await client.request(method, url, json=body, headers=made.headers)
        assert response.status_code == 403, (made.username, method, url)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["details"] == {"required_permission": permission}

    assert await stored_state(database) == before
    assert (await client.get("/api/users/", headers=viewer.headers)).status_code == 200
    assert (await client.get("/api/roles/", headers=viewer.headers)).status_code == 200


async def test_the_admin_permission_implies_every_other(client: httpx.AsyncClient, database: Database) -> None:
    chief = await make_user(database, username="chief", permissions=["admin"])
    headers = chief.headers

    assert (await client.get("/api/users/", headers=headers)).status_code == 200
    assert (await client.get("/api/roles/permissions/items", headers=headers)).status_code == 200
    assert (await client.get("/api/audit/", headers=headers)).status_code == 200
    created = await client.post(
        "/api/users/", json={"username": "newbie", "password": "a-long-enough-secret"}, headers=headers
    )
    assert created.status_code == 201
    role = await client.post("/api/roles/", json={"name": "Temp", "slug": "temp"}, headers=headers)
    assert role.status_code == 201
    assert (await client.delete(f"/api/roles/{role.json()['id']}", headers=headers)).status_code == 204
    assert (await client.delete(f"/api/users/{created.json()['id']}", headers=headers)).status_code == 204
