"""Native routes of the file store: /api/files (upload, list, metadata, download, delete)."""

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from depotflow.core.security import Actor
from depotflow.domains.file import permissions
from depotflow.domains.file import service as file_service
from depotflow.domains.file.schemas import ENTITY_TYPE_PATTERN, MAX_ID, FileFilter, FileRead
from depotflow.domains.file.storage import BlobStore
from depotflow.web.deps import ListEnvelope, ListParamsDep, SessionDep, SettingsDep, envelope, require

Viewer = Annotated[Actor, Depends(require(permissions.VIEW))]
Uploader = Annotated[Actor, Depends(require(permissions.UPLOAD))]
Deleter = Annotated[Actor, Depends(require(permissions.DELETE))]
PathId = Annotated[int, Path(gt=0, le=MAX_ID)]


async def get_blob_store(request: Request) -> BlobStore:
    store: BlobStore = request.app.state.blob_store
    return store


BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]

router = APIRouter(prefix="/api/files", tags=["files"])

BINARY_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, with the content type sniffed at upload.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    304: {"description": "Not modified: `If-None-Match` names the file's ETag (its SHA-256)."},
}


def etag_of(sha256: str) -> str:
    return f'"{sha256}"'


def content_disposition(filename: str) -> str:
    """`attachment`, with an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.post("", response_model=FileRead, status_code=status.HTTP_201_CREATED)
async def upload_file(
    file: Annotated[UploadFile, File(description="The file; its type is sniffed from the bytes")],
    actor: Uploader,
    session: SessionDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    entity_type: Annotated[str | None, Form(min_length=1, max_length=100, pattern=ENTITY_TYPE_PATTERN)] = None,
    entity_id: Annotated[int | None, Form(gt=0, le=MAX_ID)] = None,
    description: Annotated[str, Form(max_length=2000)] = "",
) -> FileRead:
    """Upload a file (multipart `file`), optionally attached to an entity (`entity_type` + `entity_id`).

    Identical bytes are stored once. Refused: empty files, files above the upload limit (413), types
    outside the allow-list and names whose extension contradicts the bytes (415).
    """
    record = await file_service.upload_file(
        session,
        actor,
        store,
        source=file.file,
        filename=file.filename,
        limits=settings.storage,
        entity_type=entity_type,
        entity_id=entity_id,
        description=description.strip(),
    )
    return file_service.file_read(record)


@router.get("", response_model=ListEnvelope[FileRead])
async def list_files(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[FileFilter, Query()]
) -> ListEnvelope[FileRead]:
    """Stored files (deleted ones are left out). Filters: entity_type, entity_id; search: file name.
    Sortable: filename, uploaded_at, size, content_type (default: newest first)."""
    page = await file_service.list_files(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [file_service.file_read(record) for record in page.items])


@router.get("/{file_id}", response_model=FileRead)
async def get_file(file_id: PathId, actor: Viewer, session: SessionDep) -> FileRead:
    """One file's metadata."""
    return file_service.file_read(await file_service.get_file(session, file_id))


@router.get("/{file_id}/content", response_class=Response, responses=BINARY_RESPONSE)
async def download_file(
    file_id: PathId, request: Request, actor: Viewer, session: SessionDep, store: BlobStoreDep
) -> Response:
    """Download the bytes, always as an attachment, with the stored content type and `nosniff`."""
    record = await file_service.get_file(session, file_id)
    etag = etag_of(record.sha256)
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    chunks = await file_service.open_content(store, record)
    return StreamingResponse(
        chunks,
        headers={
            "Content-Type": record.content_type,
            "Content-Length": str(record.size),
            "Content-Disposition": content_disposition(record.filename),
            "X-Content-Type-Options": "nosniff",
            "ETag": etag,
            # Never rendered as a page, even if a browser were talked into displaying it.
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_file(
    file_id: PathId, request: Request, actor: Deleter, session: SessionDep, store: BlobStoreDep
) -> Response:
    """Delete a file: the record is kept (marked deleted); bytes no other record uses are removed."""
    unused = await file_service.delete_file(session, actor, file_id=file_id)
    task = BackgroundTask(file_service.collect_after_commit, request.app.state.db, store, unused) if unused else None
    return Response(status_code=status.HTTP_204_NO_CONTENT, background=task)
