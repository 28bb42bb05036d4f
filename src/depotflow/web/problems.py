"""Native error rendering: RFC 9457 problem+json with a stable `code` and the request id."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from depotflow.core.context import request_id_var
from depotflow.core.errors import DepotflowError, FieldError

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("depotflow.errors")

HTTP_CODES = {
    400: "http.bad_request",
    401: "auth.not_authenticated",
    403: "permission_denied",
    404: "http.not_found",
    405: "http.method_not_allowed",
    406: "http.not_acceptable",
    413: "request.too_large",
    415: "http.unsupported_media_type",
}


# RFC 9110 names where Python's HTTPStatus still uses the older ones.
TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[dict[str, Any]] = (),
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    if status == 401:
        # RFC 9110 §15.5.2: a 401 names the scheme to authenticate with.
        headers = {"WWW-Authenticate": 'Bearer realm="depotflow"', **(headers or {})}
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "code": code,
        "detail": detail,
        "request_id": request_id_var.get(),
    }
    if errors:
        body["errors"] = list(errors)
    if extra:
        body["details"] = extra
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(error: FieldError) -> dict[str, Any]:
    return {"loc": list(error.loc), "code": error.code, "msg": error.msg}


async def handle_depotflow_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DepotflowError)
    if exc.delay_seconds > 0:
        await anyio.sleep(exc.delay_seconds)
    return problem(
        exc.status,
        exc.code,
        exc.message,
        title=exc.title,
        errors=[_field(f) for f in exc.fields],
        extra=exc.details or None,
        headers=exc.headers or None,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the rejected input: it may be a password.
    out = []
    for err in exc.errors():
        out.append({"loc": list(err.get("loc", ())), "code": err.get("type", "invalid"), "msg": err.get("msg", "")})
    return out


async def handle_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if any(e["code"] == "json_invalid" for e in errors):
        return problem(400, "request.malformed_json", "The request body is not valid JSON.", errors=errors)
    return problem(422, "request.validation_failed", "The request is not valid.", errors=errors)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 400 and "parsing the body" in detail:
        code, detail = "request.malformed_body", "The request body could not be parsed."
    if exc.status_code == 405:
        allowed = allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return problem(exc.status_code, code, detail, headers=headers or None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DepotflowError, handle_depotflow_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
