"""UI assets: the content-hash manifest, the static file response (cache, gzip, traversal), and the
guards on what scripts/vendor.mjs vendors and what the templates reference (no database needed)."""

import gzip
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from depotflow.ui.assets import STATIC_DIR, AssetManifest, UnknownAssetError, accepts_gzip, static_response

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = ROOT / "src" / "depotflow" / "ui" / "templates"
VENDOR_DIR = STATIC_DIR / "vendor"
E2E_VENDOR_DIR = ROOT / "tests" / "e2e" / "vendor"
VENDOR_MANIFEST = json.loads((ROOT / "scripts" / "vendor-manifest.json").read_text())
NOT_BUILT = "vendored assets missing: run `make assets` (npm ci + node scripts/vendor.mjs)"

ASSET_CALL = re.compile(r"""\basset\(\s*(["'])(?P<path>[^"']+)\1\s*\)""")
# `icons.svg#lock`, also when the URL comes from `{{ asset("vendor/icons.svg") }}#lock`.
ICON_REFERENCE = re.compile(r"""icons\.svg["')\s}]*#(?P<name>[a-z0-9-]+)""")
EXTERNAL_URL = re.compile(r"https?://", re.IGNORECASE)
# Templates allowed to contain an absolute http(s) URL (none today, ui.md §11.2).
EXTERNAL_URL_ALLOWED: frozenset[str] = frozenset()

SVG_NS = "{http://www.w3.org/2000/svg}"


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def asset_references(text: str) -> list[str]:
    return [m.group("path") for m in ASSET_CALL.finditer(text)]


def template_files() -> list[Path]:
    if not TEMPLATES_DIR.is_dir():
        return []
    return sorted(p for p in TEMPLATES_DIR.rglob("*") if p.is_file() and p.suffix in {".html", ".jinja", ".j2", ".txt"})


# --- the manifest --------------------------------------------------------------------------------


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "vendor").mkdir(parents=True)
    (root / "app.css").write_text("body { color: #111; }\n")
    (root / "app.js").write_text("export const x = 1;\n")
    (root / "vendor" / "lib.js").write_text("var lib = 42;\n" * 50)
    (root / "vendor" / "lib.js.gz").write_bytes(gzip.compress((root / "vendor" / "lib.js").read_bytes()))
    (root / "vendor" / "icons.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>\n')
    (root / "vendor" / "lib.LICENSE").write_text("MIT\n")
    (root / "vendor" / ".built").write_text("")
    (tmp_path / "secret.txt").write_text("outside the static directory\n")
    return root


def test_manifest_hashes_every_file_with_the_first_ten_hex_characters_of_sha256(static_dir: Path) -> None:
    manifest = AssetManifest(static_dir)

    css_hash = short_hash(b"body { color: #111; }\n")

    assert manifest.paths == ["app.css", "app.js", "vendor/icons.svg", "vendor/lib.LICENSE", "vendor/lib.js"]
    assert manifest.version("app.css") == css_hash
    assert manifest.version("vendor/lib.js") == short_hash(b"var lib = 42;\n" * 50)
    assert manifest.url("app.css") == f"/web/static/app.css?v={css_hash}"
    assert re.fullmatch(r"/web/static/vendor/lib\.js\?v=[0-9a-f]{10}", manifest.url("vendor/lib.js"))


def test_gz_siblings_and_hidden_files_are_not_assets(static_dir: Path) -> None:
    manifest = AssetManifest(static_dir)

    assert "vendor/lib.js.gz" not in manifest
    assert "vendor/.built" not in manifest
    assert manifest.version("vendor/lib.js.gz") is None
    with pytest.raises(KeyError):
        manifest.url("vendor/lib.js.gz")


def test_unknown_asset_is_a_clear_key_error(static_dir: Path) -> None:
    manifest = AssetManifest(static_dir)

    assert manifest.version("nope.css") is None
    with pytest.raises(UnknownAssetError, match=r"unknown static asset 'nope\.css'"):
        manifest.url("nope.css")
    assert issubclass(UnknownAssetError, KeyError)


def test_the_hash_follows_the_content(static_dir: Path) -> None:
    before = AssetManifest(static_dir).version("app.css")
    (static_dir / "app.css").write_text("body { color: #222; }\n")

    after = AssetManifest(static_dir).version("app.css")

    assert before != after
    assert after == short_hash(b"body { color: #222; }\n")


def test_a_missing_directory_gives_an_empty_manifest(tmp_path: Path) -> None:
    manifest = AssetManifest(tmp_path / "absent")

    assert len(manifest) == 0
    assert manifest.version("app.css") is None


# --- the static response -------------------------------------------------------------------------


@pytest.fixture
async def client(static_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The static route as the UI mounts it, over the fixture's directory."""
    manifest = AssetManifest(static_dir)

    async def serve(request: Request) -> Response:
        return static_response(
            manifest,
            request.path_params["path"],
            request.query_params.get("v"),
            request.headers.get("accept-encoding", ""),
        )

    app = Starlette(routes=[Route("/web/static/{path:path}", serve)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


@pytest.mark.anyio
async def test_current_version_is_immutable_and_any_other_is_revalidated(
    static_dir: Path, client: httpx.AsyncClient
) -> None:
    current = await client.get(AssetManifest(static_dir).url("app.css"))
    stale = await client.get("/web/static/app.css?v=0123456789")
    unversioned = await client.get("/web/static/app.css")

    assert current.status_code == stale.status_code == unversioned.status_code == 200
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert stale.headers["cache-control"] == "no-cache"
    assert unversioned.headers["cache-control"] == "no-cache"
    assert current.text == "body { color: #111; }\n"
    assert current.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("app.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("vendor/icons.svg", "image/svg+xml"),
        ("vendor/lib.LICENSE", "text/plain; charset=utf-8"),
    ],
)
@pytest.mark.anyio
async def test_content_types(client: httpx.AsyncClient, path: str, content_type: str) -> None:
    response = await client.get(f"/web/static/{path}")

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "vendor/../../secret.txt",
        "/etc/passwd",
        "vendor/../app.css",
        "./app.css",
        "vendor//lib.js",
        "vendor\\lib.js",
        "vendor/.built",
        "vendor/lib.js.gz",
        "app.css\x00.js",
        "missing.css",
        "",
    ],
)
def test_traversal_hidden_and_unknown_paths_are_404(static_dir: Path, path: str) -> None:
    response = static_response(AssetManifest(static_dir), path, None, "gzip")

    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.anyio
async def test_traversal_over_http_is_refused(client: httpx.AsyncClient) -> None:
    for url in (
        "/web/static/..%2Fsecret.txt",
        "/web/static/vendor/..%2F..%2Fsecret.txt",
        "/web/static/%2e%2e/secret.txt",
    ):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "outside the static directory" not in response.text


@pytest.mark.anyio
async def test_gzip_sibling_is_served_to_clients_that_accept_it(static_dir: Path, client: httpx.AsyncClient) -> None:
    original = (static_dir / "vendor" / "lib.js").read_bytes()
    compressed = (static_dir / "vendor" / "lib.js.gz").read_bytes()

    zipped = await client.get("/web/static/vendor/lib.js", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    plain = await client.get("/web/static/vendor/lib.js", headers={"Accept-Encoding": "identity"})
    refused = await client.get("/web/static/vendor/lib.js", headers={"Accept-Encoding": "gzip;q=0"})

    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-length"] == str(len(compressed))
    assert zipped.headers["content-type"] == "text/javascript; charset=utf-8"
    assert zipped.content == original  # httpx decodes the gzip body
    for response in (zipped, plain, refused):
        assert response.status_code == 200
        assert response.headers["vary"] == "Accept-Encoding"
    for response in (plain, refused):
        assert "content-encoding" not in response.headers
        assert response.headers["content-length"] == str(len(original))
        assert response.content == original


@pytest.mark.anyio
async def test_files_without_a_gz_sibling_do_not_vary(client: httpx.AsyncClient) -> None:
    response = await client.get("/web/static/app.css", headers={"Accept-Encoding": "gzip"})

    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("GZIP", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0, *;q=1", False),
        ("*;q=0", False),
        ("br, deflate", False),
        ("identity", False),
        ("", False),
    ],
)
def test_accept_encoding_parsing(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


# --- the vendored files (built by `make assets`) -------------------------------------------------


@pytest.fixture(scope="module")
def vendor_manifest() -> AssetManifest:
    if not (VENDOR_DIR / "htmx.min.js").is_file():
        pytest.fail(NOT_BUILT)
    return AssetManifest(STATIC_DIR)


def test_vendored_htmx_is_2_0_11(vendor_manifest: AssetManifest) -> None:
    text = (VENDOR_DIR / "htmx.min.js").read_text()

    assert re.findall(r"""version:\s*["']([0-9][^"']*)["']""", text) == ["2.0.11"]
    assert re.fullmatch(r"/web/static/vendor/htmx\.min\.js\?v=[0-9a-f]{10}", vendor_manifest.url("vendor/htmx.min.js"))


def test_vendored_bootstrap_is_5_3_9(vendor_manifest: AssetManifest) -> None:
    css_header = (VENDOR_DIR / "bootstrap.min.css").read_text()[:300]
    js_header = (VENDOR_DIR / "bootstrap.bundle.min.js").read_text()[:300]

    assert re.search(r"Bootstrap\s+v5\.3\.9 ", css_header), css_header
    assert re.search(r"Bootstrap\s+v5\.3\.9 ", js_header), js_header
    assert "vendor/bootstrap.min.css" in vendor_manifest
    assert "vendor/bootstrap.bundle.min.js" in vendor_manifest


def test_package_json_pins_exactly_what_the_lock_file_holds() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pins = package["devDependencies"]

    assert package["private"] is True
    assert pins["bootstrap"] == "5.3.9"
    assert pins["htmx.org"] == "2.0.11"
    assert set(pins) == {"bootstrap", "htmx.org", "bootstrap-icons", "axe-core"}
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned exactly: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"][""]["devDependencies"] == pins


def test_every_vendored_file_has_its_gzip_copy_and_license(vendor_manifest: AssetManifest) -> None:
    target = VENDOR_MANIFEST["targets"]["src/depotflow/ui/static/vendor"]
    names = [entry["to"] for entry in target["files"]] + [target["sprite"]["to"]]

    for name in names:
        file = VENDOR_DIR / name
        assert f"vendor/{name}" in vendor_manifest
        if file.suffix in target["gzip"]:
            assert gzip.decompress((VENDOR_DIR / f"{name}.gz").read_bytes()) == file.read_bytes(), name
    licenses = {
        "bootstrap.LICENSE": "The MIT License",
        "popper.LICENSE": "The MIT License",
        "bootstrap-icons.LICENSE": "The MIT License",
        "htmx.LICENSE": "Zero-Clause BSD",
    }
    for license_name, heading in licenses.items():
        assert (VENDOR_DIR / license_name).read_text().startswith(heading), license_name
    assert "Mozilla Public License" in (E2E_VENDOR_DIR / "axe-core.LICENSE").read_text()


def test_icon_sprite_has_one_symbol_per_listed_icon(vendor_manifest: AssetManifest) -> None:
    wanted = VENDOR_MANIFEST["targets"]["src/depotflow/ui/static/vendor"]["sprite"]["icons"]
    root = ET.parse(VENDOR_DIR / "icons.svg").getroot()
    symbols = root.findall(f"{SVG_NS}symbol")

    assert root.tag == f"{SVG_NS}svg"
    assert [s.get("id") for s in symbols] == wanted
    assert len(wanted) == 46
    assert {"lock", "unlock", "upc-scan", "x-lg", "translate"} <= set(wanted)
    for symbol in symbols:
        assert symbol.get("viewBox") == "0 0 16 16", symbol.get("id")
        assert symbol.findall(f".//{SVG_NS}path"), symbol.get("id")
    assert vendor_manifest.version("vendor/icons.svg") is not None


def test_axe_is_vendored_for_the_browser_tests_only(vendor_manifest: AssetManifest) -> None:
    assert (E2E_VENDOR_DIR / "axe.min.js").is_file()
    assert (E2E_VENDOR_DIR / "axe.min.js").read_text().startswith("/*! axe v4.")
    assert not [path for path in vendor_manifest.paths if "axe" in path]


# --- the templates -------------------------------------------------------------------------------


def test_template_scanners_find_asset_calls_icons_and_external_urls() -> None:
    text = (
        '<link href="{{ asset("vendor/bootstrap.min.css") }}"><script src="{{ asset( \'app.js\' ) }}"></script>'
        '<svg><use href="{{ asset("vendor/icons.svg") }}#lock"></use></svg>{{ assets("not/this.css") }}'
        '<a href="https://example.org">'
    )

    assert asset_references(text) == ["vendor/bootstrap.min.css", "app.js", "vendor/icons.svg"]
    assert [m.group("name") for m in ICON_REFERENCE.finditer(text)] == ["lock"]
    assert [m.group("name") for m in ICON_REFERENCE.finditer('<use href="/web/static/vendor/icons.svg#x-lg">')] == [
        "x-lg"
    ]
    assert EXTERNAL_URL.search(text)
    assert not EXTERNAL_URL.search('<svg xmlns="{{ svg_ns }}">')


def test_every_asset_used_in_templates_exists() -> None:
    manifest = AssetManifest(STATIC_DIR)
    missing = [
        f"{path.relative_to(TEMPLATES_DIR)}: {ref}"
        for path in template_files()
        for ref in asset_references(path.read_text())
        if ref not in manifest
    ]

    assert missing == []


def test_icons_used_in_templates_are_in_the_sprite() -> None:
    wanted = set(VENDOR_MANIFEST["targets"]["src/depotflow/ui/static/vendor"]["sprite"]["icons"])
    icon_call = re.compile(r"""\bicon\(\s*(["'])(?P<name>[a-z0-9-]+)\1""")
    unknown = [
        f"{path.relative_to(TEMPLATES_DIR)}: {match.group('name')}"
        for path in template_files()
        for pattern in (ICON_REFERENCE, icon_call)
        for match in pattern.finditer(path.read_text())
        if match.group("name") not in wanted
    ]

    assert unknown == []


def test_no_template_links_outside_the_application() -> None:
    offenders = [
        f"{path.relative_to(TEMPLATES_DIR)}:{number}: {line.strip()}"
        for path in template_files()
        if path.relative_to(TEMPLATES_DIR).as_posix() not in EXTERNAL_URL_ALLOWED
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if EXTERNAL_URL.search(line)
    ]

    assert offenders == []
