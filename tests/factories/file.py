"""Sample files of every accepted type (and some refused ones), uploads, and what the store holds."""

import io
import struct
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from sqlalchemy import func, select

from depotflow.core.db import Database
from depotflow.domains.file.models import FileBlob, FileRecord

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00" + b"\x00" * 14
TEXT = "Batch 2026-11 released by QA.\nTemperature log attached: 4.2 °C.\n".encode()
CSV = b"lot,quantity,unit\nL-001,12.5,kg\nL-002,3,pcs\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00>\x00\x01\x00\x00\x00" + b"\x00" * 40
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
        + chunk(b"IEND", b"")
    )


def zip_of(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def xlsx() -> bytes:
    buffer = io.BytesIO()
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "lot"
    workbook.save(buffer)
    return buffer.getvalue()


def docx() -> bytes:
    return zip_of({"[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>"})


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    filename: str = "report.pdf",
    *,
    declared_type: str = "application/octet-stream",
    **form: Any,
) -> httpx.Response:
    """POST /api/files with `content` as the multipart `file` and `form` as the other fields."""
    return await client.post(
        "/api/files",
        files={"file": (filename, content, declared_type)},
        data={key: str(value) for key, value in form.items()},
        headers=headers,
    )


async def counts(db: Database) -> tuple[int, int]:
    """(file records, blobs), deleted records included."""
    async with db.session(write=False) as session:
        records = (await session.execute(select(func.count()).select_from(FileRecord))).scalar_one()
        blobs = (await session.execute(select(func.count()).select_from(FileBlob))).scalar_one()
    return int(records), int(blobs)


async def ref_counts(db: Database) -> dict[str, int]:
    """{sha256: ref_count} of every blob."""
    async with db.session(write=False) as session:
        return {sha: count for sha, count in (await session.execute(select(FileBlob.sha256, FileBlob.ref_count)))}


async def record(db: Database, file_id: int) -> FileRecord:
    async with db.session(write=False) as session:
        found = await session.get(FileRecord, file_id)
    assert found is not None
    return found


def on_disk(root: Path) -> list[str]:
    """Every file under the store's root (temporary files included), relative to it."""
    if not root.exists():
        return []
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def blob_path(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


async def raw_upload(
    client: httpx.AsyncClient, headers: dict[str, str], filename: str, content: bytes
) -> httpx.Response:
    """An upload whose file name goes on the wire as UTF-8, unescaped (httpx would percent-encode controls)."""
    boundary = b"depotflow-test-boundary"
    escaped = filename.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + escaped + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n"
    )
    return await client.post(
        "/api/files",
        content=body,
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
