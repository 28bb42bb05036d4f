"""The HTTP edge: request ids, security headers, body limits, CORS, crashes and the unit of work."""

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from depotflow.core.db import Database
from depotflow.domains.config.models import ConfigEntry
from depotflow.domains.identity.models import User
from depotflow.main import create_app
from depotflow.web.deps import SessionDep
from tests.conftest import make_settings, system_context
from tests.factories.audit import entry_count
from tests.factories.identity import make_admin
from tests.web.support import serve

pytestmark = pytest.mark.anyio

LIMIT = 2048
ALLOWED_ORIGIN = "https://app.example"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _assert_edge_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers.get(name))
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", response.headers["x-request-id"])
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]


async def _counts(db: Database) -> tuple[int, int, int]:
    async with db.session(write=False) as session:
        users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        config = (await session.execute(select(func.count()).select_from(ConfigEntry))).scalar_one()
    return int(users), int(config), await entry_count(db)


def _app(tmp_path: Path, db_url: str, database: Database, **http: Any) -> FastAPI:
    return create_app(make_settings(tmp_path, db_url, http=http), database=database)


async def test_every_response_carries_the_edge_headers(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    responses = [
        await client.get("/health"),
        await client.get("/api/config/"),
        await client.get("/api/users/", headers=admin.headers),
        await client.get("/api/users/"),
        await client.get("/api/nowhere"),
        await client.delete("/api/config/"),
        await client.post("/api/config/", content=b"{", headers={**admin.headers, "Content-Type": "application/json"}),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200, 401, 404, 405, 400]
    for response in responses:
        _assert_edge_headers(response)
    assert len({r.headers["x-request-id"] for r in responses}) == len(responses)


async def test_a_valid_incoming_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nowhere", headers={"X-Request-ID": "edge-proxy.0001_abc"})

    assert response.headers["x-request-id"] == "edge-proxy.0001_abc"
    assert response.json()["request_id"] == "edge-proxy.0001_abc"


@pytest.mark.parametrize(
    ("_case", "incoming"),
    [
        ("too short", "abc"),
        ("too long", "a" * 65),
        ("spaces", "has spaces in it"),
        ("injection", "abcdefgh<script>"),
    ],
)
async def test_an_invalid_incoming_request_id_is_replaced(client: httpx.AsyncClient, _case: str, incoming: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": incoming})

    assert response.headers["x-request-id"] != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_a_request_id_with_a_trailing_newline_is_replaced(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    app = _app(tmp_path, db_url, database)
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = _scope("GET", "/health", [(b"x-request-id", b"abcdefgh1234\n")])
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)

    headers = dict(messages[0]["headers"])
    assert re.fullmatch(rb"[0-9a-f]{32}", headers[b"x-request-id"])


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def test_a_declared_body_over_the_limit_is_a_413(tmp_path: Path, db_url: str, database: Database) -> None:
    admin = await make_admin(database)
    before = await _counts(database)
    body = json.dumps({"company_name": "x" * 50, "address": "y" * LIMIT}).encode()

    async with serve(_app(tmp_path, db_url, database, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/api/config/", content=body, headers={**admin.headers, "Content-Type": "application/json"}
        )

    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "request.too_large"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    _assert_edge_headers(response)
    assert await _counts(database) == before


async def test_a_streamed_body_over_the_limit_is_a_413(tmp_path: Path, db_url: str, database: Database) -> None:
    admin = await make_admin(database)
    before = await _counts(database)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"company_name": "Streamed", "address": "'
        for _ in range(10):
            yield b"y" * 512
        yield b'"}'

    async with serve(_app(tmp_path, db_url, database, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/api/config/", content=chunks(), headers={**admin.headers, "Content-Type": "application/json"}
        )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "request.too_large"
    _assert_edge_headers(response)
    assert await _counts(database) == before


async def test_a_streamed_body_under_the_limit_is_accepted(tmp_path: Path, db_url: str, database: Database) -> None:
    admin = await make_admin(database)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"company_name": '
        yield b'"Streamed"}'

    async with serve(_app(tmp_path, db_url, database, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/api/config/", content=chunks(), headers={**admin.headers, "Content-Type": "application/json"}
        )

    assert response.status_code == 200, response.text
    assert response.json()["company_name"] == "Streamed"


async def test_a_body_of_exactly_the_limit_is_accepted(tmp_path: Path, db_url: str, database: Database) -> None:
    admin = await make_admin(database)
    prefix = b'{"company_name": "Exact", "address": "' + b"a" * 480 + b'"'
    body = prefix + b" " * (LIMIT - len(prefix) - 1) + b"}"

    async with serve(_app(tmp_path, db_url, database, max_body_bytes=LIMIT)) as client:
        response = await client.post(
            "/api/config/", content=body, headers={**admin.headers, "Content-Type": "application/json"}
        )
        over = await client.post(
            "/api/config/", content=body + b" ", headers={**admin.headers, "Content-Type": "application/json"}
        )

    assert len(body) == LIMIT
    assert response.status_code == 200, response.text
    assert response.json()["address"] == "a" * 480
    assert over.status_code == 413


async def test_a_non_numeric_content_length_is_a_400(tmp_path: Path, db_url: str, database: Database) -> None:
    app = _app(tmp_path, db_url, database)
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    async with app.router.lifespan_context(app):
        await app(_scope("POST", "/api/config/", [(b"content-length", b"12abc")]), receive, send)

    assert messages[0]["status"] == 400
    body = json.loads(b"".join(m.get("body", b"") for m in messages[1:]))
    assert body["code"] == "request.bad_content_length"


async def test_no_cors_header_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/config/", headers={"Origin": ALLOWED_ORIGIN})
    preflight = await client.options(
        "/api/config/", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_answers_an_allow_listed_origin_only(tmp_path: Path, db_url: str, database: Database) -> None:
    app = _app(tmp_path, db_url, database, cors_allow_origins=[ALLOWED_ORIGIN])

    async with serve(app) as client:
        allowed = await client.get("/api/config/", headers={"Origin": ALLOWED_ORIGIN})
        other = await client.get("/api/config/", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            "/api/config/",
            headers={
                "Origin": ALLOWED_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type, X-Change-Reason",
            },
        )
        evil_preflight = await client.options(
            "/api/config/", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )

    assert allowed.status_code == other.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert allowed.headers["access-control-expose-headers"] == "X-Request-ID"
    assert "access-control-allow-origin" not in other.headers
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in preflight.headers
    assert evil_preflight.status_code == 400
    assert "access-control-allow-origin" not in evil_preflight.headers
    for response in (allowed, other, preflight, evil_preflight):
        _assert_edge_headers(response)


async def test_a_crash_is_a_500_problem_without_a_stack_trace(
    tmp_path: Path, db_url: str, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app(tmp_path, db_url, database)

    async def crash() -> None:
        raise RuntimeError("database password is hunter2")

    app.add_api_route("/test/crash", crash, methods=["GET"])

    async with serve(app) as client:
        response = await client.get("/test/crash", headers={"X-Request-ID": "crash-request-0001"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "code": "internal_error",
        "detail": "An unexpected error occurred; quote the request id.",
        "request_id": "crash-request-0001",
    }
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    _assert_edge_headers(response)
    [logged] = [r for r in caplog.records if r.name == "depotflow.errors"]
    assert logged.exc_info is not None
    assert logged.exc_info[0] is RuntimeError


async def test_a_failed_commit_is_a_5xx_and_stores_nothing(tmp_path: Path, db_url: str, database: Database) -> None:
    async with database.unit_of_work(system_context()) as session:
        session.add(ConfigEntry(key="company_name", value="Existing"))
    before = await _counts(database)
    app = _app(tmp_path, db_url, database)

    async def duplicate(session: SessionDep) -> dict[str, bool]:
        # Not flushed here: the unique key fails only when the unit of work commits.
        session.add(ConfigEntry(key="city", value="Cluj"))
        session.add(ConfigEntry(key="company_name", value="Duplicate"))
        return {"ok": True}

    app.add_api_route("/test/duplicate", duplicate, methods=["POST"])

    async with serve(app) as client:
        response = await client.post("/test/duplicate")

    assert response.status_code == 500, response.text
    assert response.json()["code"] == "internal_error"
    assert '"ok"' not in response.text
    assert await _counts(database) == before


async def test_the_api_docs_page_may_load_swagger_ui(client: httpx.AsyncClient) -> None:
    docs = await client.get("/api/docs")
    api = await client.get("/api/config/")

    assert docs.status_code == 200
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist" in docs.text
    policy = dict(part.strip().split(" ", 1) for part in docs.headers["content-security-policy"].split(";"))
    assert "https://cdn.jsdelivr.net" in policy["script-src"].split()
    assert "https://cdn.jsdelivr.net" in policy["style-src"].split()
    assert policy["frame-ancestors"] == "'none'"
    assert docs.headers["x-frame-options"] == "DENY"
    assert "cdn.jsdelivr.net" not in api.headers["content-security-policy"]
    assert "unsafe-inline" not in api.headers["content-security-policy"]


async def test_a_refused_oversized_body_still_carries_cors_headers_for_an_allowed_origin(
    tmp_path: Path, db_url: str, database: Database
) -> None:
    app = _app(tmp_path, db_url, database, cors_allow_origins=[ALLOWED_ORIGIN], max_body_bytes=LIMIT)

    async with serve(app) as client:
        response = await client.post("/api/auth/login", content=b"x" * (LIMIT + 1), headers={"Origin": ALLOWED_ORIGIN})

    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    _assert_edge_headers(response)
