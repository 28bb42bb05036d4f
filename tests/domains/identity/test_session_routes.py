"""The signed-in user's routes: verify, me, refresh-status (local mode) and dashboard shortcuts."""

import httpx
import pytest

from depotflow.core.db import Database
from tests.domains.identity.support import stored_state
from tests.factories.identity import make_admin, make_user, role_id

pytestmark = pytest.mark.anyio


async def test_verify_and_me_describe_the_token_holder(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    manager = await make_user(database, username="mona", role_slug="manager", email="mona@plant.example")
    manager_role = await role_id(database, "manager")
    admin_role = await role_id(database, "admin")

    verify = await client.get("/api/auth/verify", headers=manager.headers)
    me = await client.get("/api/auth/me", headers=manager.headers)
    admin_me = await client.get("/api/auth/me", headers=admin.headers)

    assert verify.status_code == 200
    assert verify.json() == {"valid": True, "username": "mona", "name": "Mona Tester", "is_staff": False}
    assert me.status_code == 200
    assert me.json() == {
        "id": manager.id,
        "username": "mona",
        "name": "Mona Tester",
        "first_name": "Mona",
        "last_name": "Tester",
        "email": "mona@plant.example",
        "is_staff": False,
        "staff": False,
        "role": {"id": manager_role, "name": "Manager", "slug": "manager"},
        "permissions": ["audit.view", "config.view", "identity.roles.view", "identity.users.view"],
        "must_change_password": False,
        "auth_source": "local",
    }
    assert admin_me.json()["is_staff"] is admin_me.json()["staff"] is True
    assert admin_me.json()["role"] == {"id": admin_role, "name": "Administrator", "slug": "admin"}
    assert admin_me.json()["permissions"] == ["admin"]


async def test_a_user_without_a_role_is_authenticated_with_no_permissions(
    client: httpx.AsyncClient, database: Database
) -> None:
    plain = await make_user(database, username="pia")

    me = await client.get("/api/auth/me", headers=plain.headers)
    shortcuts = await client.get("/api/auth/dashboard/shortcuts", headers=plain.headers)
    status = await client.post("/api/auth/refresh-status", headers=plain.headers)

    assert (me.json()["role"], me.json()["permissions"], me.json()["is_staff"]) == (None, [], False)
    assert shortcuts.json() == {"forms": [], "links": []}
    assert status.json()["is_staff"] is False


async def test_refresh_status_in_local_mode_returns_the_stored_staff_flag(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    user = await make_user(database, username="ugo", role_slug="user")
    before = await stored_state(database)

    response = await client.post("/api/auth/refresh-status", headers=user.headers)

    assert response.status_code == 200
    assert response.json() == {
        "username": "ugo",
        "is_staff": False,
        "source": "local",
        "message": "Staff status updated successfully",
    }
    assert await stored_state(database) == before
    promoted = await client.put(
        f"/api/users/{user.id}", json={"role_id": await role_id(database, "admin")}, headers=admin.headers
    )
    assert promoted.status_code == 200
    again = await client.post("/api/auth/refresh-status", headers=user.headers)
    assert (again.json()["is_staff"], again.json()["source"]) == (True, "local")
    anonymous = await client.post("/api/auth/refresh-status")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.not_authenticated"


async def test_dashboard_shortcuts_follow_the_role_configuration(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    operator = await make_user(database, username="otto", role_slug="user")
    manager = await make_user(database, username="mona", role_slug="manager")
    user_role = await role_id(database, "user")

    empty = await client.get("/api/auth/dashboard/shortcuts", headers=operator.headers)
    assert empty.status_code == 200
    assert empty.json() == {"forms": [], "links": []}

    configured = await client.put(
        f"/api/roles/{user_role}",
        json={"dashboard": {"forms": ["a", "deviation-report"], "links": [{"label": "X", "url": "/web/x"}]}},
        headers=admin.headers,
    )

    assert configured.status_code == 200, configured.text
    assert configured.json()["dashboard"] == {
        "forms": ["a", "deviation-report"],
        "links": [{"label": "X", "url": "/web/x"}],
    }
    shortcuts = await client.get("/api/auth/dashboard/shortcuts", headers=operator.headers)
    assert shortcuts.json() == {
        "forms": [
            {"slug": "a", "title": None, "description": None},
            {"slug": "deviation-report", "title": None, "description": None},
        ],
        "links": [{"label": "X", "url": "/web/x"}],
    }
    other = await client.get("/api/auth/dashboard/shortcuts", headers=manager.headers)
    assert other.json() == {"forms": [], "links": []}
    cleared = await client.put(f"/api/roles/{user_role}", json={"dashboard": None}, headers=admin.headers)
    assert cleared.json()["dashboard"] == {"forms": [], "links": []}
    assert (await client.get("/api/auth/dashboard/shortcuts", headers=operator.headers)).json() == {
        "forms": [],
        "links": [],
    }
    anonymous = await client.get("/api/auth/dashboard/shortcuts")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.not_authenticated"
