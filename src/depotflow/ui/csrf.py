"""CSRF tokens bound to the browser session (or to a pre-session cookie on anonymous pages) and the
Origin / Sec-Fetch-Site check for unsafe requests."""

import hashlib
import hmac
import secrets

from starlette.requests import Request

PRE_SESSION_COOKIE = "df_pre"
FIELD = "csrf_token"
HEADER = "x-csrf-token"


def token_for(secret: str, binding: str) -> str:
    """The CSRF token for one session (`binding` is the session's digest or the pre-session value)."""
    key = hashlib.sha256(b"depotflow-csrf\x00" + secret.encode()).digest()
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()


def new_pre_session() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


def same_origin(request: Request) -> bool:
    """True unless the browser tells us the request came from another site.

    Browsers send `Sec-Fetch-Site` (and `Origin` on POST); a request with neither comes from a
    non-browser client, which the CSRF token alone protects (it cannot read our cookie-bound token).
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own
