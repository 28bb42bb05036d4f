"""Every change is written to the audit trail in its own transaction, with who, where from and why."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, update

from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.errors import UnattributedChange
from depotflow.domains.config.models import ConfigEntry
from depotflow.domains.identity.models import Role, User
from tests.conftest import system_context
from tests.factories.audit import entries, entry_count, head
from tests.factories.identity import make_admin, make_role, make_user

pytestmark = pytest.mark.anyio

NEW_USER = {"username": "alice", "password": "a-long-enough-password", "first_name": "Alice", "last_name": "Liddell"}


async def _user_count(db: Database) -> int:
    async with db.session(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def test_creating_a_user_writes_a_create_entry_with_who_where_and_after_values(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    before = await entry_count(database)
    started = datetime.now(UTC)

    response = await client.post(
        "/api/users/", json=NEW_USER, headers={**admin.headers, "User-Agent": "audit-test/1.0"}
    )

    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    assert await entry_count(database) == before + 1
    [entry] = await entries(database, action="identity_user.create", entity_id=str(user_id))
    assert entry["seq"] == before + 1
    assert entry["entity_type"] == "identity_user"
    assert entry["entity_id"] == str(user_id)
    assert entry["actor_user_id"] == admin.id
    assert entry["actor_username"] == "root"
    assert entry["actor_kind"] == "user"
    assert entry["ip_address"] == "127.0.0.1"
    assert entry["user_agent"] == "audit-test/1.0"
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["reason"] is None
    assert entry["details"] == {}
    assert started <= entry["occurred_at"] <= datetime.now(UTC)
    assert entry["occurred_at"].tzinfo is UTC
    after = entry["changes"]["after"]
    assert set(entry["changes"]) == {"after"}
    assert after["password_hash"] == "[redacted]"
    assert {k: after[k] for k in ("id", "username", "first_name", "last_name", "email", "phone", "role_id")} == {
        "id": user_id,
        "username": "alice",
        "first_name": "Alice",
        "last_name": "Liddell",
        "email": None,
        "phone": None,
        "role_id": None,
    }
    assert after["is_active"] is True
    assert after["must_change_password"] is False
    assert after["auth_source"] == "local"
    assert after["last_login_at"] is None
    assert after["deactivated_at"] is None
    assert datetime.fromisoformat(after["created_at"]) == datetime.fromisoformat(response.json()["created_at"])
    assert set(after) == {c.key for c in User.__table__.columns}


async def test_updating_a_user_records_only_the_changed_fields(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    target = await make_user(database, username="bob", with_token=False)
    before = await entry_count(database)

    response = await client.put(
        f"/api/users/{target.id}",
        json={"first_name": "Robert", "last_name": "Tester", "phone": "+40 123"},
        headers={**admin.headers, "X-Change-Reason": "name change"},
    )

    assert response.status_code == 200, response.text
    assert await entry_count(database) == before + 1
    [entry] = await entries(database, action="identity_user.update")
    assert entry["entity_id"] == str(target.id)
    assert (entry["actor_user_id"], entry["actor_username"]) == (admin.id, "root")
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["reason"] == "name change"
    assert entry["changes"] == {
        "before": {"first_name": "Bob", "phone": None},
        "after": {"first_name": "Robert", "phone": "+40 123"},
    }


async def test_a_password_change_over_http_is_audited_redacted(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    target = await make_user(database, username="carol")

    response = await client.put(
        f"/api/users/{target.id}", json={"password": "another-long-password"}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    [entry] = await entries(database, action="identity_user.update")
    assert entry["changes"]["before"]["password_hash"] == "[redacted]"
    assert entry["changes"]["after"]["password_hash"] == "[redacted]"
    [revoked] = await entries(database, action="identity_token.update")
    assert revoked["changes"]["after"]["revoked_reason"] == "password_changed"
    assert revoked["request_id"] == entry["request_id"] == response.headers["x-request-id"]
    assert "another-long-password" not in str(await entries(database))


async def test_updating_a_role_records_only_the_changed_fields(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    role_id = await make_role(database, slug="clerks", permissions=["audit.view"], name="Clerks")
    before = await entry_count(database)

    response = await client.put(
        f"/api/roles/{role_id}",
        json={"name": "Senior clerks", "slug": "clerks", "permissions": ["audit.view", "config.view"]},
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert await entry_count(database) == before + 1
    [entry] = await entries(database, action="identity_role.update")
    assert entry["entity_id"] == str(role_id)
    assert entry["actor_username"] == "root"
    assert entry["request_id"] == response.headers["x-request-id"]
    assert entry["changes"] == {
        "before": {"name": "Clerks", "permissions": ["audit.view"]},
        "after": {"name": "Senior clerks", "permissions": ["audit.view", "config.view"]},
    }


async def test_a_new_password_hash_is_redacted_on_both_sides_of_an_update(database: Database) -> None:
    target = await make_user(database, username="carol")

    async with database.unit_of_work(system_context("reset")) as session:
        user = await session.get(User, target.id)
        assert user is not None
        user.password_hash = "$argon2id$v=19$new-hash"

    [entry] = await entries(database, action="identity_user.update")
    assert entry["changes"] == {"before": {"password_hash": "[redacted]"}, "after": {"password_hash": "[redacted]"}}
    assert "new-hash" not in str(await entries(database))


async def test_the_change_reason_header_is_stored_as_the_reason(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post(
        "/api/users/", json=NEW_USER, headers={**admin.headers, "X-Change-Reason": "ticket OPS-42: new hire"}
    )

    assert response.status_code == 201, response.text
    [entry] = await entries(database, action="identity_user.create", entity_id=str(response.json()["id"]))
    assert entry["reason"] == "ticket OPS-42: new hire"


async def test_a_change_reason_in_utf8_is_stored_as_written(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post(
        "/api/users/", json=NEW_USER, headers={**admin.headers, "X-Change-Reason": "preț revizuit: lot 7".encode()}
    )

    assert response.status_code == 201, response.text
    [entry] = await entries(database, action="identity_user.create", entity_id=str(response.json()["id"]))
    assert entry["reason"] == "preț revizuit: lot 7"


async def test_a_change_reason_is_cut_at_1000_characters(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post("/api/users/", json=NEW_USER, headers={**admin.headers, "X-Change-Reason": "r" * 1500})

    assert response.status_code == 201, response.text
    [entry] = await entries(database, action="identity_user.create", entity_id=str(response.json()["id"]))
    assert entry["reason"] == "r" * 1000


async def test_a_refused_request_leaves_no_entry(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    await make_user(database, username="alice")
    users, trail = await _user_count(database), await entry_count(database)

    response = await client.post("/api/users/", json=NEW_USER, headers=admin.headers)

    assert response.status_code == 409, response.text
    assert await _user_count(database) == users
    assert await entry_count(database) == trail


async def test_entries_written_before_a_failure_are_rolled_back_with_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    trail, chain_head = await entry_count(database), await head(database)

    # Deactivating the only administrator is flushed (and audited) before the rule refuses it.
    response = await client.put(f"/api/users/{admin.id}", json={"is_active": False}, headers=admin.headers)

    assert response.status_code == 409, response.text
    assert await entry_count(database) == trail
    assert await head(database) == chain_head
    async with database.session(write=False) as session:
        assert (await session.get(User, admin.id)).is_active is True  # type: ignore[union-attr]
        assert (await audit_service.verify(session)).ok is True


async def test_a_delete_records_the_values_before(database: Database) -> None:
    async with database.unit_of_work(system_context("cleanup")) as session:
        role = Role(name="Temp", slug="temp", description="", permissions=["audit.view"], dashboard={})
        session.add(role)
    async with database.unit_of_work(system_context("cleanup")) as session:
        role = (await session.execute(select(Role).where(Role.slug == "temp"))).scalar_one()
        role_id = role.id
        await session.delete(role)

    [entry] = await entries(database, action="identity_role.delete")
    assert entry["entity_id"] == str(role_id)
    assert entry["actor_kind"] == "system"
    assert entry["actor_username"] == "test"
    assert entry["actor_user_id"] is None
    assert entry["reason"] == "cleanup"
    assert set(entry["changes"]) == {"before"}
    assert {k: entry["changes"]["before"][k] for k in ("id", "slug", "permissions")} == {
        "id": role_id,
        "slug": "temp",
        "permissions": ["audit.view"],
    }


async def test_each_object_of_one_flush_gets_its_own_contiguous_entry(database: Database) -> None:
    start = await entry_count(database)

    async with database.unit_of_work(system_context()) as session:
        session.add_all([ConfigEntry(key=f"k{i}", value=i) for i in range(3)])

    trail = await entries(database, action="config_entry.create")
    assert [e["seq"] for e in trail] == [start + 1, start + 2, start + 3]
    assert sorted(e["changes"]["after"]["key"] for e in trail) == ["k0", "k1", "k2"]
    assert [e["prev_hash"] for e in trail[1:]] == [e["hash"] for e in trail[:-1]]
    assert await head(database) == (start + 3, trail[-1]["hash"])


async def test_an_update_of_an_unloaded_attribute_still_records_the_value_before(database: Database) -> None:
    async with database.unit_of_work(system_context()) as session:
        session.add(ConfigEntry(key="city", value="Cluj"))
    async with database.unit_of_work(system_context()) as session:
        entry = (await session.execute(select(ConfigEntry).where(ConfigEntry.key == "city"))).scalar_one()
        session.expire(entry, ["value"])
        entry.value = "Iasi"

    [audited] = await entries(database, action="config_entry.update")
    assert audited["changes"] == {"before": {"value": "Cluj"}, "after": {"value": "Iasi"}}


async def test_record_appends_an_explicit_event_in_the_callers_transaction(database: Database) -> None:
    start = await entry_count(database)
    context = ChangeContext(
        actor=Actor(user_id=7, username="dora"),
        ip_address="10.0.0.9",
        user_agent="cli",
        request_id="req-12345678",
        reason=None,
    )

    async with database.unit_of_work(context) as session:
        await audit_service.record(
            session, action="auth.login_failed", entity_type="identity_user", entity_id=7, details={"why": "pw"}
        )

    [entry] = await entries(database, action="auth.login_failed")
    assert entry["seq"] == start + 1
    assert entry["entity_id"] == "7"
    assert entry["details"] == {"why": "pw"}
    assert entry["changes"] == {}
    assert (entry["actor_user_id"], entry["actor_username"], entry["ip_address"], entry["request_id"]) == (
        7,
        "dora",
        "10.0.0.9",
        "req-12345678",
    )


async def test_a_recorded_event_is_discarded_when_its_transaction_rolls_back(database: Database) -> None:
    start, chain_head = await entry_count(database), await head(database)

    async def record_then_fail() -> None:
        async with database.unit_of_work(system_context()) as session:
            await audit_service.record(session, action="auth.logout")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await record_then_fail()

    assert await entry_count(database) == start
    assert await head(database) == chain_head


async def test_a_flush_without_a_change_context_is_refused(database: Database) -> None:
    start = await entry_count(database)

    async with database.session() as session:
        session.add(ConfigEntry(key="company_name", value="Anon Inc"))
        with pytest.raises(UnattributedChange):
            await session.flush()
        await session.rollback()

    assert await entry_count(database) == start
    async with database.session(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(ConfigEntry))).scalar_one() == 0


async def test_record_without_a_change_context_is_refused(database: Database) -> None:
    start = await entry_count(database)

    async with database.session() as session:
        with pytest.raises(UnattributedChange):
            await audit_service.record(session, action="auth.logout")
        await session.rollback()

    assert await entry_count(database) == start


async def test_an_orm_bulk_update_is_refused(database: Database) -> None:
    user = await make_user(database, username="erin")
    start = await entry_count(database)

    async with database.unit_of_work(system_context()) as session:
        with pytest.raises(UnattributedChange):
            await session.execute(update(User).where(User.id == user.id).values(first_name="Mallory"))

    assert await entry_count(database) == start
    async with database.session(write=False) as session:
        assert (await session.get(User, user.id)).first_name == "Erin"  # type: ignore[union-attr]


async def test_an_orm_bulk_delete_is_refused(database: Database) -> None:
    await make_user(database, username="erin")
    users, start = await _user_count(database), await entry_count(database)

    async with database.unit_of_work(system_context()) as session:
        with pytest.raises(UnattributedChange):
            await session.execute(delete(User).where(User.username == "erin"))

    assert await _user_count(database) == users
    assert await entry_count(database) == start


async def test_a_core_update_of_an_audited_table_through_the_session_is_refused(database: Database) -> None:
    user = await make_user(database, username="erin")
    start = await entry_count(database)

    async with database.unit_of_work(system_context()) as session:
        with pytest.raises(UnattributedChange):
            await session.execute(update(User.__table__).where(User.id == user.id).values(first_name="Mallory"))

    assert await entry_count(database) == start
    async with database.session(write=False) as session:
        assert (await session.get(User, user.id)).first_name == "Erin"  # type: ignore[union-attr]


async def test_a_bulk_insert_into_an_audited_table_is_refused(database: Database) -> None:
    start = await entry_count(database)

    async with database.unit_of_work(system_context()) as session:
        with pytest.raises(UnattributedChange):
            await session.execute(insert(ConfigEntry), [{"key": "company_name", "value": "Sneaky"}])

    assert await entry_count(database) == start
    async with database.session(write=False) as session:
        assert (await session.execute(select(func.count()).select_from(ConfigEntry))).scalar_one() == 0


async def test_bulk_writes_to_unaudited_tables_are_allowed(database: Database) -> None:
    from depotflow.domains.identity.models import LoginThrottle  # noqa: PLC0415

    start = await entry_count(database)
    now = datetime.now(UTC)

    async with database.unit_of_work(system_context()) as session:
        await session.execute(
            insert(LoginThrottle), [{"kind": "user", "key": "x", "failures": 1, "window_started_at": now}]
        )
        await session.execute(
            update(LoginThrottle).where(LoginThrottle.key == "x").values(locked_until=now + timedelta(minutes=1))
        )

    assert await entry_count(database) == start


async def test_a_long_user_agent_is_cut_to_its_column(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post("/api/users/", json=NEW_USER, headers={**admin.headers, "User-Agent": "u" * 700})

    assert response.status_code == 201, response.text
    [entry] = await entries(database, action="identity_user.create", entity_id=str(response.json()["id"]))
    assert entry["user_agent"] == "u" * 512
    async with database.session(write=False) as session:
        assert (await audit_service.verify(session)).ok is True
