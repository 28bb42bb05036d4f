"""Parallel uploads and deletes of the same bytes keep one blob, an exact count and the bytes when used."""

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.settings import Settings
from tests.factories.file import PDF, blob_path, counts, on_disk, ref_counts, upload
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

PARALLEL = 8
SHA = hashlib.sha256(PDF).hexdigest()


def _store(settings: Settings) -> Path:
    return settings.data_dir / "files"


async def test_parallel_uploads_of_the_same_bytes_share_one_blob(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=["file.upload"])

    responses = await asyncio.gather(*(upload(client, user.headers, PDF, f"copy {i}.pdf") for i in range(PARALLEL)))

    assert [r.status_code for r in responses] == [201] * PARALLEL, [r.text for r in responses]
    assert await counts(database) == (PARALLEL, 1)
    assert await ref_counts(database) == {SHA: PARALLEL}
    assert on_disk(_store(settings)) == [blob_path(SHA)]


async def test_parallel_uploads_and_deletes_keep_the_bytes_exactly_while_used(
    client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    user = await make_user(database, username="qa", permissions=["file.upload", "file.view", "file.delete"])
    existing = [(await upload(client, user.headers, PDF, f"old {i}.pdf")).json() for i in range(PARALLEL)]

    # Every old record goes while as many new ones arrive: the count passes through zero in some orders.
    responses = await asyncio.gather(
        *(client.delete(f"/api/files/{f['id']}", headers=user.headers) for f in existing),
        *(upload(client, user.headers, PDF, f"new {i}.pdf") for i in range(PARALLEL)),
    )

    assert sorted(r.status_code for r in responses) == [201] * PARALLEL + [204] * PARALLEL
    assert await ref_counts(database) == {SHA: PARALLEL}
    assert on_disk(_store(settings)) == [blob_path(SHA)]
    for created in responses[PARALLEL:]:
        assert (await client.get(created.json()["content_url"], headers=user.headers)).content == PDF
