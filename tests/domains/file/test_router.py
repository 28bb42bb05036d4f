"""/api/files: tokens and permissions per route, listing with filters and search, not-found and bad input."""

from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.settings import Settings
from tests.factories.audit import entry_count
from tests.factories.file import CSV, PDF, TEXT, blob_path, counts, on_disk, upload
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

EVERYTHING = ["file.upload", "file.view", "file.delete"]


def _store(settings: Settings) -> Path:
    return settings.data_dir / "files"


async def test_every_file_route_needs_a_token(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await make_user(database, username="qa", permissions=EVERYTHING)
    created = (await upload(client, owner.headers, PDF)).json()
    audit_before = await entry_count(database)
    anonymous = [
        ("POST", "/api/files", {"files": {"file": ("a.pdf", PDF, "application/pdf")}}),
        ("GET", "/api/files", {}),
        ("GET", f"/api/files/{created['id']}", {}),
        ("GET", created["content_url"], {}),
        ("DELETE", f"/api/files/{created['id']}", {}),
    ]

    for method, url, extra in anonymous:
        response = await client.request(method, url, **extra)

        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "auth.not_authenticated"
        assert PDF not in response.content

    assert await counts(database) == (1, 1)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == [blob_path(created["sha256"])]


async def test_each_file_route_needs_its_own_permission(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    owner = await make_user(database, username="qa", permissions=EVERYTHING)
    created = (await upload(client, owner.headers, PDF)).json()
    viewer = await make_user(database, username="viewer", permissions=["file.view"])
    uploader = await make_user(database, username="uploader", permissions=["file.upload", "file.delete"])
    audit_before = await entry_count(database)
    attempts = [
        (viewer, "POST", "/api/files", {"files": {"file": ("a.txt", TEXT, "text/plain")}}, "file.upload"),
        (viewer, "DELETE", f"/api/files/{created['id']}", {}, "file.delete"),
        (uploader, "GET", "/api/files", {}, "file.view"),
        (uploader, "GET", f"/api/files/{created['id']}", {}, "file.view"),
        (uploader, "GET", created["content_url"], {}, "file.view"),
    ]

    for made, method, url, extra, permission in attempts:
        response = await client.request(method, url, headers=made.headers, **extra)

        assert response.status_code == 403, (made.username, method, url)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["details"] == {"required_permission": permission}
        assert PDF not in response.content

    assert await counts(database) == (1, 1)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == [blob_path(created["sha256"])]
    assert (await client.get(created["content_url"], headers=viewer.headers)).content == PDF


async def test_files_are_listed_newest_first_with_filters_and_search(
    client: httpx.AsyncClient, database: Database
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    coa = (await upload(client, user.headers, PDF, "CoA 7.pdf", entity_type="stock.lot", entity_id=7)).json()
    notes = (await upload(client, user.headers, TEXT, "notes.txt", entity_type="stock.lot", entity_id=8)).json()
    stock = (await upload(client, user.headers, CSV, "stock.csv", entity_type="purchasing.order", entity_id=7)).json()
    gone = (await upload(client, user.headers, TEXT, "old coa.txt", entity_type="stock.lot", entity_id=7)).json()
    await client.delete(f"/api/files/{gone['id']}", headers=user.headers)

    async def ids(**params: str | int) -> list[int]:
        response = await client.get("/api/files", params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]

    assert await ids() == [stock["id"], notes["id"], coa["id"]]
    assert await ids(entity_type="stock.lot") == [notes["id"], coa["id"]]
    assert await ids(entity_type="stock.lot", entity_id=7) == [coa["id"]]
    assert await ids(entity_id=7) == [stock["id"], coa["id"]]
    assert await ids(search="COA") == [coa["id"]]
    assert await ids(sort="filename") == [coa["id"], notes["id"], stock["id"]]
    by_size = [f["id"] for f in sorted([coa, notes, stock], key=lambda f: -f["size"])]
    assert await ids(sort="-size") == by_size
    page = await client.get("/api/files", params={"limit": 1, "offset": 1}, headers=user.headers)
    assert page.json() == {"items": [notes], "total": 3, "offset": 1, "limit": 1}


async def test_bad_list_parameters_are_refused(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=["file.view"])

    unsortable = await client.get("/api/files", params={"sort": "sha256"}, headers=user.headers)
    bad_id = await client.get("/api/files", params={"entity_id": 0}, headers=user.headers)
    bad_type = await client.get("/api/files", params={"entity_type": "Stock Lot"}, headers=user.headers)

    assert (unsortable.status_code, unsortable.json()["code"]) == (422, "listing.invalid_sort")
    assert (bad_id.status_code, bad_id.json()["code"]) == (422, "request.validation_failed")
    assert (bad_type.status_code, bad_type.json()["code"]) == (422, "request.validation_failed")


async def test_an_unknown_file_answers_404(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)

    for method, url in (
        ("GET", "/api/files/999"),
        ("GET", "/api/files/999/content"),
        ("DELETE", "/api/files/999"),
    ):
        response = await client.request(method, url, headers=user.headers)

        assert response.status_code == 404, (method, url)
        assert response.json()["code"] == "file.not_found"
        assert response.json()["details"] == {"file_id": 999}


async def test_an_attachment_names_both_the_entity_type_and_id(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    audit_before = await entry_count(database)

    only_type = await upload(client, user.headers, PDF, entity_type="stock.lot")
    only_id = await upload(client, user.headers, PDF, entity_id=7)
    bad_type = await upload(client, user.headers, PDF, entity_type="../lot", entity_id=7)
    bad_id = await upload(client, user.headers, PDF, entity_type="stock.lot", entity_id=-1)
    long_description = await upload(client, user.headers, PDF, description="x" * 2001)

    assert (only_type.status_code, only_type.json()["code"]) == (422, "file.invalid_attachment")
    assert only_type.json()["errors"] == [
        {"loc": ["body", "entity_id"], "code": "missing", "msg": "required with the other entity field"}
    ]
    assert (only_id.status_code, only_id.json()["code"]) == (422, "file.invalid_attachment")
    assert only_id.json()["errors"][0]["loc"] == ["body", "entity_type"]
    for response, field in ((bad_type, "entity_type"), (bad_id, "entity_id"), (long_description, "description")):
        assert (response.status_code, response.json()["code"]) == (422, "request.validation_failed")
        assert [e["loc"] for e in response.json()["errors"]] == [["body", field]]
    assert await counts(database) == (0, 0)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == []


async def test_an_upload_without_a_file_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)

    as_field = await client.post("/api/files", data={"file": "not a file"}, headers=user.headers)
    as_json = await client.post("/api/files", json={"file": "x"}, headers=user.headers)

    for response in (as_field, as_json):
        assert (response.status_code, response.json()["code"]) == (422, "request.validation_failed")
        assert response.json()["errors"][0]["loc"] == ["body", "file"]
    assert await counts(database) == (0, 0)


async def test_bytes_missing_from_the_store_are_reported_not_served(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    created = (await upload(client, user.headers, PDF)).json()
    (_store(settings) / blob_path(created["sha256"])).unlink()

    response = await client.get(created["content_url"], headers=user.headers)

    assert response.status_code == 500, response.text
    assert response.json()["code"] == "file.content_missing"
    assert response.json()["details"] == {"file_id": created["id"]}
