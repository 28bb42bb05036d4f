"""Static assets of the UI: a content-hash manifest for cache busting, and the static file response.

At start-up every file under `static/` is hashed (SHA-256, first 10 hex characters). Templates link
assets with `asset("vendor/htmx.min.js")`, which gives `/web/static/vendor/htmx.min.js?v=<hash>`; a
request whose `v` matches the current hash may be cached for a year, any other gets `no-cache`.
Pre-compressed `.gz` siblings (written by scripts/vendor.mjs) are served to clients that accept gzip.
Only files the manifest knows are ever served, so no request path can reach outside the directory.
"""

import hashlib
import os
from pathlib import Path, PurePosixPath

from starlette.responses import FileResponse, PlainTextResponse, Response

STATIC_DIR = Path(__file__).parent / "static"
URL_PREFIX = "/web/static/"
HASH_LENGTH = 10
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

# Explicit, so that the answer does not depend on the machine's /etc/mime.types.
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".map": "application/json",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/vnd.microsoft.icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".license": "text/plain; charset=utf-8",  # vendor/bootstrap.LICENSE
    "": "text/plain; charset=utf-8",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class UnknownAssetError(KeyError):
    """A template asked for an asset that is not in the static directory."""

    def __str__(self) -> str:
        return f"unknown static asset {self.args[0]!r} (not under {STATIC_DIR}; run `make setup` for vendor/)"


def _digest(file: Path) -> str:
    sha = hashlib.sha256()
    with file.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            sha.update(chunk)
    return sha.hexdigest()[:HASH_LENGTH]


class AssetManifest:
    """The files under one directory, each with the hash of its content, read once at construction.

    `.gz` files are not assets of their own (they are served in place of their sibling), and hidden
    files (such as the build stamp `vendor/.built`) are left out.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._files: dict[str, Path] = {}
        self._hashes: dict[str, str] = {}
        if not self.directory.is_dir():
            return
        for root, dirs, files in os.walk(self.directory):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith(".") or name.endswith(".gz"):
                    continue
                file = Path(root) / name
                if not file.is_file():
                    continue
                key = file.relative_to(self.directory).as_posix()
                self._files[key] = file
                self._hashes[key] = _digest(file)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path in self._files

    def __len__(self) -> int:
        return len(self._files)

    @property
    def paths(self) -> list[str]:
        """Every asset, as the relative POSIX path `url()` takes."""
        return sorted(self._files)

    def version(self, path: str) -> str | None:
        """The content hash of an asset, or None if there is no such asset."""
        return self._hashes.get(path)

    def url(self, path: str) -> str:
        """The cache-busting URL of an asset; raises `UnknownAssetError` (a KeyError) for a missing one."""
        digest = self._hashes.get(path)
        if digest is None:
            raise UnknownAssetError(path)
        return f"{URL_PREFIX}{path}?v={digest}"

    def file(self, path: str) -> Path | None:
        """The file behind an asset path, or None; only paths the manifest holds are ever answered."""
        if not _is_safe(path):
            return None
        return self._files.get(path)


def _is_safe(path: str) -> bool:
    """A relative POSIX path without `..`, empty or hidden segments, backslashes or NUL bytes."""
    if not path or "\\" in path or "\x00" in path or path.startswith("/"):
        return False
    parts = PurePosixPath(path).parts
    return all(part not in ("", ".", "..") and not part.startswith(".") for part in parts) and "/".join(parts) == path


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header value allows gzip (`gzip` or `*` with a non-zero q)."""
    wildcard: bool | None = None
    for item in accept_encoding.lower().split(","):
        token, _, params = item.strip().partition(";")
        token = token.strip()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if token in ("gzip", "x-gzip"):
            return quality > 0
        if token == "*":
            wildcard = quality > 0
    return bool(wildcard)


def content_type(path: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(path).suffix.lower(), DEFAULT_CONTENT_TYPE)


def not_found() -> Response:
    return PlainTextResponse(
        "Not Found", status_code=404, headers={"Cache-Control": REVALIDATE, "X-Content-Type-Options": "nosniff"}
    )


def static_response(manifest: AssetManifest, path: str, v: str | None, accept_encoding: str) -> Response:
    """The response for `GET /web/static/{path}?v=...`: the file (or its `.gz` sibling), or a 404."""
    file = manifest.file(path)
    if file is None or not file.is_file():
        return not_found()
    headers = {
        "Cache-Control": IMMUTABLE if v is not None and v == manifest.version(path) else REVALIDATE,
        "X-Content-Type-Options": "nosniff",
    }
    compressed = file.with_name(file.name + ".gz")
    if compressed.is_file():
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(accept_encoding):
            headers["Content-Encoding"] = "gzip"
            return FileResponse(compressed, headers=headers, media_type=content_type(path))
    return FileResponse(file, headers=headers, media_type=content_type(path))
