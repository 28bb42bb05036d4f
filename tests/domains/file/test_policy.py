"""Accepting a file without I/O: sniffed types, extensions that contradict the bytes, size, names."""

import hashlib
import io

import pytest

from depotflow.core.errors import DepotflowError
from depotflow.core.settings import DEFAULT_ALLOWED_TYPES
from depotflow.domains.file.errors import EmptyFile, FileTooLarge, TypeMismatch, TypeNotAllowed
from depotflow.domains.file.policy import MAX_FILENAME, Inspection, clean_filename, inspect_upload
from tests.factories.file import (
    CSV,
    DOCX_TYPE,
    ELF,
    GIF,
    HTML,
    JPEG,
    PDF,
    SVG,
    TEXT,
    WEBP,
    XLSX_TYPE,
    docx,
    png,
    xlsx,
    zip_of,
)

pytestmark = pytest.mark.anyio

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
ZIP = zip_of({"a.txt": "a"})
PPTX = zip_of({"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>"})


def _case_id(value: object) -> str:
    if isinstance(value, bytes):
        # Not the length: a generated workbook carries the time it was saved, and pytest-xdist
        # workers must collect the same ids.
        return "bytes"
    return value.__name__ if isinstance(value, type) else str(value)


def _inspect(content: bytes, filename: str | None, *, max_bytes: int = 1_000_000) -> Inspection:
    return inspect_upload(io.BytesIO(content), filename, max_bytes=max_bytes, allowed=DEFAULT_ALLOWED_TYPES)


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (PDF, "coa.pdf", "application/pdf"),
        (png(), "label.png", "image/png"),
        (JPEG, "photo.JPG", "image/jpeg"),
        (JPEG, "photo.jpeg", "image/jpeg"),
        (GIF, "anim.gif", "image/gif"),
        (WEBP, "scan.webp", "image/webp"),
        (TEXT, "readme.txt", "text/plain"),
        (TEXT, "readme", "text/plain"),
        ("Preţ;Cantitate\n12,5;3\n".encode("cp1250"), "export.csv", "text/csv"),
        (CSV, "stock.csv", "text/csv"),
        (CSV, "stock.txt", "text/plain"),
        (b"BMW;320i\n", "cars.csv", "text/csv"),
        (xlsx(), "stock.xlsx", XLSX_TYPE),
        (docx(), "sop.docx", DOCX_TYPE),
        (docx(), "sop", DOCX_TYPE),
        (docx(), "sop.zip", "application/zip"),
        (ZIP, "bundle.zip", "application/zip"),
    ],
    ids=_case_id,
)
def test_allowed_types_are_recognised_from_their_bytes(content: bytes, filename: str, content_type: str) -> None:
    inspection = _inspect(content, filename)

    assert inspection == Inspection(
        sha256=hashlib.sha256(content).hexdigest(), size=len(content), content_type=content_type, filename=filename
    )


@pytest.mark.parametrize(
    ("content", "filename", "error", "content_type"),
    [
        (ELF, "tool", TypeNotAllowed, "application/octet-stream"),
        (ELF, "tool.txt", TypeNotAllowed, "application/octet-stream"),
        (EXE, "setup.pdf", TypeNotAllowed, "application/octet-stream"),
        (HTML, "page.txt", TypeNotAllowed, "text/html"),
        (b"\xef\xbb\xbf  <div onclick='steal()'>hi</div>", "notes.txt", TypeNotAllowed, "text/html"),
        (b"<?xml version='1.0'?><x/>", "data.txt", TypeNotAllowed, "application/xml"),
        (SVG, "logo.png", TypeNotAllowed, "image/svg+xml"),
        (b"#!/bin/sh\nrm -rf /\n", "run.txt", TypeNotAllowed, "text/x-script"),
        (
            PPTX,
            "deck.pptx",
            TypeNotAllowed,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (b"PK\x03\x04 not really a zip", "a.zip", TypeNotAllowed, "application/octet-stream"),
        (b"\x00\x01\x02\x03binary", "blob.txt", TypeNotAllowed, "application/octet-stream"),
        (PDF, "invoice.exe", TypeMismatch, "application/pdf"),
        (PDF, "invoice.html", TypeMismatch, "application/pdf"),
        (png(), "photo.jpg", TypeMismatch, "image/png"),
        (TEXT, "report.pdf", TypeMismatch, "text/plain"),
        (CSV, "stock.xlsx", TypeMismatch, "text/plain"),
        (ZIP, "sheet.xlsx", TypeMismatch, "application/zip"),
        (docx(), "sheet.xlsx", TypeMismatch, DOCX_TYPE),
        (xlsx(), "sop.docx", TypeMismatch, XLSX_TYPE),
    ],
    ids=_case_id,
)
def test_refused_types_name_what_was_found(
    content: bytes, filename: str, error: type[DepotflowError], content_type: str
) -> None:
    with pytest.raises(error) as raised:
        _inspect(content, filename)

    assert raised.value.status == 415
    assert raised.value.details["content_type"] == content_type


def test_a_type_removed_from_the_allow_list_is_refused() -> None:
    allowed = [t for t in DEFAULT_ALLOWED_TYPES if t != "image/png"]

    with pytest.raises(TypeNotAllowed) as raised:
        inspect_upload(io.BytesIO(png()), "label.png", max_bytes=1000, allowed=allowed)

    assert raised.value.code == "file.type_not_allowed"
    assert raised.value.details == {"content_type": "image/png", "allowed": sorted(allowed)}


def test_the_size_limit_is_inclusive() -> None:
    assert _inspect(b"x" * 100, "a.txt", max_bytes=100).size == 100
    with pytest.raises(FileTooLarge) as raised:
        _inspect(b"x" * 101, "a.txt", max_bytes=100)

    assert (raised.value.status, raised.value.code) == (413, "file.too_large")
    assert raised.value.details == {"max_bytes": 100}


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(EmptyFile) as raised:
        _inspect(b"", "a.txt")

    assert (raised.value.status, raised.value.code) == (422, "file.empty")


def test_inspection_leaves_the_source_at_its_start() -> None:
    source = io.BytesIO(xlsx())

    inspect_upload(source, "stock.xlsx", max_bytes=1_000_000, allowed=DEFAULT_ALLOWED_TYPES)

    assert source.tell() == 0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\fakepath\\Lot 7.pdf", "Lot 7.pdf"),
        ("a/b\\c.pdf", "c.pdf"),
        ("bad\x00na\x1bme\x7f.pdf", "badname.pdf"),
        ("tab\tnew\r\nline.pdf", "tab new line.pdf"),
        ("line\u2028break\u00a0here.pdf", "line break here.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("  ..hidden.pdf. . ", "hidden.pdf"),
        ("many     spaces.pdf", "many spaces.pdf"),
        ("Ofertă preț.pdf", "Ofertă preț.pdf"),
        ("Oferta\u0306.pdf", "Ofertă.pdf"),
        ("", "file"),
        (None, "file"),
        ("..", "file"),
        ("\x00\x01", "file"),
    ],
)
def test_file_names_are_cleaned(raw: str | None, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_a_long_name_is_cut_to_the_limit_keeping_its_extension() -> None:
    cleaned = clean_filename("x" * 300 + ".pdf")

    assert cleaned == "x" * (MAX_FILENAME - 4) + ".pdf"
    assert len(cleaned) == MAX_FILENAME
