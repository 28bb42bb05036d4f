"""Deleting: records are kept and marked, bytes are counted and removed only when no live record uses them."""

import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.core.settings import Settings
from depotflow.domains.file import service as file_service
from depotflow.domains.file.storage import BlobStore
from tests.conftest import system_context
from tests.factories.audit import entries, entry_count
from tests.factories.file import CSV, PDF, TEXT, blob_path, counts, on_disk, record, ref_counts, upload
from tests.factories.identity import MadeUser, make_user

pytestmark = pytest.mark.anyio

EVERYTHING = ["file.upload", "file.view", "file.delete"]


def _store(settings: Settings) -> Path:
    return settings.data_dir / "files"


def _actor(user: MadeUser) -> Actor:
    return Actor(user_id=user.id, username=user.username, permissions=frozenset(EVERYTHING))


class Boom(Exception):
    """Fails a unit of work after the service call succeeded."""


async def test_a_deleted_record_is_kept_but_no_longer_served(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    created = (await upload(client, user.headers, PDF, "coa.pdf")).json()
    audit_before = await entry_count(database)

    deleted = await client.delete(f"/api/files/{created['id']}", headers=user.headers)

    assert deleted.status_code == 204, deleted.text
    assert deleted.content == b""
    for url in (f"/api/files/{created['id']}", created["content_url"]):
        response = await client.get(url, headers=user.headers)
        assert response.status_code == 404, url
        assert response.json()["code"] == "file.not_found"
    listed = await client.get("/api/files", headers=user.headers)
    assert (listed.json()["items"], listed.json()["total"]) == ([], 0)
    kept = await record(database, created["id"])
    assert (kept.filename, kept.sha256, kept.deleted_by_id) == ("coa.pdf", created["sha256"], user.id)
    assert kept.deleted_at is not None
    assert await counts(database) == (1, 1)
    assert await ref_counts(database) == {created["sha256"]: 0}
    assert on_disk(_store(settings)) == []
    updates = await entries(database, action="file_record.update")
    assert [(e["entity_id"], sorted(e["changes"]["after"]), e["actor_username"]) for e in updates] == [
        (str(created["id"]), ["deleted_at", "deleted_by_id"], "qa")
    ]
    [blob_update] = await entries(database, action="file_blob.update")
    assert blob_update["changes"] == {"before": {"ref_count": 1}, "after": {"ref_count": 0}}
    assert await entry_count(database) == audit_before + 2


async def test_bytes_stay_until_the_last_record_using_them_is_deleted(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    sha = hashlib.sha256(CSV).hexdigest()
    first = (await upload(client, user.headers, CSV, "stock.csv")).json()
    second = (await upload(client, user.headers, CSV, "stock copy.csv")).json()
    assert await ref_counts(database) == {sha: 2}

    await client.delete(f"/api/files/{first['id']}", headers=user.headers)

    assert await ref_counts(database) == {sha: 1}
    assert on_disk(_store(settings)) == [blob_path(sha)]
    assert (await client.get(second["content_url"], headers=user.headers)).content == CSV

    await client.delete(f"/api/files/{second['id']}", headers=user.headers)

    assert await ref_counts(database) == {sha: 0}
    assert on_disk(_store(settings)) == []
    assert await counts(database) == (2, 1)


async def test_other_content_is_untouched_by_a_delete(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    pdf = (await upload(client, user.headers, PDF, "coa.pdf")).json()
    text = (await upload(client, user.headers, TEXT, "notes.txt")).json()

    await client.delete(f"/api/files/{pdf['id']}", headers=user.headers)

    assert on_disk(_store(settings)) == [blob_path(text["sha256"])]
    assert (await client.get(text["content_url"], headers=user.headers)).content == TEXT


async def test_deleting_twice_answers_404_and_changes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    created = (await upload(client, user.headers, PDF)).json()
    await client.delete(f"/api/files/{created['id']}", headers=user.headers)
    audit_before = await entry_count(database)

    again = await client.delete(f"/api/files/{created['id']}", headers=user.headers)

    assert again.status_code == 404, again.text
    assert again.json()["code"] == "file.not_found"
    assert await ref_counts(database) == {created["sha256"]: 0}
    assert await entry_count(database) == audit_before


async def test_bytes_uploaded_again_after_removal_are_stored_again(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    first = (await upload(client, user.headers, PDF)).json()
    await client.delete(f"/api/files/{first['id']}", headers=user.headers)
    assert on_disk(_store(settings)) == []

    second = await upload(client, user.headers, PDF, "again.pdf")

    assert second.status_code == 201, second.text
    assert await counts(database) == (2, 1)
    assert await ref_counts(database) == {first["sha256"]: 1}
    assert on_disk(_store(settings)) == [blob_path(first["sha256"])]
    assert (await client.get(second.json()["content_url"], headers=user.headers)).content == PDF


async def test_a_rolled_back_delete_leaves_the_bytes_on_disk(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    store: BlobStore = app.state.blob_store
    created = (await upload(client, user.headers, PDF)).json()
    audit_before = await entry_count(database)
    unused: list[str | None] = []

    async def delete_then_fail() -> None:
        async with database.unit_of_work(system_context()) as session:
            unused.append(await file_service.delete_file(session, _actor(user), file_id=created["id"]))
            raise Boom

    with pytest.raises(Boom):
        await delete_then_fail()

    assert unused == [created["sha256"]]
    # Collecting what the rolled-back delete released finds the bytes still in use.
    assert await file_service.collect_blob(database, store, created["sha256"]) is False
    assert on_disk(_store(settings)) == [blob_path(created["sha256"])]
    assert await ref_counts(database) == {created["sha256"]: 1}
    assert (await record(database, created["id"])).deleted_at is None
    assert await entry_count(database) == audit_before
    assert (await client.get(created["content_url"], headers=user.headers)).content == PDF


async def test_bytes_uploaded_again_before_collection_are_kept(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    store: BlobStore = app.state.blob_store
    first = (await upload(client, user.headers, PDF)).json()
    async with database.unit_of_work(system_context()) as session:
        unused = await file_service.delete_file(session, _actor(user), file_id=first["id"])
    assert unused == first["sha256"]

    # The same content arrives between the delete's commit and the removal of its bytes.
    second = (await upload(client, user.headers, PDF, "again.pdf")).json()
    removed = await file_service.collect_blob(database, store, first["sha256"])

    assert removed is False
    assert on_disk(_store(settings)) == [blob_path(first["sha256"])]
    assert (await client.get(second["content_url"], headers=user.headers)).content == PDF


async def test_a_failed_upload_leaves_no_record_and_the_same_bytes_upload_later(
    client: httpx.AsyncClient, app: FastAPI, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=EVERYTHING)
    store: BlobStore = app.state.blob_store
    sha = hashlib.sha256(PDF).hexdigest()
    audit_before = await entry_count(database)

    async def upload_then_fail() -> None:
        async with database.unit_of_work(system_context()) as session:
            with (settings.data_dir / "upload.pdf").open("w+b") as source:
                source.write(PDF)
                await file_service.upload_file(
                    session, _actor(user), store, source=source, filename="coa.pdf", limits=settings.storage
                )
            raise Boom

    with pytest.raises(Boom):
        await upload_then_fail()

    assert await counts(database) == (0, 0)
    assert await entry_count(database) == audit_before
    # The bytes were written before the commit that never came; the next upload reuses them.
    assert on_disk(_store(settings)) == [blob_path(sha)]

    retried = await upload(client, user.headers, PDF, "coa.pdf")

    assert retried.status_code == 201, retried.text
    assert await counts(database) == (1, 1)
    assert await ref_counts(database) == {sha: 1}
    assert on_disk(_store(settings)) == [blob_path(sha)]
    assert (await client.get(retried.json()["content_url"], headers=user.headers)).content == PDF
