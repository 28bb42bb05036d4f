"""The native error model: problem+json with a stable code and the request id, never echoing input."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from depotflow.core.db import Database
from depotflow.core.errors import Conflict, NotFound
from depotflow.domains.identity.models import User
from depotflow.main import create_app
from tests.conftest import make_settings
from tests.factories.audit import entry_count
from tests.factories.identity import make_admin
from tests.web.support import serve

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"


async def _user_count(db: Database) -> int:
    async with db.session(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    users, trail = await _user_count(database), await entry_count(database)

    response = await client.post(
        "/api/users/",
        content=b'{"username": "alice", "password": ',
        headers={**admin.headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "request.malformed_json"
    assert body["title"] == "Bad Request"
    assert body["status"] == 400
    assert body["request_id"] == response.headers["x-request-id"]
    assert await _user_count(database) == users
    assert await entry_count(database) == trail


async def test_wrong_types_are_a_422_listing_every_field_without_echoing_values(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    users, trail = await _user_count(database), await entry_count(database)

    response = await client.post(
        "/api/users/",
        json={
            "username": ["secret-username-value"],
            "password": {"nested": "TopSecretPassword42"},
            "is_active": "yes-sir-value",
            "role_id": "7-secret",
        },
        headers=admin.headers,
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == "request.validation_failed"
    assert body["request_id"] == response.headers["x-request-id"]
    assert sorted(tuple(e["loc"]) for e in body["errors"]) == [
        ("body", "is_active"),
        ("body", "password"),
        ("body", "role_id"),
        ("body", "username"),
    ]
    assert all(set(e) == {"loc", "code", "msg"} for e in body["errors"])
    for secret in ("secret-username-value", "TopSecretPassword42", "yes-sir-value", "7-secret"):
        assert secret not in response.text
    assert await _user_count(database) == users
    assert await entry_count(database) == trail


async def test_a_missing_field_is_a_422(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post("/api/users/", json={"username": "alice"}, headers=admin.headers)

    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [{"loc": ["body", "password"], "code": "missing", "msg": "Field required"}]


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/does-not-exist")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "http.not_found",
        "detail": "Not Found",
        "request_id": response.headers["x-request-id"],
    }


async def test_a_missing_entity_is_a_404_with_a_domain_code(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.get("/api/users/999999", headers=admin.headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "identity.user_not_found"
    assert response.json()["details"] == {"user_id": 999999}


async def test_a_path_parameter_of_the_wrong_type_is_a_422(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.get("/api/users/abc", headers=admin.headers)

    assert response.status_code == 422
    assert response.json()["code"] == "request.validation_failed"
    assert [e["loc"] for e in response.json()["errors"]] == [["path", "user_id"]]


async def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client: httpx.AsyncClient, database: Database) -> None:
    trail = await entry_count(database)

    response = await client.delete("/api/config/")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "http.method_not_allowed"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert response.headers["allow"] == "GET, POST"
    assert await entry_count(database) == trail


async def test_a_wrong_method_on_a_single_route_is_a_405(client: httpx.AsyncClient) -> None:
    response = await client.post("/health")

    assert response.status_code == 405
    assert response.json()["code"] == "http.method_not_allowed"
    assert response.headers["allow"] == "GET"


def _app_with_routes(settings_app: FastAPI) -> FastAPI:
    async def conflict() -> None:
        raise Conflict("Order PO-1 is not receivable.", details={"order": "PO-1"})

    async def missing() -> None:
        raise NotFound("Nothing here.")

    settings_app.add_api_route("/test/conflict", conflict, methods=["POST"])
    settings_app.add_api_route("/test/missing", missing, methods=["GET"])
    return settings_app


async def test_a_domain_error_becomes_a_problem_with_its_code(tmp_path: Path, db_url: str, database: Database) -> None:
    app = _app_with_routes(create_app(make_settings(tmp_path, db_url), database=database))

    async with serve(app) as client:
        conflict = await client.post("/test/conflict")
        missing = await client.get("/test/missing")

    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == PROBLEM
    assert conflict.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "code": "conflict",
        "detail": "Order PO-1 is not receivable.",
        "details": {"order": "PO-1"},
        "request_id": conflict.headers["x-request-id"],
    }
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
