"""GET /api/audit/ and /api/audit/actions: newest first, filters, pagination, permissions."""

from datetime import timedelta, timezone

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.audit import service as audit_service
from tests.conftest import system_context
from tests.factories.audit import entries, entry_count
from tests.factories.identity import MadeUser, make_admin, make_user

pytestmark = pytest.mark.anyio


async def _seed(client: httpx.AsyncClient, database: Database) -> MadeUser:
    """An admin, an auditor, two users created over HTTP, a config change and a failed login."""
    admin = await make_admin(database)
    auditor = await make_user(database, username="auditor", permissions=["audit.view"])
    for name in ("ann", "ben"):
        response = await client.post(
            "/api/users/", json={"username": name, "password": "a-long-enough-password"}, headers=admin.headers
        )
        assert response.status_code == 201, response.text
    response = await client.post("/api/config/", json={"company_name": "Acme"}, headers=admin.headers)
    assert response.status_code == 200, response.text
    async with database.unit_of_work(system_context()) as session:
        await audit_service.record(session, action="auth.logout", entity_type="identity_user", entity_id=1)
    return auditor


async def test_the_trail_is_listed_newest_first(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    count = await entry_count(database)

    response = await client.get("/api/audit/", headers=auditor.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == count
    assert (body["offset"], body["limit"]) == (0, 50)
    assert [e["seq"] for e in body["items"]] == list(range(count, 0, -1))
    newest = body["items"][0]
    stored = (await entries(database, seq=count))[0]
    assert newest == {
        "id": stored["id"],
        "seq": count,
        "occurred_at": newest["occurred_at"],
        "actor_user_id": None,
        "actor_username": "test",
        "actor_kind": "system",
        "action": "auth.logout",
        "entity_type": "identity_user",
        "entity_id": "1",
        "changes": {},
        "details": {},
        "ip_address": None,
        "user_agent": None,
        "request_id": None,
        "reason": "test setup",
        "hash": stored["hash"],
    }
    assert newest["occurred_at"].endswith(("Z", "+00:00"))


async def test_the_trail_pages_through_every_entry_once(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    count = await entry_count(database)

    seen: list[int] = []
    for offset in range(0, count, 3):
        response = await client.get("/api/audit/", params={"limit": 3, "offset": offset}, headers=auditor.headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == count
        assert response.json()["limit"] == 3
        seen.extend(e["seq"] for e in response.json()["items"])

    assert seen == list(range(count, 0, -1))


async def test_the_trail_filters_by_action(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    created = await entries(database, action="identity_user.create")

    response = await client.get("/api/audit/", params={"action": "identity_user.create"}, headers=auditor.headers)

    assert response.status_code == 200, response.text
    assert response.json()["total"] == len(created) == 4
    assert [e["seq"] for e in response.json()["items"]] == [e["seq"] for e in reversed(created)]


async def test_the_trail_filters_by_username(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    by_root = await entries(database, actor_username="root")

    response = await client.get("/api/audit/", params={"username": "root"}, headers=auditor.headers)

    assert response.status_code == 200, response.text
    assert response.json()["total"] == len(by_root) == 3
    assert {e["action"] for e in response.json()["items"]} == {"identity_user.create", "config_entry.create"}
    assert {e["actor_username"] for e in response.json()["items"]} == {"root"}


async def test_the_trail_filters_by_entity(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    [ann] = [
        e for e in await entries(database, action="identity_user.create") if e["changes"]["after"]["username"] == "ann"
    ]

    response = await client.get(
        "/api/audit/",
        params={"entity_type": "identity_user", "entity_id": ann["entity_id"]},
        headers=auditor.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json()["total"] == 1
    assert response.json()["items"][0]["seq"] == ann["seq"]


async def test_the_trail_filters_by_entity_type(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)

    response = await client.get("/api/audit/", params={"entity_type": "config_entry"}, headers=auditor.headers)

    assert response.status_code == 200, response.text
    assert response.json()["total"] == 1
    assert response.json()["items"][0]["changes"]["after"]["value"] == "Acme"


async def test_the_trail_filters_by_time_window(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    trail = await entries(database)
    middle = trail[len(trail) // 2]
    since, until = middle["occurred_at"], middle["occurred_at"] + timedelta(microseconds=1)
    expected_since = [e["seq"] for e in trail if e["occurred_at"] >= since]
    expected_window = [e["seq"] for e in trail if since <= e["occurred_at"] < until]

    after = await client.get("/api/audit/", params={"since": since.isoformat()}, headers=auditor.headers)
    window = await client.get(
        "/api/audit/", params={"since": since.isoformat(), "until": until.isoformat()}, headers=auditor.headers
    )
    before = await client.get("/api/audit/", params={"until": since.isoformat()}, headers=auditor.headers)

    assert after.status_code == window.status_code == before.status_code == 200
    assert sorted(e["seq"] for e in after.json()["items"]) == expected_since
    assert sorted(e["seq"] for e in window.json()["items"]) == expected_window
    assert middle["seq"] in expected_window
    assert after.json()["total"] + before.json()["total"] == len(trail)


async def test_a_time_filter_in_another_zone_means_the_same_instant(
    client: httpx.AsyncClient, database: Database
) -> None:
    auditor = await _seed(client, database)
    trail = await entries(database)
    since = trail[-1]["occurred_at"]
    local = since.astimezone(timezone(timedelta(hours=3)))

    response = await client.get("/api/audit/", params={"since": local.isoformat()}, headers=auditor.headers)

    assert response.status_code == 200, response.text
    assert [e["seq"] for e in response.json()["items"]] == [
        e["seq"] for e in reversed(trail) if e["occurred_at"] >= since
    ]


async def test_a_time_filter_without_a_zone_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)

    response = await client.get("/api/audit/", params={"since": "2026-01-01T00:00:00"}, headers=auditor.headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "request.validation_failed"
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "since"]]


async def test_the_trail_filters_by_request_id(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    admin_headers = {"Authorization": "Bearer " + (await make_admin(database, username="root2")).token}
    change = await client.post("/api/config/", json={"company_name": "Acme 2", "city": "Iasi"}, headers=admin_headers)
    assert change.status_code == 200, change.text

    response = await client.get(
        "/api/audit/", params={"request_id": change.headers["x-request-id"]}, headers=auditor.headers
    )

    assert response.status_code == 200, response.text
    assert sorted(e["action"] for e in response.json()["items"]) == ["config_entry.create", "config_entry.update"]


async def test_the_trail_can_be_sorted_and_searched(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    count = await entry_count(database)

    ascending = await client.get("/api/audit/", params={"sort": "seq", "limit": 500}, headers=auditor.headers)
    searched = await client.get("/api/audit/", params={"search": "CONFIG_"}, headers=auditor.headers)
    unknown = await client.get("/api/audit/", params={"sort": "hash"}, headers=auditor.headers)

    assert [e["seq"] for e in ascending.json()["items"]] == list(range(1, count + 1))
    assert [e["action"] for e in searched.json()["items"]] == ["config_entry.create"]
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "listing.invalid_sort"


async def test_actions_are_distinct_and_sorted(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)

    response = await client.get("/api/audit/actions", headers=auditor.headers)

    assert response.status_code == 200, response.text
    assert response.json() == [
        "auth.logout",
        "config_entry.create",
        "identity_role.create",
        "identity_token.create",
        "identity_user.create",
    ]


async def test_reading_the_trail_needs_audit_view(client: httpx.AsyncClient, database: Database) -> None:
    await make_admin(database)
    clerk = await make_user(database, username="clerk", permissions=["config.view", "identity.users.view"])
    count = await entry_count(database)

    listing = await client.get("/api/audit/", headers=clerk.headers)
    actions = await client.get("/api/audit/actions", headers=clerk.headers)

    for response in (listing, actions):
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "permission_denied"
        assert response.json()["details"] == {"required_permission": "audit.view"}
    assert await entry_count(database) == count


async def test_reading_the_trail_needs_a_token(client: httpx.AsyncClient, database: Database) -> None:
    listing = await client.get("/api/audit/")
    actions = await client.get("/api/audit/actions")

    assert listing.status_code == actions.status_code == 401
    assert listing.json()["code"] == actions.json()["code"] == "auth.not_authenticated"


async def test_reading_the_trail_writes_nothing_to_it(client: httpx.AsyncClient, database: Database) -> None:
    auditor = await _seed(client, database)
    count = await entry_count(database)

    await client.get("/api/audit/", headers=auditor.headers)
    await client.get("/api/audit/actions", headers=auditor.headers)

    assert await entry_count(database) == count
