"""File use cases: upload (sniffed, deduplicated), list, read, download, delete; the public surface.

Concurrency: every write here first takes the audit chain's head lock (`audit_service.lock_chain`),
and so does the removal of unused bytes. Reading a blob's row, writing its bytes and changing its
reference count therefore never interleave with a removal: bytes an upload relies on are never
deleted from under it.

Deleting a record returns the hash of bytes no live record uses any more; the caller hands it to
`collect_blob` once its transaction has committed (the router does so after the response).
"""

import logging
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.db import Database
from depotflow.core.errors import FieldError
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.core.settings import StorageSettings
from depotflow.domains.audit import service as audit_service
from depotflow.domains.file import policy
from depotflow.domains.file import repository as file_repo
from depotflow.domains.file.errors import ContentMissing, FileNotFound, InvalidAttachment
from depotflow.domains.file.models import FileBlob, FileRecord
from depotflow.domains.file.schemas import FileFilter, FileRead
from depotflow.domains.file.storage import BlobMissing, BlobStore

log = logging.getLogger("depotflow.file")


def file_read(record: FileRecord) -> FileRead:
    return FileRead(
        id=record.id,
        filename=record.filename,
        content_type=record.content_type,
        size=record.size,
        sha256=record.sha256,
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        description=record.description,
        uploaded_by_id=record.uploaded_by_id,
        uploaded_at=record.uploaded_at,
        content_url=f"/api/files/{record.id}/content",
    )


async def find_live_file(session: AsyncSession, file_id: int) -> FileRecord | None:
    """A live (not deleted) record, or None."""
    return await file_repo.find_live_file(session, file_id)


async def get_file(session: AsyncSession, file_id: int) -> FileRecord:
    """A live (not deleted) record. Raises: FileNotFound."""
    record = await file_repo.find_live_file(session, file_id)
    if record is None:
        raise FileNotFound(f"File {file_id} does not exist.", details={"file_id": file_id})
    return record


async def list_files(
    session: AsyncSession, /, *, filters: FileFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[FileRecord]:
    """Live records, newest first unless sorted otherwise; search matches the file name."""
    return await file_repo.LISTING.fetch(session, file_repo.select_live_files(filters), page, sort=sort, search=search)


async def upload_file(
    session: AsyncSession,
    actor: Actor,
    store: BlobStore,
    /,
    *,
    source: BinaryIO,
    filename: str | None,
    limits: StorageSettings,
    entity_type: str | None = None,
    entity_id: int | None = None,
    description: str = "",
) -> FileRecord:
    """Store an upload: bytes once per distinct content, one record per upload.

    Raises: InvalidAttachment, FileTooLarge, EmptyFile, TypeNotAllowed, TypeMismatch.
    """
    if (entity_type is None) != (entity_id is None):
        missing = "entity_id" if entity_id is None else "entity_type"
        raise InvalidAttachment(
            "A file is attached to an entity by both entity_type and entity_id, or by neither.",
            fields=[FieldError(("body", missing), "missing", "required with the other entity field")],
        )
    inspection = await anyio.to_thread.run_sync(
        lambda: policy.inspect_upload(source, filename, max_bytes=limits.max_upload_bytes, allowed=limits.allowed_types)
    )
    await audit_service.lock_chain(session)
    blob = await file_repo.find_blob_by_sha(session, inspection.sha256)
    # Written before the commit, so committed records always have their bytes; should the
    # transaction fail, the file is left for the next upload of the same content to reuse.
    await store.put(inspection.sha256, source)
    if blob is None:
        blob = FileBlob(
            sha256=inspection.sha256, size=inspection.size, content_type=inspection.content_type, ref_count=1
        )
        session.add(blob)
        await session.flush()
    else:
        blob.ref_count += 1
    record = FileRecord(
        blob_id=blob.id,
        filename=inspection.filename,
        content_type=inspection.content_type,
        size=inspection.size,
        sha256=inspection.sha256,
        uploaded_by_id=actor.user_id,
        uploaded_at=utcnow(),
        entity_type=entity_type,
        entity_id=entity_id,
        description=description,
    )
    session.add(record)
    await session.flush()
    return record


async def open_content(store: BlobStore, record: FileRecord) -> AsyncIterator[bytes]:
    """The record's bytes, opened now: the stream survives a delete that commits meanwhile.

    Raises: ContentMissing.
    """
    try:
        return await store.open(record.sha256)
    except BlobMissing:
        raise ContentMissing(
            f"The content of file {record.id} is missing from the store.", details={"file_id": record.id}
        ) from None


async def delete_file(session: AsyncSession, actor: Actor, /, *, file_id: int) -> str | None:
    """Mark a record deleted and release its bytes; the record itself is kept.

    Returns the SHA-256 of bytes no live record uses any more: pass it to `collect_blob` after the
    commit. Raises: FileNotFound.
    """
    await audit_service.lock_chain(session)
    record = await get_file(session, file_id)
    record.deleted_at = utcnow()
    record.deleted_by_id = actor.user_id
    blob = await file_repo.find_blob(session, record.blob_id)
    assert blob is not None  # a foreign key
    blob.ref_count = max(blob.ref_count - 1, 0)
    await session.flush()
    return blob.sha256 if blob.ref_count == 0 else None


async def collect_blob(database: Database, store: BlobStore, sha256: str) -> bool:
    """Remove the bytes of `sha256` if no live record uses them (checked now, under the lock).

    Safe to call at any time and more than once: after a rollback, or when an upload of the same
    content came in between, the bytes are still used and stay. True when bytes were removed.
    """
    async with database.session(write=True) as session:
        await audit_service.lock_chain(session)
        blob = await file_repo.find_blob_by_sha(session, sha256)
        if blob is not None and blob.ref_count > 0:
            return False
        return await store.delete(sha256)


async def collect_after_commit(database: Database, store: BlobStore, sha256: str) -> None:
    """`collect_blob` for a background task after the response: the deletion has committed; a
    failure only leaves unused bytes behind, so it is logged, not raised."""
    try:
        await collect_blob(database, store, sha256)
    except Exception:
        log.exception("file.collect_failed", extra={"sha256": sha256})
