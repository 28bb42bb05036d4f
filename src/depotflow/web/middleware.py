"""Pure ASGI middleware at the edge: request ids, access logs, body limits, security headers."""

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from depotflow.core.context import request_id_var
from depotflow.web.problems import problem

access_log = logging.getLogger("depotflow.access")
error_log = logging.getLogger("depotflow.errors")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
]

# FastAPI's Swagger UI pages load their bundle and stylesheet from jsDelivr and start it with an
# inline script; under the API's policy a browser shows a blank page. These pages hold no user data.
DOCS_PATHS = frozenset({"/api/docs", "/docs/oauth2-redirect"})
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


# The browser UI (ui.md §11.5): scripts and styles only from our own static files; inline `style=""`
# attributes only (progress widths); no inline script, no eval, nothing from another origin.
WEB_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    b"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; form-action 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
WEB_HEADERS: list[tuple[bytes, bytes]] = [
    (k, WEB_CSP if k == b"content-security-policy" else b"same-origin" if k == b"referrer-policy" else v)
    for k, v in SECURITY_HEADERS
]


def _security_headers(path: str) -> list[tuple[bytes, bytes]]:
    if path == "/web" or path.startswith("/web/"):
        return WEB_HEADERS
    if path not in DOCS_PATHS:
        return SECURITY_HEADERS
    return [(k, DOCS_CSP if k == b"content-security-policy" else v) for k, v in SECURITY_HEADERS]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestContextMiddleware:
    """Assigns the request id, adds security headers, logs each request, turns crashes into 500s."""

    def __init__(self, app: ASGIApp, *, access_log_enabled: bool = True) -> None:
        self.app = app
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        # fullmatch: `$` would let a trailing newline through into logs and the audit trail.
        request_id = incoming if incoming and _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(h for h in _security_headers(scope.get("path", "")) if h[0] not in present)
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            error_log.exception("unhandled error", extra={"path": scope.get("path"), "method": scope.get("method")})
            if not response_started:
                response = problem(500, "internal_error", "An unexpected error occurred; quote the request id.")
                await response(scope, receive, send_wrapper)
            status = 500
        finally:
            if self.access_log_enabled:
                access_log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        "client": (scope.get("client") or (None,))[0],
                    },
                )
            request_id_var.reset(token)


class _BodyTooLarge(Exception):
    """Raised into the application when the body passes the limit, so no handler runs."""


class BodyLimitMiddleware:
    """Refuses request bodies above `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
                response = problem(400, "request.bad_content_length", "Content-Length is not a number.")
                await response(scope, receive, send)
                return
            if too_big:
                await self._refuse(scope, receive, send)
                return

        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if exceeded and not replaced:
                replaced = True
                await self._refuse(scope, receive, send)
                return
            if replaced:
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not replaced:
                replaced = True
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, "request.too_large", f"The request body exceeds the limit of {self.max_bytes} bytes.")
        await response(scope, receive, send)
