"""Uploading and downloading: bytes round-trip unchanged, types are sniffed, names cleaned, trail kept bytes-free."""

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.settings import Settings
from tests.factories.audit import entries, entry_count
from tests.factories.file import (
    CSV,
    DOCX_TYPE,
    ELF,
    HTML,
    PDF,
    SVG,
    TEXT,
    XLSX_TYPE,
    blob_path,
    counts,
    docx,
    on_disk,
    png,
    raw_upload,
    ref_counts,
    upload,
    xlsx,
)
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

UPLOAD = ["file.upload", "file.view"]


def _store(settings: Settings) -> Path:
    return settings.data_dir / "files"


async def test_an_upload_round_trips_byte_for_byte(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    sha = hashlib.sha256(PDF).hexdigest()

    created = await upload(
        client, user.headers, PDF, "CoA lot 7.pdf", entity_type="purchasing.order", entity_id=7, description=" CoA "
    )

    assert created.status_code == 201, created.text
    body = created.json()
    uploaded_at = body.pop("uploaded_at")
    assert body == {
        "id": body["id"],
        "filename": "CoA lot 7.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": sha,
        "entity_type": "purchasing.order",
        "entity_id": 7,
        "description": "CoA",
        "uploaded_by_id": user.id,
        "content_url": f"/api/files/{body['id']}/content",
    }
    assert uploaded_at.endswith("Z") or uploaded_at.endswith("+00:00")
    assert on_disk(_store(settings)) == [blob_path(sha)]
    assert (_store(settings) / blob_path(sha)).read_bytes() == PDF

    downloaded = await client.get(body["content_url"], headers=user.headers)

    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == PDF
    assert downloaded.headers["content-type"] == "application/pdf"
    assert downloaded.headers["content-length"] == str(len(PDF))
    assert downloaded.headers["content-disposition"] == (
        "attachment; filename=\"CoA lot 7.pdf\"; filename*=UTF-8''CoA%20lot%207.pdf"
    )
    assert downloaded.headers["x-content-type-options"] == "nosniff"
    assert downloaded.headers["etag"] == f'"{sha}"'
    assert downloaded.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert downloaded.headers["cache-control"] == "no-store"


async def test_metadata_is_read_back_as_uploaded(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    created = (await upload(client, user.headers, TEXT, "notes.txt")).json()

    response = await client.get(f"/api/files/{created['id']}", headers=user.headers)

    assert response.status_code == 200, response.text
    assert response.json() == created


async def test_an_unchanged_file_answers_304_to_its_etag(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    created = (await upload(client, user.headers, PDF)).json()
    etag = f'"{created["sha256"]}"'

    cached = await client.get(created["content_url"], headers={**user.headers, "If-None-Match": f'"other", {etag}'})
    stale = await client.get(created["content_url"], headers={**user.headers, "If-None-Match": '"other"'})

    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert stale.status_code == 200
    assert stale.content == PDF


async def test_the_type_comes_from_the_bytes_not_from_the_client(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    samples = [
        (png(), "label.png", "image/png"),
        (xlsx(), "stock.xlsx", XLSX_TYPE),
        (docx(), "sop.docx", DOCX_TYPE),
        (CSV, "stock.csv", "text/csv"),
        (PDF, "no-extension", "application/pdf"),
    ]

    for content, filename, content_type in samples:
        # The declared type is a lie every time; only the bytes count.
        response = await upload(client, user.headers, content, filename, declared_type="text/html")

        assert response.status_code == 201, (filename, response.text)
        assert (response.json()["filename"], response.json()["content_type"]) == (filename, content_type)
        downloaded = await client.get(response.json()["content_url"], headers=user.headers)
        assert downloaded.headers["content-type"] == content_type
        assert downloaded.content == content


async def test_refused_types_store_nothing(client: httpx.AsyncClient, database: Database, settings: Settings) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    audit_before = await entry_count(database)
    refused = [
        (ELF, "tool.pdf", "file.type_not_allowed", "application/octet-stream"),
        (HTML, "invoice.pdf", "file.type_not_allowed", "text/html"),
        (SVG, "logo.png", "file.type_not_allowed", "image/svg+xml"),
        (PDF, "invoice.exe", "file.type_mismatch", "application/pdf"),
        (TEXT, "report.pdf", "file.type_mismatch", "text/plain"),
    ]

    for content, filename, code, content_type in refused:
        response = await upload(client, user.headers, content, filename, declared_type="application/pdf")

        assert response.status_code == 415, (filename, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert (response.json()["code"], response.json()["details"]["content_type"]) == (code, content_type)

    assert await counts(database) == (0, 0)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == []


async def test_an_empty_file_is_refused(client: httpx.AsyncClient, database: Database, settings: Settings) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    audit_before = await entry_count(database)

    response = await upload(client, user.headers, b"", "empty.txt")

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "file.empty"
    assert await counts(database) == (0, 0)
    assert await entry_count(database) == audit_before
    assert on_disk(_store(settings)) == []


async def test_file_names_are_cleaned(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    names = [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\fakepath\\Lot 7.txt", "Lot 7.txt"),
        ("bad\x00na\x1bme\x7f.txt", "badname.txt"),
        ('say "hi" <now>?.txt', "say _hi_ _now__.txt"),
        ("/..//", "file"),
    ]

    for sent, stored in names:
        # Sent raw: httpx would percent-encode the control characters and quotes.
        response = await raw_upload(client, user.headers, sent, TEXT)

        assert response.status_code == 201, (sent, response.text)
        assert response.json()["filename"] == stored


async def test_a_bidi_override_cannot_disguise_an_extension(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)

    # Displayed as "invoiceexe.txt"; without the override character it ends in ".exe".
    response = await raw_upload(client, user.headers, "invoice\u202etxt.exe", TEXT)

    assert response.status_code == 415, response.text
    assert response.json()["code"] == "file.type_mismatch"
    assert response.json()["details"]["extension"] == ".exe"
    assert await counts(database) == (0, 0)


async def test_a_non_ascii_name_is_sent_back_in_both_forms(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    created = (await upload(client, user.headers, TEXT, "Ofertă preț.txt")).json()

    response = await client.get(created["content_url"], headers=user.headers)

    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Ofert_ pre_.txt\"; filename*=UTF-8''Ofert%C4%83%20pre%C8%9B.txt"
    )


async def test_the_same_bytes_are_stored_once(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    sha = hashlib.sha256(CSV).hexdigest()

    first = await upload(client, user.headers, CSV, "stock.csv", entity_type="stock.item", entity_id=1)
    second = await upload(client, user.headers, CSV, "copy.txt", entity_type="stock.item", entity_id=2)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert (first.json()["content_type"], second.json()["content_type"]) == ("text/csv", "text/plain")
    assert await counts(database) == (2, 1)
    assert await ref_counts(database) == {sha: 2}
    assert on_disk(_store(settings)) == [blob_path(sha)]
    for created in (first, second):
        downloaded = await client.get(created.json()["content_url"], headers=user.headers)
        assert downloaded.content == CSV
        assert downloaded.headers["content-type"] == created.json()["content_type"]


async def test_uploads_are_audited_without_their_bytes(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=UPLOAD)
    marker = "CONFIDENTIAL-RECIPE-7f3a9c"
    content = f"Formula {marker}\n".encode()

    created = await client.post(
        "/api/files",
        files={"file": ("recipe.txt", content, "text/plain")},
        headers={**user.headers, "X-Change-Reason": "batch record"},
    )

    assert created.status_code == 201, created.text
    [blob_entry] = await entries(database, action="file_blob.create")
    [record_entry] = await entries(database, action="file_record.create")
    assert blob_entry["changes"]["after"]["ref_count"] == 1
    assert record_entry["changes"]["after"]["filename"] == "recipe.txt"
    assert record_entry["changes"]["after"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert (record_entry["actor_username"], record_entry["reason"]) == ("qa", "batch record")
    everything = json.dumps(await entries(database), default=str)
    assert marker not in everything
