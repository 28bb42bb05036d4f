"""Where the bytes live: the `BlobStore` protocol and the local-disk store under the data directory.

Blobs are named by their SHA-256, so writing is idempotent: the same bytes always land at the same
name, and a blob left behind by a transaction that rolled back is simply reused by the next upload.
Another backend (object storage) implements the same four methods.
"""

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio.to_thread

CHUNK_BYTES = 256 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobMissing(LookupError):
    """The store holds no bytes under that hash."""


class BlobCorrupted(ValueError):
    """The bytes given to `put` do not hash to the name they were given."""


class BlobStore(Protocol):
    async def put(self, sha256: str, source: BinaryIO) -> bool:
        """Store the bytes of `source` (read from its start) as `sha256`; False when already there."""
        ...

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        """The bytes, in chunks; opened now, so a later delete does not cut the stream short.

        Raises: BlobMissing.
        """
        ...

    async def read(self, sha256: str) -> bytes:
        """The whole content. Raises: BlobMissing."""
        ...

    async def delete(self, sha256: str) -> bool:
        """Remove the bytes; False when they were not there."""
        ...


def _checked(sha256: str) -> str:
    # The hash becomes a path: anything but 64 lowercase hex digits could walk out of the root.
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    """Blobs as files `<root>/ab/cd/<sha256>`, written to a temporary file and renamed into place."""

    def __init__(self, root: Path) -> None:
        # Nothing is created here: `depotflow openapi` builds the app without touching the disk.
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        digest = _checked(sha256)
        return self.root / digest[:2] / digest[2:4] / digest

    async def put(self, sha256: str, source: BinaryIO) -> bool:
        return await anyio.to_thread.run_sync(self._put, sha256, source)

    def _put(self, sha256: str, source: BinaryIO) -> bool:
        final = self.path_of(sha256)
        size = source.seek(0, os.SEEK_END)
        if final.is_file() and final.stat().st_size == size:
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                source.seek(0)
                while chunk := source.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise BlobCorrupted(f"the content hashes to {digest.hexdigest()}, not {sha256}")
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        finally:
            source.seek(0)
        _fsync_dir(final.parent)
        return True

    async def open(self, sha256: str) -> AsyncIterator[bytes]:
        path = self.path_of(sha256)
        try:
            handle = await anyio.to_thread.run_sync(path.open, "rb")
        except FileNotFoundError:
            raise BlobMissing(sha256) from None
        return _chunks(handle)

    async def read(self, sha256: str) -> bytes:
        path = self.path_of(sha256)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            raise BlobMissing(sha256) from None

    async def delete(self, sha256: str) -> bool:
        return await anyio.to_thread.run_sync(self._delete, sha256)

    def _delete(self, sha256: str) -> bool:
        path = self.path_of(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()
