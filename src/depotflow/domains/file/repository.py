"""SQL of the file domain."""

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import ColumnLike, Listing, SortField
from depotflow.domains.file.models import FileBlob, FileRecord
from depotflow.domains.file.schemas import FileFilter

SORTABLE: dict[str, ColumnLike] = {
    "filename": FileRecord.filename,
    "uploaded_at": FileRecord.uploaded_at,
    "size": FileRecord.size,
    "content_type": FileRecord.content_type,
}
SEARCHABLE: Sequence[ColumnLike] = (FileRecord.filename,)
LISTING = Listing(
    sortable=SORTABLE, pk=FileRecord.id, default_sort=[SortField("uploaded_at", descending=True)], searchable=SEARCHABLE
)


def select_live_files(f: FileFilter) -> Select[FileRecord]:
    """Records not deleted, narrowed by what they are attached to."""
    stmt = select(FileRecord).where(FileRecord.deleted_at.is_(None))
    if f.entity_type is not None:
        stmt = stmt.where(FileRecord.entity_type == f.entity_type)
    if f.entity_id is not None:
        stmt = stmt.where(FileRecord.entity_id == f.entity_id)
    return stmt


async def find_live_file(session: AsyncSession, file_id: int) -> FileRecord | None:
    stmt = select(FileRecord).where(FileRecord.id == file_id, FileRecord.deleted_at.is_(None))
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_blob(session: AsyncSession, blob_id: int) -> FileBlob | None:
    return await session.get(FileBlob, blob_id)


async def find_blob_by_sha(session: AsyncSession, sha256: str) -> FileBlob | None:
    return (await session.execute(select(FileBlob).where(FileBlob.sha256 == sha256))).scalar_one_or_none()
