"""User accounts: listing, creation, changes, deactivation and the last-administrator rule."""

from datetime import UTC, datetime

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.identity import service as identity_service
from tests.conftest import system_context
from tests.domains.identity.support import audit_entries, scalar, stored_state
from tests.factories.identity import MadeUser, auth, make_admin, make_user, role_id

pytestmark = pytest.mark.anyio

USER_FIELDS = {
    "id",
    "username",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "role",
    "is_active",
    "is_staff",
    "auth_source",
    "must_change_password",
    "last_login_at",
    "created_at",
    "updated_at",
}


def _at(day: int) -> datetime:
    return datetime(2026, 3, day, 9, 30, tzinfo=UTC)


async def _people(db: Database) -> dict[str, MadeUser]:
    return {
        "root": await make_admin(db),
        "anna": await make_user(
            db, username="anna", role_slug="manager", email="anna@plant.example", last_login_at=_at(3)
        ),
        "bert": await make_user(db, username="bert", role_slug="user", email="bert@lab.example", last_login_at=_at(5)),
        "cleo": await make_user(
            db, username="cleo", role_slug="user", is_active=False, with_token=False, last_login_at=_at(1)
        ),
        "dave": await make_user(
            db, username="dave", role_slug="user", email="dave@plant.example", last_login_at=_at(4)
        ),
    }


async def _names(client: httpx.AsyncClient, query: str, headers: dict[str, str]) -> tuple[list[str], int]:
    response = await client.get(f"/api/users/{query}", headers=headers)
    assert response.status_code == 200, (query, response.text)
    return [u["username"] for u in response.json()["items"]], response.json()["total"]


async def test_listing_users_shows_role_activity_and_last_login(client: httpx.AsyncClient, database: Database) -> None:
    people = await _people(database)
    manager_role = await role_id(database, "manager")

    response = await client.get("/api/users/", headers=people["root"].headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "offset", "limit"}
    assert (body["total"], body["offset"], body["limit"]) == (5, 0, 50)
    assert [u["username"] for u in body["items"]] == ["anna", "bert", "cleo", "dave", "root"]
    anna = body["items"][0]
    assert set(anna) == USER_FIELDS
    assert {k: v for k, v in anna.items() if k not in ("created_at", "updated_at")} == {
        "id": people["anna"].id,
        "username": "anna",
        "name": "Anna Tester",
        "first_name": "Anna",
        "last_name": "Tester",
        "email": "anna@plant.example",
        "phone": None,
        "role": {"id": manager_role, "name": "Manager", "slug": "manager"},
        "is_active": True,
        "is_staff": False,
        "auth_source": "local",
        "must_change_password": False,
        "last_login_at": "2026-03-03T09:30:00Z",
    }
    assert [(u["is_staff"], u["is_active"]) for u in body["items"]] == [
        (False, True),
        (False, True),
        (False, False),
        (False, True),
        (True, True),
    ]
    assert "password_hash" not in response.text
    assert "argon2" not in response.text


async def test_users_can_be_searched_filtered_sorted_and_paged(client: httpx.AsyncClient, database: Database) -> None:
    people = await _people(database)
    headers = people["root"].headers
    user_role = await role_id(database, "user")

    assert await _names(client, "?search=PLANT", headers) == (["anna", "dave"], 2)
    assert await _names(client, "?search=er", headers) == (["anna", "bert", "cleo", "dave", "root"], 5)
    assert await _names(client, "?search=100%25", headers) == ([], 0)
    assert await _names(client, "?is_active=false", headers) == (["cleo"], 1)
    assert await _names(client, "?is_active=true&role_id=" + str(user_role), headers) == (["bert", "dave"], 2)
    assert await _names(client, f"?role_id={user_role}&sort=-last_login_at", headers) == (["bert", "dave", "cleo"], 3)
    assert await _names(client, f"?role_id={user_role}&sort=last_login_at", headers) == (["cleo", "dave", "bert"], 3)
    assert await _names(client, "?sort=-username&limit=2&offset=1", headers) == (["dave", "cleo"], 5)
    assert await _names(client, "?role_id=9999", headers) == ([], 0)
    paged = await client.get("/api/users/?limit=2&offset=4", headers=headers)
    assert (paged.json()["total"], paged.json()["offset"], paged.json()["limit"]) == (5, 4, 2)

    before = await stored_state(database)
    refused = {
        "?limit=501": ("listing.invalid_limit", ["query", "limit"]),
        "?limit=0": ("request.validation_failed", ["query", "limit"]),
        "?offset=-1": ("request.validation_failed", ["query", "offset"]),
        "?is_active=perhaps": ("request.validation_failed", ["query", "is_active"]),
        "?role_id=0": ("request.validation_failed", ["query", "role_id"]),
        "?role_id=abc": ("request.validation_failed", ["query", "role_id"]),
        f"?role_id={2**63}": ("request.validation_failed", ["query", "role_id"]),
        "?sort=password_hash": ("listing.invalid_sort", ["query", "sort", 0]),
        "?sort=username,-username": ("listing.invalid_sort", ["query", "sort", 1]),
    }
    for query, (code, loc) in refused.items():
        response = await client.get(f"/api/users/{query}", headers=headers)
        assert response.status_code == 422, query
        assert response.json()["code"] == code, query
        assert response.json()["errors"][0]["loc"] == loc, query
    assert await stored_state(database) == before


async def test_creating_a_user_stores_a_hashed_password_and_audits_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    manager_role = await role_id(database, "manager")

    response = await client.post(
        "/api/users/",
        json={
            "username": "Erik.Berg",
            "password": "a-long-enough-secret",
            "first_name": " Erik ",
            "last_name": "Berg",
            "email": "erik@plant.example",
            "phone": "+40 700 000 000",
            "role_id": manager_role,
            "must_change_password": True,
        },
        headers=admin.headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_FIELDS
    assert {k: v for k, v in body.items() if k not in ("id", "created_at", "updated_at")} == {
        "username": "Erik.Berg",
        "name": "Erik Berg",
        "first_name": "Erik",
        "last_name": "Berg",
        "email": "erik@plant.example",
        "phone": "+40 700 000 000",
        "role": {"id": manager_role, "name": "Manager", "slug": "manager"},
        "is_active": True,
        "is_staff": False,
        "auth_source": "local",
        "must_change_password": True,
        "last_login_at": None,
    }
    assert (await client.get(f"/api/users/{body['id']}", headers=admin.headers)).json() == body
    stored = await scalar(database, "SELECT password_hash FROM identity_user WHERE id = :u", u=body["id"])
    assert stored.startswith("$argon2id$")
    assert "a-long-enough-secret" not in stored
    [created] = [e for e in await audit_entries(database, "identity_user.create") if e["entity_id"] == str(body["id"])]
    assert created["actor_username"] == "root"
    assert created["entity_id"] == str(body["id"])
    assert created["changes"]["after"]["password_hash"] == "[redacted]"
    assert created["changes"]["after"]["username"] == "Erik.Berg"
    login = await client.post("/api/auth/login", json={"username": "Erik.Berg", "password": "a-long-enough-secret"})
    assert login.status_code == 200
    assert login.json()["must_change_password"] is True

    minimal = await client.post(
        "/api/users/", json={"username": "fay", "password": "another-long-secret"}, headers=admin.headers
    )
    assert minimal.status_code == 201
    assert (minimal.json()["role"], minimal.json()["email"], minimal.json()["name"]) == (None, None, "fay")


async def test_invalid_new_users_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    good = {"username": "gina", "password": "a-long-enough-secret"}
    cases = [
        ({**good, "password": "too-short"}, 422, "identity.weak_password"),
        ({**good, "password": "   twelve-chars-padded   "}, 422, "identity.weak_password"),
        ({"username": "gina.longname", "password": "GINA.LONGNAME"}, 422, "identity.weak_password"),
        ({**good, "username": "root"}, 409, "identity.username_taken"),
        ({**good, "role_id": 9999}, 422, "identity.unknown_role"),
        ({**good, "role_id": False}, 422, "request.validation_failed"),
        ({**good, "role_id": "1"}, 422, "request.validation_failed"),
        ({**good, "role_id": 0}, 422, "request.validation_failed"),
        ({**good, "role_id": 2**63}, 422, "request.validation_failed"),  # beyond BIGINT: not a 500
        ({**good, "is_active": "yes"}, 422, "request.validation_failed"),
        ({**good, "is_staff": True}, 422, "request.validation_failed"),
        ({**good, "username": "gi"}, 422, "request.validation_failed"),
        ({**good, "username": "gina berg"}, 422, "request.validation_failed"),
        ({**good, "email": "not-an-email"}, 422, "request.validation_failed"),
        ({"username": "gina"}, 422, "request.validation_failed"),
    ]
    before = await stored_state(database)

    for body, status, code in cases:
        response = await client.post("/api/users/", json=body, headers=admin.headers)
        assert response.status_code == status, body
        assert response.json()["code"] == code, body
        assert body.get("password", "-") not in response.text

    assert await stored_state(database) == before
    weak = await client.post("/api/users/", json={**good, "password": "gina"}, headers=admin.headers)
    assert weak.json()["details"]["problems"] == [
        "must be at least 12 characters long",
        "must not be the username",
    ]


async def test_changing_a_user_changes_only_the_fields_sent(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    hana = await make_user(database, username="hana", role_slug="user", email="hana@plant.example")
    manager_role = await role_id(database, "manager")

    response = await client.put(
        f"/api/users/{hana.id}",
        json={"first_name": "Hanna", "phone": "123", "role_id": manager_role},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["last_name"], body["name"]) == ("Hanna", "Tester", "Hanna Tester")
    assert (body["email"], body["phone"], body["must_change_password"]) == ("hana@plant.example", "123", False)
    assert body["role"] == {"id": manager_role, "name": "Manager", "slug": "manager"}
    assert (await client.get(f"/api/users/{hana.id}", headers=admin.headers)).json() == body
    # The new role applies to the user's existing token at once.
    assert (await client.get("/api/users/", headers=hana.headers)).status_code == 200
    # A required password change closes every route that needs a permission until it is done.
    forced = await client.put(f"/api/users/{hana.id}", json={"must_change_password": True}, headers=admin.headers)
    assert forced.json()["must_change_password"] is True
    refused = await client.get("/api/users/", headers=hana.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.password_change_required")
    assert (await client.get("/api/auth/me", headers=hana.headers)).status_code == 200

    cleared = await client.put(
        f"/api/users/{hana.id}", json={"email": None, "phone": None, "role_id": None}, headers=admin.headers
    )
    assert cleared.status_code == 200
    assert (cleared.json()["email"], cleared.json()["phone"], cleared.json()["role"]) == (None, None, None)
    ignored = await client.put(
        f"/api/users/{hana.id}",
        json={"first_name": None, "last_name": None, "is_active": None, "must_change_password": None},
        headers=admin.headers,
    )
    assert ignored.status_code == 200, ignored.text
    assert {k: v for k, v in ignored.json().items() if k != "updated_at"} == {
        k: v for k, v in cleared.json().items() if k != "updated_at"
    }
    [*_, change] = await audit_entries(database, "identity_user.update")
    assert change["actor_username"] == "root"
    assert change["changes"] == {
        "before": {"email": "hana@plant.example", "phone": "123", "role_id": manager_role},
        "after": {"email": None, "phone": None, "role_id": None},
    }


async def test_invalid_user_changes_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    hana = await make_user(database, username="hana", role_slug="user")
    remote = await make_user(database, username="remote", role_slug="user", auth_source="inventree")
    cases = [
        (hana.id, {"password": "short"}, 422, "identity.weak_password"),
        (hana.id, {"password": "HANA"}, 422, "identity.weak_password"),
        (hana.id, {"role_id": 9999}, 422, "identity.unknown_role"),
        (hana.id, {"role_id": True}, 422, "request.validation_failed"),
        (hana.id, {"is_active": "false"}, 422, "request.validation_failed"),
        (hana.id, {"username": "hanna"}, 422, "request.validation_failed"),
        (hana.id, {"email": "nope"}, 422, "request.validation_failed"),
        (remote.id, {"password": "a-long-enough-secret"}, 409, "identity.externally_managed"),
        (hana.id, {"role_id": 2**63}, 422, "request.validation_failed"),
        (9999, {"first_name": "Ghost"}, 404, "identity.user_not_found"),
        (2**63, {"first_name": "Ghost"}, 422, "request.validation_failed"),
        (0, {"first_name": "Ghost"}, 422, "request.validation_failed"),
    ]
    before = await stored_state(database)

    for user_id, body, status, code in cases:
        response = await client.put(f"/api/users/{user_id}", json=body, headers=admin.headers)
        assert response.status_code == status, body
        assert response.json()["code"] == code, body

    missing = await client.get("/api/users/9999", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "identity.user_not_found"
    assert missing.json()["details"] == {"user_id": 9999}
    assert (await client.delete("/api/users/9999", headers=admin.headers)).json()["code"] == "identity.user_not_found"
    for path in ("abc", str(2**63), "-1"):
        invalid = await client.get(f"/api/users/{path}", headers=admin.headers)
        assert (invalid.status_code, invalid.json()["code"]) == (422, "request.validation_failed")
        assert invalid.json()["errors"][0]["loc"] == ["path", "user_id"]
    assert (await client.delete(f"/api/users/{2**63}", headers=admin.headers)).status_code == 422
    assert await stored_state(database) == before
    assert (await client.get("/api/auth/me", headers=hana.headers)).status_code == 200


async def test_deleting_a_user_deactivates_the_account_but_keeps_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    ines = await make_user(database, username="ines", role_slug="user")

    response = await client.delete(f"/api/users/{ines.id}", headers=admin.headers)

    assert response.status_code == 204
    assert response.content == b""
    listed = await client.get("/api/users/?search=ines", headers=admin.headers)
    assert listed.json()["total"] == 1
    assert listed.json()["items"][0]["is_active"] is False
    assert await scalar(database, "SELECT deactivated_at IS NOT NULL FROM identity_user WHERE id = :u", u=ines.id)
    [deactivation] = await audit_entries(database, "identity_user.update")
    assert deactivation["changes"]["before"] == {"is_active": True, "deactivated_at": None}
    assert deactivation["changes"]["after"]["is_active"] is False
    assert (deactivation["actor_username"], deactivation["entity_id"]) == ("root", str(ines.id))
    [revocation] = await audit_entries(database, "identity_token.update")
    assert revocation["changes"]["after"]["revoked_reason"] == "deactivated"
    before = await stored_state(database)
    again = await client.delete(f"/api/users/{ines.id}", headers=admin.headers)
    assert again.status_code == 204
    assert await stored_state(database) == before


async def test_the_last_active_administrator_cannot_be_removed(client: httpx.AsyncClient, database: Database) -> None:
    root = await make_admin(database)
    await make_user(database, username="retired", role_slug="admin", is_active=False)  # does not count
    user_role = await role_id(database, "user")
    before = await stored_state(database)

    for body in ({"role_id": user_role}, {"role_id": None}):
        response = await client.put(f"/api/users/{root.id}", json=body, headers=root.headers)
        assert response.status_code == 409
        assert response.json()["code"] == "identity.last_administrator"
        assert response.json()["detail"] == "This change would leave no active administrator."
    # Nobody deactivates themselves, last administrator or not.
    for response in (
        await client.put(f"/api/users/{root.id}", json={"is_active": False}, headers=root.headers),
        await client.delete(f"/api/users/{root.id}", headers=root.headers),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "identity.cannot_deactivate_self")

    assert await stored_state(database) == before
    assert (await client.get("/api/auth/me", headers=root.headers)).json()["is_staff"] is True
    # With a second active administrator the first one may go.
    second = await make_admin(database, "deputy")
    assert (await client.delete(f"/api/users/{root.id}", headers=second.headers)).status_code == 204
    refused = await client.put(f"/api/users/{second.id}", json={"role_id": user_role}, headers=second.headers)
    assert refused.status_code == 409


async def test_accounts_can_be_managed_while_no_administrator_exists(
    client: httpx.AsyncClient, database: Database
) -> None:
    # E.g. in InvenTree mode before any staff member has logged in.
    keeper = await make_user(database, username="keeper", permissions=["identity.users.view", "identity.users.manage"])
    jana = await make_user(database, username="jana", role_slug="user")

    changed = await client.put(f"/api/users/{jana.id}", json={"phone": "555"}, headers=keeper.headers)
    created = await client.post(
        "/api/users/", json={"username": "kurt", "password": "a-long-enough-secret"}, headers=keeper.headers
    )
    deleted = await client.delete(f"/api/users/{jana.id}", headers=keeper.headers)

    assert (changed.status_code, created.status_code, deleted.status_code) == (200, 201, 204)
    assert (await client.get("/api/auth/me", headers=auth(keeper.token))).status_code == 200


async def test_the_first_administrator_is_bootstrapped_once_and_must_change_the_password(
    client: httpx.AsyncClient, database: Database
) -> None:
    async with database.unit_of_work(system_context("first start")) as session:
        password = await identity_service.bootstrap_admin(session)
    async with database.unit_of_work(system_context("second start")) as session:
        again = await identity_service.bootstrap_admin(session)

    assert password is not None
    assert len(password) >= 20
    assert again is None
    login = await client.post("/api/auth/login", json={"username": "admin", "password": password})
    assert login.status_code == 200
    assert (login.json()["is_staff"], login.json()["must_change_password"]) == (True, True)
    token = login.json()["token"]
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": password, "new_password": "the-admins-own-secret"},
        headers=auth(token),
    )
    assert changed.status_code == 204
    assert (await client.get("/api/auth/me", headers=auth(token))).json()["must_change_password"] is False
    [created] = await audit_entries(database, "identity_user.create")
    assert (created["actor_username"], created["changes"]["after"]["password_hash"]) == ("test", "[redacted]")
