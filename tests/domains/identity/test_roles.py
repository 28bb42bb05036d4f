"""Roles: the permission catalogue, role CRUD, the rules that protect them, and immediate effect."""

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.wiring import PERMISSION_CATALOGUE
from tests.domains.identity.support import audit_entries, stored_state
from tests.factories.identity import make_admin, make_user, role_id

pytestmark = pytest.mark.anyio

# Every slug the code declares; the migrations seed exactly these (tests/migrations checks it too).
CATALOGUE = sorted(PERMISSION_CATALOGUE)
EMPTY_DASHBOARD = {"forms": [], "links": []}


async def test_roles_are_listed_with_their_permissions_and_user_counts(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    await make_user(database, username="mia", role_slug="user")
    await make_user(database, username="max", role_slug="user", is_active=False)

    response = await client.get("/api/roles/", headers=admin.headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["offset"], body["limit"]) == (3, 0, 50)
    summary = [(r["name"], r["slug"], r["permissions"], r["user_count"], r["dashboard"]) for r in body["items"]]
    assert summary == [
        ("Administrator", "admin", ["admin"], 1, EMPTY_DASHBOARD),
        (
            "Manager",
            "manager",
            ["audit.view", "config.view", "identity.roles.view", "identity.users.view"],
            0,
            EMPTY_DASHBOARD,
        ),
        ("User", "user", [], 2, EMPTY_DASHBOARD),
    ]
    assert set(body["items"][0]) == {
        "id",
        "name",
        "slug",
        "description",
        "permissions",
        "dashboard",
        "user_count",
        "created_at",
        "updated_at",
    }
    one = await client.get(f"/api/roles/{body['items'][2]['id']}", headers=admin.headers)
    assert one.json() == body["items"][2]
    searched = await client.get("/api/roles/?search=ADMINIS&sort=-slug", headers=admin.headers)
    assert [r["slug"] for r in searched.json()["items"]] == ["admin"]
    by_slug = await client.get("/api/roles/?sort=-slug&limit=2", headers=admin.headers)
    assert [r["slug"] for r in by_slug.json()["items"]] == ["user", "manager"]
    missing = await client.get("/api/roles/9999", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "identity.role_not_found"


async def test_the_permission_catalogue_is_listed_by_slug(client: httpx.AsyncClient, database: Database) -> None:
    manager = await make_user(database, username="mo", role_slug="manager")

    response = await client.get("/api/roles/permissions/items", headers=manager.headers)

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["offset"], body["limit"]) == (len(CATALOGUE), 0, None)
    assert {"admin", "audit.view", "identity.users.manage", "approval.sign"} <= set(CATALOGUE)
    assert [p["slug"] for p in body["items"]] == CATALOGUE
    assert body["items"][0]["description"] == "Administrator: every permission, including ones added later"
    assert all(set(p) == {"id", "slug", "description"} and p["description"] for p in body["items"])


async def test_a_role_can_be_created_changed_and_deleted(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    created = await client.post(
        "/api/roles/",
        json={
            "name": " Quality ",
            "slug": "qa",
            "description": "Quality assurance",
            "permissions": ["identity.users.view", "audit.view", "audit.view"],
        },
        headers=admin.headers,
    )

    assert created.status_code == 201, created.text
    role = created.json()
    assert {k: v for k, v in role.items() if k not in ("id", "created_at", "updated_at")} == {
        "name": "Quality",
        "slug": "qa",
        "description": "Quality assurance",
        "permissions": ["audit.view", "identity.users.view"],
        "dashboard": EMPTY_DASHBOARD,
        "user_count": 0,
    }
    changed = await client.put(
        f"/api/roles/{role['id']}",
        json={"name": "QA", "slug": "quality", "permissions": ["config.view"]},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["slug"], changed.json()["description"]) == (
        "QA",
        "quality",
        "Quality assurance",
    )
    assert changed.json()["permissions"] == ["config.view"]
    kept = await client.put(f"/api/roles/{role['id']}", json={"name": None, "slug": None}, headers=admin.headers)
    assert (kept.json()["name"], kept.json()["slug"]) == ("QA", "quality")
    same_slug = await client.put(f"/api/roles/{role['id']}", json={"slug": "quality"}, headers=admin.headers)
    assert same_slug.status_code == 200
    deleted = await client.delete(f"/api/roles/{role['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/roles/{role['id']}", headers=admin.headers)).status_code == 404
    trail = [
        (e["action"], e["actor_username"])
        for e in await audit_entries(database)
        if e["action"].startswith("identity_role.") and e["entity_id"] == str(role["id"])
    ]
    assert trail == [
        ("identity_role.create", "root"),
        ("identity_role.update", "root"),
        ("identity_role.delete", "root"),
    ]


async def test_invalid_role_requests_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    await make_user(database, username="gone", role_slug="manager", is_active=False)
    manager_role = await role_id(database, "manager")
    user_role = await role_id(database, "user")
    good = {"name": "Quality", "slug": "qa"}
    cases = [
        ("POST", "/api/roles/", {"name": "Users again", "slug": "user"}, 409, "identity.role_slug_taken"),
        ("POST", "/api/roles/", {**good, "permissions": ["audit.view", "nuke"]}, 422, "identity.unknown_permission"),
        ("POST", "/api/roles/", {**good, "slug": "Bad Slug"}, 422, "request.validation_failed"),
        ("POST", "/api/roles/", {**good, "name": "  "}, 422, "request.validation_failed"),
        ("POST", "/api/roles/", {"slug": "qa"}, 422, "request.validation_failed"),
        ("POST", "/api/roles/", {**good, "items": []}, 422, "request.validation_failed"),
        ("POST", "/api/roles/", {**good, "permissions": "admin"}, 422, "request.validation_failed"),
        (
            "POST",
            "/api/roles/",
            {**good, "dashboard": {"links": [{"label": "x", "url": "javascript:alert(1)"}]}},
            422,
            "request.validation_failed",
        ),
        ("POST", "/api/roles/", {**good, "dashboard": {"menu": []}}, 422, "request.validation_failed"),
        ("PUT", f"/api/roles/{manager_role}", {"slug": "admin"}, 409, "identity.role_slug_taken"),
        ("PUT", f"/api/roles/{user_role}", {"slug": "staff"}, 409, "identity.system_role"),
        ("DELETE", f"/api/roles/{user_role}", None, 409, "identity.system_role"),
        ("PUT", f"/api/roles/{user_role}", {"permissions": ["root"]}, 422, "identity.unknown_permission"),
        ("PUT", "/api/roles/9999", {"name": "Ghost"}, 404, "identity.role_not_found"),
        ("DELETE", "/api/roles/9999", None, 404, "identity.role_not_found"),
        ("GET", f"/api/roles/{2**63}", None, 422, "request.validation_failed"),
        ("PUT", f"/api/roles/{2**63}", {"name": "Ghost"}, 422, "request.validation_failed"),
        ("DELETE", "/api/roles/0", None, 422, "request.validation_failed"),
        ("DELETE", f"/api/roles/{manager_role}", None, 409, "identity.role_in_use"),  # held by an inactive user
    ]
    before = await stored_state(database)

    for method, url, body, status, code in cases:
        response = await client.request(method, url, json=body, headers=admin.headers)
        assert response.status_code == status, (method, url, body)
        assert response.json()["code"] == code, (method, url, body)

    assert await stored_state(database) == before
    unknown = await client.post("/api/roles/", json={**good, "permissions": ["zap", "nuke"]}, headers=admin.headers)
    assert unknown.json()["details"] == {"unknown": ["nuke", "zap"]}
    in_use = await client.delete(f"/api/roles/{manager_role}", headers=admin.headers)
    assert in_use.json()["details"] == {"users": 1}


async def test_the_admin_permission_cannot_leave_the_last_administrators_role(
    client: httpx.AsyncClient, database: Database
) -> None:
    root = await make_admin(database)
    admin_role = await role_id(database, "admin")
    before = await stored_state(database)

    for body in ({"permissions": ["audit.view"]}, {"permissions": []}, {"permissions": None}):
        response = await client.put(f"/api/roles/{admin_role}", json=body, headers=root.headers)
        assert response.status_code == 409, body
        assert response.json()["code"] == "identity.last_administrator"

    assert await stored_state(database) == before
    assert (await client.get("/api/users/", headers=root.headers)).status_code == 200
    renamed = await client.put(f"/api/roles/{admin_role}", json={"name": "Admins"}, headers=root.headers)
    assert renamed.status_code == 200
    # Once another role carries `admin` for an active user, the first role may drop it.
    await make_user(database, username="boss", permissions=["admin"])
    dropped = await client.put(f"/api/roles/{admin_role}", json={"permissions": ["audit.view"]}, headers=root.headers)
    assert dropped.status_code == 200
    assert dropped.json()["permissions"] == ["audit.view"]


async def test_permission_changes_apply_to_existing_tokens_at_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    viewer = await make_user(database, username="vera", permissions=["identity.users.view"])
    assert viewer.role_id is not None
    assert (await client.get("/api/users/", headers=viewer.headers)).status_code == 200  # token now cached

    revoked = await client.put(f"/api/roles/{viewer.role_id}", json={"permissions": []}, headers=admin.headers)

    assert revoked.status_code == 200
    denied = await client.get("/api/users/", headers=viewer.headers)
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    assert (await client.get("/api/auth/me", headers=viewer.headers)).json()["permissions"] == []
    granted = await client.put(f"/api/roles/{viewer.role_id}", json={"permissions": ["admin"]}, headers=admin.headers)
    assert granted.status_code == 200
    assert (await client.get("/api/roles/", headers=viewer.headers)).status_code == 200
    assert (await client.get("/api/auth/verify", headers=viewer.headers)).json()["is_staff"] is True
