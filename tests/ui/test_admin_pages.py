"""Administration pages: users, roles, the audit log and the settings (ui.md F6, F7, F11, F12).

Every write answers 303 with a flash on success and 422 (the form again, the typed values kept and
the stored data unchanged) when refused; pages need the permission of the API route they mirror."""

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from depotflow.core.db import Database
from depotflow.domains.audit import permissions as audit_perms
from depotflow.domains.config import permissions as config_perms
from depotflow.domains.identity import permissions as identity_perms
from depotflow.domains.identity.models import Role, User
from depotflow.domains.part import permissions as part_perms
from depotflow.domains.stock import permissions as stock_perms
from tests.factories.identity import make_admin, make_role, make_user
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

GOOD_PASSWORD = "a-long-enough-secret"


async def _user_count(database: Database, username: str) -> int:
    async with database.session(write=False) as session:
        stmt = select(func.count()).select_from(User).where(func.lower(User.username) == username.lower())
        return int((await session.execute(stmt)).scalar_one())


async def _user(database: Database, username: str) -> User:
    async with database.session(write=False) as session:
        return (await session.execute(select(User).where(User.username == username))).scalar_one()


async def _role(database: Database, role_id: int) -> Role:
    async with database.session(write=False) as session:
        return (await session.execute(select(Role).where(Role.id == role_id))).scalar_one()


async def _admin_web(client: httpx.AsyncClient, database: Database) -> WebClient:
    return await sign_in(client, await make_admin(database))


# --- Users -----------------------------------------------------------------------------------------


async def test_user_list_searches_filters_and_answers_the_results_fragment(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    await make_user(database, username="alice", permissions=[])
    await make_user(database, username="bob", permissions=[])
    await make_user(database, username="carol", permissions=[], is_active=False)

    page = await web.get("/web/admin/users?q=ali")
    assert page.status_code == 200
    assert "<html" in page.text
    assert 'id="results"' in page.text
    assert ">alice<" in page.text
    assert ">bob<" not in page.text
    assert "New user" in page.text

    fragment = await web.get("/web/admin/users?q=bo", target="results")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "<table" in fragment.text
    assert ">bob<" in fragment.text
    assert ">alice<" not in fragment.text

    inactive = text_of((await web.get("/web/admin/users?status=inactive", target="results")).text)
    assert "carol" in inactive
    assert "alice" not in inactive
    active = text_of((await web.get("/web/admin/users?status=active&sort=-username", target="results")).text)
    assert "carol" not in active
    assert active.index("bob") < active.index("alice")

    nothing = await web.get("/web/admin/users?q=nobody-here", target="results")
    assert "No users match these filters." in nothing.text


async def test_create_user_redirects_with_a_flash_and_the_user_is_listed(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    form = await web.get("/web/admin/users/new")
    assert form.status_code == 200
    assert 'name="password"' in form.text

    resp = await web.post(
        "/web/admin/users",
        {
            "username": "dora",
            "first_name": "Dora",
            "last_name": "Pop",
            "email": "dora@example.com",
            "password": GOOD_PASSWORD,
            "must_change_password": "true",
        },
    )
    assert resp.status_code == 303, resp.text
    stored = await _user(database, "dora")
    assert resp.headers["location"] == f"/web/admin/users/{stored.id}"
    assert stored.email == "dora@example.com"
    assert stored.must_change_password
    assert stored.is_active

    detail = await web.get(resp.headers["location"])
    assert detail.status_code == 200
    assert "User dora was created." in detail.text
    assert "Dora Pop" in detail.text
    assert "Not locked" in detail.text

    listed = await web.get("/web/admin/users?q=dora", target="results")
    assert f'href="/web/admin/users/{stored.id}"' in listed.text


async def test_create_user_with_a_taken_username_is_422_and_keeps_the_typed_values(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    await make_user(database, username="erin", permissions=[])

    resp = await web.post(
        "/web/admin/users",
        {"username": "ERIN", "first_name": "Second", "last_name": "Erin", "email": "", "password": GOOD_PASSWORD},
    )
    assert resp.status_code == 422
    assert "This username is already taken." in resp.text
    assert 'value="ERIN"' in resp.text
    assert 'value="Second"' in resp.text
    assert GOOD_PASSWORD not in resp.text  # passwords are never echoed
    assert 'aria-invalid="true"' in resp.text
    assert await _user_count(database, "erin") == 1


async def test_create_user_with_a_weak_or_missing_password_or_bad_email_is_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)

    weak = await web.post("/web/admin/users", {"username": "frank", "first_name": "Frank", "password": "short"})
    assert weak.status_code == 422
    assert "The password is too weak" in weak.text
    assert 'value="Frank"' in weak.text

    missing = await web.post("/web/admin/users", {"username": "frank", "password": ""})
    assert missing.status_code == 422
    assert "This field is required." in missing.text

    bad = await web.post("/web/admin/users", {"username": "fr ank", "email": "not-an-email", "password": GOOD_PASSWORD})
    assert bad.status_code == 422
    assert 'id="e-username"' in bad.text
    assert 'id="e-email"' in bad.text

    unknown_role = await web.post(
        "/web/admin/users", {"username": "frank", "password": GOOD_PASSWORD, "role_id": "999999"}
    )
    assert unknown_role.status_code == 422
    assert 'id="e-role_id"' in unknown_role.text
    assert await _user_count(database, "frank") == 0


async def test_a_viewer_sees_no_create_or_edit_controls_and_cannot_post(
    client: httpx.AsyncClient, database: Database
) -> None:
    viewer = await make_user(database, username="viewer", permissions=[identity_perms.USERS_VIEW])
    other = await make_user(database, username="gina", permissions=[])
    web = await sign_in(client, viewer)

    page = await web.get("/web/admin/users")
    assert page.status_code == 200
    assert "New user" not in page.text
    assert "/web/admin/users/new" not in page.text
    detail = await web.get(f"/web/admin/users/{other.id}")
    assert detail.status_code == 200
    assert 'id="user-form"' not in detail.text

    assert (await web.get("/web/admin/users/new")).status_code == 403
    created = await web.post("/web/admin/users", {"username": "hacker", "password": GOOD_PASSWORD})
    assert created.status_code == 403
    assert await _user_count(database, "hacker") == 0
    changed = await web.post(f"/web/admin/users/{other.id}", {"first_name": "Changed", "is_active": "true"})
    assert changed.status_code == 403
    assert (await _user(database, "gina")).first_name == "Gina"

    assert (await web.get("/web/admin/roles")).status_code == 403
    assert (await web.get("/web/admin/audit")).status_code == 403
    assert (await web.get("/web/admin/settings")).status_code == 403


async def test_edit_user_saves_and_a_refused_edit_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    target = await make_user(database, username="hana", permissions=[part_perms.VIEW], email="hana@example.com")
    admin_user = await _user(database, "root")

    saved = await web.post(
        f"/web/admin/users/{target.id}",
        {"first_name": "Hana", "last_name": "Ionescu", "email": "h@example.com", "role_id": str(admin_user.role_id)},
    )
    assert saved.status_code == 303
    stored = await _user(database, "hana")
    assert (stored.last_name, stored.email, stored.role_id, stored.is_active) == (
        "Ionescu",
        "h@example.com",
        admin_user.role_id,
        False,  # the "active" box was left unticked
    )
    page = await web.get(saved.headers["location"])
    assert "User hana was saved." in page.text
    assert "Hana Ionescu" in page.text

    refused = await web.post(
        f"/web/admin/users/{target.id}",
        {"first_name": "Other", "last_name": "Name", "email": "broken", "is_active": "true"},
    )
    assert refused.status_code == 422
    assert 'value="Other"' in refused.text
    assert 'value="broken"' in refused.text
    after = await _user(database, "hana")
    assert (after.first_name, after.email, after.is_active) == ("Hana", "h@example.com", False)


async def test_deactivating_oneself_is_refused_and_nothing_is_saved(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    me = await _user(database, "root")

    resp = await web.post(
        f"/web/admin/users/{me.id}", {"first_name": "Renamed", "role_id": str(me.role_id)}
    )  # "is_active" unticked
    assert resp.status_code == 422
    assert "You cannot deactivate your own account." in resp.text
    after = await _user(database, "root")
    assert after.is_active
    assert after.first_name == me.first_name


# --- Roles -----------------------------------------------------------------------------------------


async def test_role_list_and_detail_group_permissions_by_domain(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await make_user(database, username="ivan", permissions=[identity_perms.ROLES_VIEW])
    web = await sign_in(client, viewer)
    role_id = await make_role(database, slug="clerks", name="Clerks", permissions=[part_perms.VIEW])

    page = await web.get("/web/admin/roles?q=clerk")
    assert page.status_code == 200
    assert "New role" not in page.text
    fragment = await web.get("/web/admin/roles?q=clerk", target="results")
    assert "<html" not in fragment.text
    assert f'href="/web/admin/roles/{role_id}"' in fragment.text

    detail = await web.get(f"/web/admin/roles/{role_id}")
    assert detail.status_code == 200
    assert 'id="role-form"' not in detail.text
    assert "<code>part</code>" in detail.text
    assert "part.view" in detail.text
    assert "stock.view" not in detail.text  # only granted permissions are listed read-only
    assert (await web.post(f"/web/admin/roles/{role_id}", {"name": "X", "slug": "clerks"})).status_code == 403


async def test_role_edit_changes_permissions_and_the_audit_log_shows_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    role_id = await make_role(database, slug="clerks", name="Clerks", permissions=[part_perms.VIEW])

    form = await web.get(f"/web/admin/roles/{role_id}")
    assert 'name="permissions" value="stock.view"' in form.text
    resp = await web.post(
        f"/web/admin/roles/{role_id}",
        [
            ("name", "Clerks"),
            ("slug", "clerks"),
            ("description", "Front desk"),
            ("permissions", part_perms.VIEW),
            ("permissions", stock_perms.VIEW),
        ],
    )
    assert resp.status_code == 303, resp.text
    assert sorted((await _role(database, role_id)).permissions) == [part_perms.VIEW, stock_perms.VIEW]
    detail = await web.get(f"/web/admin/roles/{role_id}")
    assert "Role Clerks was saved." in detail.text
    assert 'value="stock.view" checked' in detail.text

    audit = await web.get(f"/web/admin/audit?entity_type=identity_role&entity_id={role_id}", target="results")
    assert audit.status_code == 200
    assert "<html" not in audit.text
    assert "identity_role.update" in audit.text
    assert f'href="/web/admin/roles/{role_id}"' in audit.text
    assert "stock.view" in audit.text
    assert "Front desk" in audit.text


async def test_role_edit_with_bad_values_is_422_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    web = await _admin_web(client, database)
    role_id = await make_role(database, slug="clerks", name="Clerks", permissions=[part_perms.VIEW])
    await make_role(database, slug="buyers", permissions=[])

    bad_slug = await web.post(
        f"/web/admin/roles/{role_id}",
        [("name", "Renamed"), ("slug", "Not A Slug"), ("permissions", stock_perms.VIEW)],
    )
    assert bad_slug.status_code == 422
    assert 'value="Renamed"' in bad_slug.text
    assert 'id="e-slug"' in bad_slug.text
    assert 'value="stock.view" checked' in bad_slug.text

    taken = await web.post(f"/web/admin/roles/{role_id}", {"name": "Renamed", "slug": "buyers"})
    assert taken.status_code == 422
    assert "A role with this slug already exists." in taken.text

    unknown = await web.post(
        f"/web/admin/roles/{role_id}", [("name", "Renamed"), ("slug", "clerks"), ("permissions", "made.up")]
    )
    assert unknown.status_code == 422
    assert "Choose permissions from the list." in unknown.text

    stored = await _role(database, role_id)
    assert (stored.name, stored.slug, stored.permissions) == ("Clerks", "clerks", [part_perms.VIEW])


async def test_create_and_delete_role(client: httpx.AsyncClient, database: Database) -> None:
    web = await _admin_web(client, database)
    assert (await web.get("/web/admin/roles/new")).status_code == 200

    created = await web.post(
        "/web/admin/roles", [("name", "Quality"), ("slug", "quality"), ("permissions", stock_perms.VIEW)]
    )
    assert created.status_code == 303
    role_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert (await _role(database, role_id)).permissions == [stock_perms.VIEW]

    duplicate = await web.post("/web/admin/roles", {"name": "Quality again", "slug": "quality"})
    assert duplicate.status_code == 422
    assert 'value="Quality again"' in duplicate.text

    await make_user(database, username="quinn", role_slug="quality")
    in_use = await web.post(f"/web/admin/roles/{role_id}/delete")
    assert in_use.status_code == 409
    assert "Users still hold this role" in in_use.text
    assert (await _role(database, role_id)).slug == "quality"

    unused = await make_role(database, slug="spare", permissions=[])
    deleted = await web.post(f"/web/admin/roles/{unused}/delete")
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/web/admin/roles"
    assert (await web.get(f"/web/admin/roles/{unused}")).status_code == 404


# --- Audit log -------------------------------------------------------------------------------------


async def test_audit_log_filters_by_action_and_date(client: httpx.AsyncClient, database: Database) -> None:
    web = await _admin_web(client, database)
    created = await web.post("/web/admin/users", {"username": "jane", "password": GOOD_PASSWORD})
    assert created.status_code == 303

    page = await web.get("/web/admin/audit")
    assert page.status_code == 200
    assert '<option value="identity_user.create"' in page.text

    by_action = await web.get("/web/admin/audit?action=identity_user.create", target="results")
    assert by_action.status_code == 200
    assert "<html" not in by_action.text
    text = text_of(by_action.text)
    assert "identity_user.create" in text
    assert "jane" in text
    assert "identity_token.create" not in text

    by_user = text_of((await web.get("/web/admin/audit?username=nobody", target="results")).text)
    assert "No entries match these filters." in by_user

    today = dt.datetime.now(ZoneInfo("Europe/Bucharest")).date()
    same_day = await web.get(f"/web/admin/audit?action=identity_user.create&since={today}&until={today}")
    assert "jane" in text_of(same_day.text)
    later = today + dt.timedelta(days=2)
    future = await web.get(f"/web/admin/audit?action=identity_user.create&since={later}", target="results")
    assert "No entries match these filters." in future.text

    bad = await web.get("/web/admin/audit?since=31.12.2026")
    assert bad.status_code == 422
    assert 'id="e-since"' in bad.text
    assert 'value="31.12.2026"' in bad.text


async def test_verify_chain_shows_the_result(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await make_user(database, username="kim", permissions=[audit_perms.VIEW])
    web = await sign_in(client, viewer)

    fragment = await web.post("/web/admin/audit/verify", target="verify-result")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "The audit chain is intact" in fragment.text

    trail = await web.get("/web/admin/audit?entity_type=identity_user", target="results")
    assert "identity_user" in trail.text
    assert 'href="/web/admin/users/' not in trail.text  # no links to pages kim may not open

    full = await web.post("/web/admin/audit/verify")
    assert full.status_code == 303
    assert full.headers["location"] == "/web/admin/audit"
    shown = await web.get("/web/admin/audit")
    assert "The audit chain is intact" in shown.text

    assert (await web.post("/web/admin/audit/verify", csrf="0" * 64)).status_code == 403
    client.cookies.clear()
    outsider = await sign_in(client, await make_user(database, username="lee", permissions=[]))
    assert (await outsider.post("/web/admin/audit/verify")).status_code == 403


# --- Settings --------------------------------------------------------------------------------------


async def test_settings_save_and_a_bad_value_is_422(client: httpx.AsyncClient, database: Database) -> None:
    web = await _admin_web(client, database)
    page = await web.get("/web/admin/settings")
    assert page.status_code == 200
    assert 'id="settings-form"' in page.text

    saved = await web.post(
        "/web/admin/settings",
        {"company_name": "Acme Pharma", "legal_name": "Acme Pharma SRL", "country": "ro", "website": "https://acme.ro"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/web/admin/settings"
    after = await web.get("/web/admin/settings")
    assert "The settings were saved." in after.text
    assert 'value="Acme Pharma SRL"' in after.text
    assert 'value="RO"' in after.text
    assert (await client.get("/api/config/")).json()["company_name"] == "Acme Pharma"

    bad = await web.post(
        "/web/admin/settings",
        {"company_name": "Other Name", "legal_name": "Other SRL", "website": "not a url", "country": "Romania"},
    )
    assert bad.status_code == 422
    assert 'id="e-website"' in bad.text
    assert 'id="e-country"' in bad.text
    assert 'value="not a url"' in bad.text
    assert 'value="Other SRL"' in bad.text

    blank = await web.post("/web/admin/settings", {"company_name": "  "})
    assert blank.status_code == 422
    assert 'id="e-company_name"' in blank.text

    assert (await client.get("/api/config/")).json()["company_name"] == "Acme Pharma"
    kept = await web.get("/web/admin/settings")
    assert 'value="Acme Pharma SRL"' in kept.text
    assert 'value="https://acme.ro"' in kept.text


async def test_settings_need_config_change_like_the_api(client: httpx.AsyncClient, database: Database) -> None:
    # POST /api/config/ needs config.change and no API route reads the settings with config.view.
    reader = await make_user(database, username="mara", permissions=[config_perms.VIEW])
    web = await sign_in(client, reader)
    assert (await web.get("/web/admin/settings")).status_code == 403
    refused = await web.post("/web/admin/settings", {"company_name": "Hijacked"})
    assert refused.status_code == 403
    assert (await client.get("/api/config/")).json()["company_name"] != "Hijacked"

    client.cookies.clear()
    editor = await sign_in(client, await make_user(database, username="nina", permissions=[config_perms.CHANGE]))
    page = await editor.get("/web/admin/settings")
    assert page.status_code == 200
    assert 'id="settings-form"' in page.text


# --- Unknown ids -----------------------------------------------------------------------------------


async def test_unknown_ids_are_404(client: httpx.AsyncClient, database: Database) -> None:
    web = await _admin_web(client, database)
    assert (await web.get("/web/admin/users/999999")).status_code == 404
    assert (await web.get("/web/admin/roles/999999")).status_code == 404
    assert (await web.post("/web/admin/users/999999", {"first_name": "X"})).status_code == 404
    assert (await web.post("/web/admin/roles/999999", {"name": "X", "slug": "x"})).status_code == 404
    assert (await web.post("/web/admin/roles/999999/delete")).status_code == 404
