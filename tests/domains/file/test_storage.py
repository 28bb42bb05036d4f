"""The local blob store: content-addressed layout, atomic and idempotent writes, streams that survive deletes."""

import hashlib
import io
from pathlib import Path

import pytest

from depotflow.domains.file.storage import CHUNK_BYTES, BlobCorrupted, BlobMissing, LocalBlobStore
from tests.factories.file import PDF, blob_path, on_disk

pytestmark = pytest.mark.anyio

SHA = hashlib.sha256(PDF).hexdigest()


async def test_nothing_is_created_before_the_first_write(tmp_path: Path) -> None:
    LocalBlobStore(tmp_path / "files")

    assert not (tmp_path / "files").exists()


async def test_bytes_are_written_once_under_their_hash(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")

    first = await store.put(SHA, io.BytesIO(PDF))
    second = await store.put(SHA, io.BytesIO(PDF))

    assert (first, second) == (True, False)
    assert on_disk(tmp_path / "files") == [blob_path(SHA)]
    assert store.path_of(SHA) == tmp_path / "files" / SHA[:2] / SHA[2:4] / SHA
    assert await store.read(SHA) == PDF


async def test_a_partial_file_under_the_name_is_replaced(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")
    store.path_of(SHA).parent.mkdir(parents=True)
    store.path_of(SHA).write_bytes(PDF[:10])

    rewritten = await store.put(SHA, io.BytesIO(PDF))

    assert rewritten is True
    assert await store.read(SHA) == PDF
    assert on_disk(tmp_path / "files") == [blob_path(SHA)]


async def test_bytes_that_do_not_match_their_name_are_not_stored(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")

    with pytest.raises(BlobCorrupted):
        await store.put(SHA, io.BytesIO(PDF + b"tampered"))

    assert on_disk(tmp_path / "files") == []


async def test_a_stream_opened_before_a_delete_still_reads_everything(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")
    content = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 3)
    sha = hashlib.sha256(content).hexdigest()
    await store.put(sha, io.BytesIO(content))

    chunks = await store.open(sha)
    deleted = await store.delete(sha)
    received = b"".join([chunk async for chunk in chunks])

    assert deleted is True
    assert received == content
    assert on_disk(tmp_path / "files") == []


async def test_missing_bytes_raise_blob_missing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")

    with pytest.raises(BlobMissing):
        await store.read(SHA)
    with pytest.raises(BlobMissing):
        await store.open(SHA)
    assert await store.delete(SHA) is False


@pytest.mark.parametrize("name", ["../../etc/passwd", SHA.upper(), SHA[:-1], SHA + "0", "", f"{SHA[:62]}/x"])
async def test_only_sha256_digests_name_blobs(tmp_path: Path, name: str) -> None:
    store = LocalBlobStore(tmp_path / "files")

    with pytest.raises(ValueError, match="not a SHA-256 hex digest"):
        await store.put(name, io.BytesIO(PDF))
    with pytest.raises(ValueError, match="not a SHA-256 hex digest"):
        await store.delete(name)

    assert not (tmp_path / "files").exists()
