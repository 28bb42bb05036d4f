"""Rules for accepting a file, without I/O of its own: size, type sniffing, names and extensions.

The type a client declares is never trusted. The bytes decide: strong magic numbers (puremagic),
the member names of ZIP containers (OOXML documents are ZIP files), and a text heuristic for files
without magic. A file name whose extension contradicts the sniffed type is refused.
"""

import hashlib
import re
import unicodedata
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from typing import BinaryIO

import puremagic

from depotflow.domains.file.errors import EmptyFile, FileTooLarge, TypeMismatch, TypeNotAllowed

CHUNK_BYTES = 256 * 1024
MAX_FILENAME = 255
FALLBACK_FILENAME = "file"
OCTET_STREAM = "application/octet-stream"

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ZIP = "application/zip"

# Extensions a file of each type may carry; a name with another extension contradicts its bytes.
EXTENSIONS: dict[str, frozenset[str]] = {
    "application/pdf": frozenset({".pdf"}),
    "image/png": frozenset({".png"}),
    "image/jpeg": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "image/gif": frozenset({".gif"}),
    "image/webp": frozenset({".webp"}),
    "text/plain": frozenset({".txt", ".text", ".log", ".md"}),
    "text/csv": frozenset({".csv"}),
    XLSX: frozenset({".xlsx"}),
    DOCX: frozenset({".docx"}),
    PPTX: frozenset({".pptx"}),
    ZIP: frozenset({".zip"}),
}

# Magic numbers of at least four bytes are trusted over the text heuristic; shorter ones ("BM",
# "MZ") begin ordinary text too often.
STRONG_MAGIC = 0.4

# Bytes found in text: printable ASCII, the usual whitespace controls, ESC, and 0x80-0xFF (UTF-8 or a
# legacy code page such as a Windows-1252 CSV export). NUL and the other controls mean binary.
_TEXT_BYTES = bytes({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x100)) - {0x7F})
_UNSAFE_IN_NAMES = re.compile(r'[<>:"|?*]')


@dataclass(frozen=True, slots=True)
class Inspection:
    """What the bytes of an accepted upload turned out to be."""

    sha256: str
    size: int
    content_type: str
    filename: str


def clean_filename(raw: str | None) -> str:
    """A display name safe to store and send back: no directories, controls or reserved characters."""
    name = unicodedata.normalize("NFC", raw or "")
    # Browsers may send a full path ("C:\\fakepath\\x.pdf"); only the last component is the name.
    name = re.split(r"[/\\]", name)[-1]
    # Whitespace of any kind becomes one space; other controls, format characters (bidi overrides
    # that disguise an extension) and lone surrogates are dropped.
    name = re.sub(r"\s+", " ", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    name = _UNSAFE_IN_NAMES.sub("_", name)
    name = re.sub(r" +", " ", name).strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        keep = f".{ext}" if dot and stem and len(ext) <= 20 else ""
        name = name[: MAX_FILENAME - len(keep)].rstrip(" .") + keep
    return name or FALLBACK_FILENAME


def extension_of(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def inspect_upload(source: BinaryIO, filename: str | None, *, max_bytes: int, allowed: Collection[str]) -> Inspection:
    """Hash, measure and sniff `source` (blocking: run it in a worker thread).

    Raises: FileTooLarge, EmptyFile, TypeNotAllowed, TypeMismatch.
    """
    digest = hashlib.sha256()
    size = 0
    looks_text = True
    source.seek(0)
    while chunk := source.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(
                f"The file exceeds the upload limit of {max_bytes} bytes.", details={"max_bytes": max_bytes}
            )
        digest.update(chunk)
        if looks_text and chunk.translate(None, _TEXT_BYTES):
            looks_text = False
    if size == 0:
        raise EmptyFile("The file is empty.")
    name = clean_filename(filename)
    ext = extension_of(name)
    try:
        content_type, known_extensions = sniff(source, ext=ext, looks_text=looks_text)
    finally:
        source.seek(0)
    if content_type not in allowed:
        raise TypeNotAllowed(
            f"Files of type {content_type} are not accepted.",
            details={"content_type": content_type, "allowed": sorted(allowed)},
        )
    if ext and known_extensions and ext not in known_extensions:
        raise TypeMismatch(
            f"The content is {content_type}, which contradicts the extension {ext}.",
            details={"content_type": content_type, "extension": ext, "expected": sorted(known_extensions)},
        )
    return Inspection(sha256=digest.hexdigest(), size=size, content_type=content_type, filename=name)


def sniff(source: BinaryIO, *, ext: str = "", looks_text: bool) -> tuple[str, frozenset[str]]:
    """The content type of `source` from its bytes, and the extensions such a file may carry."""
    source.seek(0)
    head = source.read(8)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_type(source, ext)
    source.seek(0)
    try:
        candidates = puremagic.magic_stream(source)
    except (puremagic.PureError, ValueError):
        candidates = []
    if candidates and candidates[0].confidence >= STRONG_MAGIC:
        return _from_candidates(candidates)
    if looks_text:
        return _text_type(source, ext)
    if candidates:
        return _from_candidates(candidates)
    return OCTET_STREAM, frozenset()


def _zip_type(source: BinaryIO, ext: str) -> tuple[str, frozenset[str]]:
    source.seek(0)
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return OCTET_STREAM, frozenset()
    if ext == ".zip":
        return ZIP, EXTENSIONS[ZIP]
    if "[Content_Types].xml" in names:
        for part, content_type in (
            ("word/document.xml", DOCX),
            ("xl/workbook.xml", XLSX),
            ("ppt/presentation.xml", PPTX),
        ):
            if part in names:
                return content_type, EXTENSIONS[content_type]
    return ZIP, EXTENSIONS[ZIP]


def _from_candidates(candidates: list[puremagic.PureMagicWithConfidence]) -> tuple[str, frozenset[str]]:
    best = [c for c in candidates if c.confidence == candidates[0].confidence]
    content_type = next((c.mime_type for c in best if c.mime_type in EXTENSIONS), best[0].mime_type or OCTET_STREAM)
    known = EXTENSIONS.get(content_type) or frozenset(
        str(c.extension).lower() for c in candidates if c.mime_type == content_type and c.extension
    )
    return content_type, known


def _text_type(source: BinaryIO, ext: str) -> tuple[str, frozenset[str]]:
    source.seek(0)
    start = source.read(1024).removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith(b"<"):
        # Markup: a browser would render it, whatever it was called.
        if b"<svg" in start:
            return "image/svg+xml", frozenset({".svg"})
        if start.startswith(b"<?xml"):
            return "application/xml", frozenset({".xml"})
        return "text/html", frozenset({".html", ".htm"})
    if start.startswith(b"#!"):
        return "text/x-script", frozenset({".sh"})
    if ext == ".csv":
        return "text/csv", EXTENSIONS["text/csv"]
    return "text/plain", EXTENSIONS["text/plain"]
