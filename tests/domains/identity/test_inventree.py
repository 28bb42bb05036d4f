"""InvenTree identity mode, against a small real InvenTree stand-in served on loopback."""

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.security import token_digest
from tests.conftest import make_settings
from tests.domains.identity.support import (
    FakeInvenTree,
    app_client,
    audit_entries,
    running_inventree,
    scalar,
    stored_state,
)
from tests.factories.identity import auth, make_admin, role_id

pytestmark = pytest.mark.anyio


@pytest.fixture
def inventree() -> Iterator[FakeInvenTree]:
    with running_inventree() as fake:
        yield fake


@pytest.fixture
async def inv_client(
    tmp_path: Path, db_url: str, database: Database, inventree: FakeInvenTree
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, db_url, identity={"mode": "inventree", "inventree_url": inventree.url})
    async with app_client(settings, database) as client:
        yield client


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": username, "password": password})


async def test_first_login_creates_the_account_and_staff_means_the_admin_role(
    inv_client: httpx.AsyncClient, database: Database, inventree: FakeInvenTree
) -> None:
    inventree.add(
        "ida", "ida-inventree-pw", first_name="Ida", last_name="Lind", email="ida@plant.example", is_staff=True
    )
    inventree.add("sam", "sam-inventree-pw", is_superuser=True)
    inventree.add("ned", "ned-inventree-pw", first_name="Ned")

    ida = await _login(inv_client, "ida", "ida-inventree-pw")
    sam = await _login(inv_client, "sam", "sam-inventree-pw")
    ned = await _login(inv_client, "ned", "ned-inventree-pw")

    assert ida.status_code == 200, ida.text
    assert (ida.json()["username"], ida.json()["name"], ida.json()["is_staff"]) == ("ida", "Ida Lind", True)
    assert sam.json()["is_staff"] is True  # superuser counts as staff
    assert (ned.json()["name"], ned.json()["is_staff"]) == ("Ned", False)
    me = (await inv_client.get("/api/auth/me", headers=auth(ida.json()["token"], "Token"))).json()
    assert me["role"]["slug"] == "admin"
    assert (me["auth_source"], me["email"], me["permissions"]) == ("inventree", "ida@plant.example", ["admin"])
    ned_me = (await inv_client.get("/api/auth/me", headers=auth(ned.json()["token"]))).json()
    assert (ned_me["role"]["slug"], ned_me["permissions"]) == ("user", [])
    assert await scalar(database, "SELECT count(*) FROM identity_user WHERE password_hash IS NULL") == 3
    assert inventree.requests == ["/api/user/token/", "/api/user/me/"] * 3
    # The InvenTree token is kept only sealed with ours.
    sealed = await scalar(
        database,
        "SELECT upstream_sealed FROM identity_token WHERE token_hash = :h",
        h=token_digest(ida.json()["token"]),
    )
    assert sealed
    assert not any(upstream in sealed for upstream in inventree.tokens)
    logins = await audit_entries(database, "auth.login")
    assert [(e["actor_username"], e["details"]["identity_server"], e["details"]["is_staff"]) for e in logins] == [
        ("ida", "inventree", True),
        ("sam", "inventree", True),
        ("ned", "inventree", False),
    ]


async def test_refresh_status_rereads_the_staff_flag_from_inventree(
    inv_client: httpx.AsyncClient, database: Database, inventree: FakeInvenTree
) -> None:
    ida_account = inventree.add("ida", "ida-inventree-pw", is_staff=True)
    token = (await _login(inv_client, "ida", "ida-inventree-pw")).json()["token"]
    assert (await inv_client.get("/api/users/", headers=auth(token))).status_code == 200  # cached as admin

    ida_account.is_staff = False
    demoted = await inv_client.post("/api/auth/refresh-status", headers=auth(token))

    assert demoted.status_code == 200, demoted.text
    assert demoted.json() == {
        "username": "ida",
        "is_staff": False,
        "source": "inventree",
        "message": "Staff status updated successfully",
    }
    me = (await inv_client.get("/api/auth/me", headers=auth(token))).json()
    assert (me["is_staff"], me["role"]["slug"], me["permissions"]) == (False, "user", [])
    denied = await inv_client.get("/api/users/", headers=auth(token))
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    before = await stored_state(database)
    unchanged = await inv_client.post("/api/auth/refresh-status", headers=auth(token))
    assert unchanged.json()["is_staff"] is False
    assert await stored_state(database) == before

    ida_account.is_staff = True
    promoted = await inv_client.post("/api/auth/refresh-status", headers=auth(token))

    assert promoted.json()["is_staff"] is True
    assert (await inv_client.get("/api/users/", headers=auth(token))).status_code == 200
    assert (await inv_client.get("/api/auth/verify", headers=auth(token))).json()["is_staff"] is True
    # A login reads the flag too.
    ida_account.is_staff = False
    relogin = await _login(inv_client, "ida", "ida-inventree-pw")
    assert relogin.json()["is_staff"] is False
    assert (await inv_client.get("/api/users/", headers=auth(relogin.json()["token"]))).status_code == 403
    assert (await inv_client.get("/api/users/", headers=auth(token))).status_code == 403
    assert [e["details"]["is_staff"] for e in await audit_entries(database, "auth.login")] == [True, False]


async def test_a_role_given_locally_survives_refresh_and_login_while_not_staff(
    inv_client: httpx.AsyncClient, database: Database, inventree: FakeInvenTree
) -> None:
    admin = await make_admin(database)
    inventree.add("ned", "ned-inventree-pw")
    login = await _login(inv_client, "ned", "ned-inventree-pw")
    ned_id = await scalar(database, "SELECT id FROM identity_user WHERE username = 'ned'")
    manager_role = await role_id(database, "manager")

    changed = await inv_client.put(f"/api/users/{ned_id}", json={"role_id": manager_role}, headers=admin.headers)
    refreshed = await inv_client.post("/api/auth/refresh-status", headers=auth(login.json()["token"]))
    again = await _login(inv_client, "ned", "ned-inventree-pw")

    assert changed.status_code == 200
    assert refreshed.json()["is_staff"] is False
    assert again.status_code == 200
    me = (await inv_client.get("/api/auth/me", headers=auth(again.json()["token"]))).json()
    assert me["role"]["slug"] == "manager"
    password = await inv_client.post(
        "/api/auth/password",
        json={"current_password": "ned-inventree-pw", "new_password": "a-long-enough-secret"},
        headers=auth(again.json()["token"]),
    )
    assert password.status_code == 409
    assert password.json()["code"] == "identity.externally_managed"


async def test_credentials_refused_by_inventree_are_a_failed_login(
    inv_client: httpx.AsyncClient, database: Database, inventree: FakeInvenTree
) -> None:
    admin = await make_admin(database)
    inventree.add("ida", "ida-inventree-pw", is_staff=True)
    inventree.add("root", "root-inventree-pw")

    wrong = await _login(inv_client, "ida", "not-the-password")
    unknown = await _login(inv_client, "ghost", "whatever")
    local_password = await _login(inv_client, "root", admin.password)  # only InvenTree's password counts

    for response in (wrong, unknown, local_password):
        assert response.status_code == 401
        assert response.json()["code"] == "auth.invalid_credentials"
        assert response.json()["detail"] == "Invalid credentials. Please check your username and password."
    assert await scalar(database, "SELECT count(*) FROM identity_user") == 1
    failures = await audit_entries(database, "auth.login_failed")
    assert [(e["details"]["username"], e["details"]["reason"]) for e in failures] == [
        ("ida", "rejected_by_identity_server"),
        ("ghost", "rejected_by_identity_server"),
        ("root", "rejected_by_identity_server"),
    ]
    # A deactivated account stays refused although InvenTree accepts the password.
    assert (await _login(inv_client, "ida", "ida-inventree-pw")).status_code == 200
    ida_id = await scalar(database, "SELECT id FROM identity_user WHERE username = 'ida'")
    assert (await inv_client.delete(f"/api/users/{ida_id}", headers=admin.headers)).status_code == 204
    inactive = await _login(inv_client, "ida", "ida-inventree-pw")
    assert inactive.status_code == 401
    assert inactive.json()["code"] == "auth.invalid_credentials"
    assert (await audit_entries(database, "auth.login_failed"))[-1]["details"]["reason"] == "inactive"


async def test_an_unavailable_inventree_answers_502(
    tmp_path: Path, db_url: str, database: Database, inv_client: httpx.AsyncClient, inventree: FakeInvenTree
) -> None:
    inventree.add("ida", "ida-inventree-pw", is_staff=True)
    token = (await _login(inv_client, "ida", "ida-inventree-pw")).json()["token"]
    users_before = (await stored_state(database))["identity_user"]

    inventree.failing = True
    failing_login = await _login(inv_client, "ida", "ida-inventree-pw")
    failing_refresh = await inv_client.post("/api/auth/refresh-status", headers=auth(token))
    settings = make_settings(tmp_path, db_url, identity={"mode": "inventree", "inventree_url": _closed_port_url()})
    async with app_client(settings, database) as down:
        down_login = await _login(down, "ida", "ida-inventree-pw")
        down_refresh = await down.post("/api/auth/refresh-status", headers=auth(token))

    for response in (failing_login, failing_refresh, down_login, down_refresh):
        assert response.status_code == 502
        assert response.json()["code"] == "auth.identity_server_unavailable"
        assert response.json()["detail"] == "The identity server (InvenTree) cannot be reached."
    errors = await audit_entries(database, "auth.login_error")
    assert [e["details"]["error"] for e in errors] == [
        "identity server answered 500",
        "cannot reach the identity server: ConnectError",
    ]
    assert (await stored_state(database))["identity_user"] == users_before
    assert len(await audit_entries(database, "auth.login")) == 1
    assert await audit_entries(database, "auth.login_failed") == []


async def test_refresh_is_refused_when_inventree_no_longer_accepts_the_session(
    inv_client: httpx.AsyncClient, database: Database, inventree: FakeInvenTree
) -> None:
    inventree.add("ida", "ida-inventree-pw", is_staff=True)
    token = (await _login(inv_client, "ida", "ida-inventree-pw")).json()["token"]
    inventree.revoke_tokens()
    before = await stored_state(database)

    response = await inv_client.post("/api/auth/refresh-status", headers=auth(token))

    assert response.status_code == 401
    assert response.json()["code"] == "auth.invalid_token"
    assert await stored_state(database) == before
