"""GET /api/config/ shows only public branding; POST changes whitelisted settings for config.change holders."""

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from depotflow.core.db import Database
from depotflow.domains.config.models import ConfigEntry
from tests.factories.audit import entries, entry_count
from tests.factories.identity import make_admin, make_user

pytestmark = pytest.mark.anyio

ORGANISATION = {
    "company_name": "Acme Pharma",
    "company_logo": "/media/img/acme.svg",
    "legal_name": "Acme Pharma S.R.L.",
    "tax_id": "RO123456",
    "registration_number": "J40/1/2020",
    "address": "Str. Exemplu 1",
    "city": "Cluj-Napoca",
    "postal_code": "400000",
    "country": "RO",
    "phone": "+40 264 000 000",
    "email": "office@acme.example",
    "website": "https://acme.example",
    "procurement_document_templates": {"PO-STD": "Purchase order", "PO-QC": "QC release note"},
    "signature_require_username": False,
}

DEFAULT_CONFIG: dict[str, Any] = {
    "company_name": "depotflow",
    "company_logo": None,
    "legal_name": None,
    "tax_id": None,
    "registration_number": None,
    "address": None,
    "city": None,
    "postal_code": None,
    "country": None,
    "phone": None,
    "email": None,
    "website": None,
    "procurement_document_templates": {},
    "signature_require_username": True,
}


async def _stored(database: Database) -> dict[str, Any]:
    async with database.session(write=False) as session:
        return {e.key: e.value for e in (await session.execute(select(ConfigEntry))).scalars()}


async def test_branding_is_public_with_defaults(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/config/")

    assert response.status_code == 200, response.text
    assert response.json() == {"company_name": "depotflow", "company_logo": None}


async def test_branding_never_shows_organisation_data(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    saved = await client.post("/api/config/", json=ORGANISATION, headers=admin.headers)
    assert saved.status_code == 200, saved.text

    anonymous = await client.get("/api/config/")
    as_admin = await client.get("/api/config/", headers=admin.headers)

    assert anonymous.status_code == as_admin.status_code == 200
    assert anonymous.json() == as_admin.json() == {"company_name": "Acme Pharma", "company_logo": "/media/img/acme.svg"}


async def test_saving_returns_the_full_configuration(client: httpx.AsyncClient, database: Database) -> None:
    editor = await make_user(database, username="editor", permissions=["config.change"])

    response = await client.post("/api/config/", json={"city": " Iasi ", "country": "ro"}, headers=editor.headers)

    assert response.status_code == 200, response.text
    assert response.json() == {**DEFAULT_CONFIG, "city": "Iasi", "country": "RO"}
    assert await _stored(database) == {"city": "Iasi", "country": "RO"}


async def test_every_setting_round_trips(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post("/api/config/", json=ORGANISATION, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert response.json() == ORGANISATION
    assert await _stored(database) == ORGANISATION


async def test_null_clears_a_setting_and_restores_the_default_name(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    await client.post("/api/config/", json=ORGANISATION, headers=admin.headers)

    response = await client.post(
        "/api/config/",
        json={
            "company_name": None,
            "company_logo": None,
            "tax_id": None,
            "procurement_document_templates": None,
            "signature_require_username": None,
        },
        headers=admin.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        **ORGANISATION,
        "company_name": "depotflow",
        "company_logo": None,
        "tax_id": None,
        "procurement_document_templates": {},
        "signature_require_username": True,
    }
    branding = await client.get("/api/config/")
    assert branding.json() == {"company_name": "depotflow", "company_logo": None}


async def test_keys_not_sent_are_left_alone(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    await client.post("/api/config/", json=ORGANISATION, headers=admin.headers)

    response = await client.post("/api/config/", json={"city": "Brasov"}, headers=admin.headers)

    assert response.json() == {**ORGANISATION, "city": "Brasov"}
    assert await _stored(database) == {**ORGANISATION, "city": "Brasov"}


async def test_saving_needs_a_token(client: httpx.AsyncClient, database: Database) -> None:
    count = await entry_count(database)

    response = await client.post("/api/config/", json={"company_name": "Anon"})

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "auth.not_authenticated"
    assert await _stored(database) == {}
    assert await entry_count(database) == count


async def test_saving_needs_config_change(client: httpx.AsyncClient, database: Database) -> None:
    viewer = await make_user(database, username="viewer", permissions=["config.view", "audit.view"])
    count = await entry_count(database)

    response = await client.post("/api/config/", json={"company_name": "Nope"}, headers=viewer.headers)

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "permission_denied"
    assert response.json()["details"] == {"required_permission": "config.change"}
    assert await _stored(database) == {}
    assert await entry_count(database) == count


@pytest.mark.parametrize(
    ("_case", "body", "loc"),
    [
        ("unknown key", {"company_name": "X", "smtp_password": "hunter2"}, ["body", "smtp_password"]),
        ("bad email", {"email": "not-an-email"}, ["body", "email"]),
        ("three-letter country", {"country": "ROU"}, ["body", "country"]),
        ("digits as country", {"country": "12"}, ["body", "country"]),
        ("website without scheme", {"website": "acme.example"}, ["body", "website"]),
        ("script logo", {"company_logo": "javascript:alert(1)"}, ["body", "company_logo"]),
        ("empty name", {"company_name": "  "}, ["body", "company_name"]),
        ("name too long", {"company_name": "x" * 101}, ["body", "company_name"]),
        ("number as city", {"city": 42}, ["body", "city"]),
        ("text as the username flag", {"signature_require_username": "no"}, ["body", "signature_require_username"]),
        ("number as the username flag", {"signature_require_username": 0}, ["body", "signature_require_username"]),
    ],
)
async def test_invalid_settings_are_refused(
    client: httpx.AsyncClient, database: Database, _case: str, body: dict[str, Any], loc: list[str]
) -> None:
    admin = await make_admin(database)
    await client.post("/api/config/", json={"company_name": "Before"}, headers=admin.headers)
    count = await entry_count(database)

    response = await client.post("/api/config/", json=body, headers=admin.headers)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "request.validation_failed"
    assert [e["loc"] for e in response.json()["errors"]] == [loc]
    assert "hunter2" not in response.text
    assert await _stored(database) == {"company_name": "Before"}
    assert await entry_count(database) == count


async def test_a_body_that_is_not_an_object_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post("/api/config/", json=["company_name"], headers=admin.headers)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "request.validation_failed"
    assert await _stored(database) == {}


async def test_changes_are_audited_with_the_editor(client: httpx.AsyncClient, database: Database) -> None:
    editor = await make_user(database, username="editor", permissions=["config.change"])
    first = await client.post(
        "/api/config/",
        json={"company_name": "Acme", "city": "Cluj"},
        headers={**editor.headers, "X-Change-Reason": "rebrand"},
    )
    count = await entry_count(database)

    second = await client.post("/api/config/", json={"company_name": "Acme 2", "city": "Cluj"}, headers=editor.headers)

    assert first.status_code == second.status_code == 200
    created = await entries(database, action="config_entry.create")
    assert sorted((e["changes"]["after"]["key"], e["changes"]["after"]["value"]) for e in created) == [
        ("city", "Cluj"),
        ("company_name", "Acme"),
    ]
    assert {(e["actor_username"], e["reason"], e["request_id"]) for e in created} == {
        ("editor", "rebrand", first.headers["x-request-id"])
    }
    assert await entry_count(database) == count + 1  # the unchanged city writes nothing
    [updated] = await entries(database, action="config_entry.update")
    assert updated["changes"] == {"before": {"value": "Acme"}, "after": {"value": "Acme 2"}}
    assert updated["request_id"] == second.headers["x-request-id"]
    assert updated["actor_username"] == "editor"


async def test_saving_the_same_values_again_writes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    await client.post("/api/config/", json=ORGANISATION, headers=admin.headers)
    count = await entry_count(database)

    response = await client.post("/api/config/", json=ORGANISATION, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert await entry_count(database) == count


async def test_an_empty_change_returns_the_configuration_and_writes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    await client.post("/api/config/", json={"city": "Cluj"}, headers=admin.headers)
    count = await entry_count(database)

    response = await client.post("/api/config/", json={}, headers=admin.headers)

    assert response.status_code == 200, response.text
    assert response.json() == {**DEFAULT_CONFIG, "city": "Cluj"}
    assert await _stored(database) == {"city": "Cluj"}
    assert await entry_count(database) == count


async def test_the_signature_username_setting_is_on_by_default_and_its_change_is_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    editor = await make_user(database, username="editor", permissions=["config.change"])
    count = await entry_count(database)

    off = await client.post(
        "/api/config/",
        json={"signature_require_username": False},
        headers={**editor.headers, "X-Change-Reason": "SOP-12 rev 3"},
    )

    assert off.status_code == 200, off.text
    assert off.json() == {**DEFAULT_CONFIG, "signature_require_username": False}
    assert await _stored(database) == {"signature_require_username": False}
    [created] = await entries(database, action="config_entry.create")
    assert created["changes"]["after"]["key"] == "signature_require_username"
    assert created["changes"]["after"]["value"] is False
    assert (created["actor_username"], created["reason"]) == ("editor", "SOP-12 rev 3")
    assert await entry_count(database) == count + 1

    on = await client.post("/api/config/", json={"signature_require_username": True}, headers=editor.headers)

    assert on.json()["signature_require_username"] is True
    [updated] = await entries(database, action="config_entry.update")
    assert updated["changes"] == {"before": {"value": False}, "after": {"value": True}}
