"""The UI's cookie session: a `web` identity token in an HttpOnly cookie, its idle timeout, CSRF, and
the per-route authorization dependency (`web_requirement`).

The API never reads this cookie; the cookie's token is refused as a bearer token.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from depotflow.core.context import set_change_context
from depotflow.core.errors import NotAuthenticated, PermissionDenied
from depotflow.core.security import Actor, token_digest
from depotflow.core.settings import Settings
from depotflow.domains.identity import errors as identity_errors
from depotflow.domains.identity import service as identity_service
from depotflow.ui import csrf
from depotflow.web.deps import SAFE_METHODS, change_context


class NotSignedIn(NotAuthenticated):
    """No live browser session: pages redirect to the login page with `next`."""

    code = "web.not_signed_in"


class CsrfRejected(PermissionDenied):
    code = "web.csrf_failed"


class PasswordChangeNeeded(PermissionDenied):
    code = "web.password_change_required"


def session_cookie_name(settings: Settings) -> str:
    return "df_session" if settings.web.insecure_cookies else "__Host-df_session"


def set_cookie(response: Response, settings: Settings, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=not settings.web.insecure_cookies,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings), path="/", secure=not settings.web.insecure_cookies, httponly=True
    )


@dataclass(frozen=True, slots=True)
class WebUser:
    """The signed-in browser user of this request."""

    principal: identity_service.Principal
    csrf_token: str

    @property
    def actor(self) -> Actor:
        return self.principal.actor


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secret(request: Request) -> str:
    secret: str = request.app.state.ui.secret
    return secret


async def current_web_user(request: Request) -> WebUser | None:
    """The live browser session of this request, or None (no cookie, expired, revoked, idle)."""
    cached = getattr(request.state, "web_user", None)
    if isinstance(cached, WebUser):
        return cached
    settings = _settings(request)
    raw = request.cookies.get(session_cookie_name(settings))
    if not raw or len(raw) > 512:
        return None
    db = request.app.state.db
    try:
        async with db.session(write=False) as session:
            principal = await identity_service.authenticate(session, raw, cache_seconds=0, kind="web")
            last_seen = await identity_service.web_session_last_seen(session, principal)
    except (NotAuthenticated, identity_errors.UserInactive):
        return None
    idle = settings.web.session_idle_minutes
    if identity_service.web_session_needs_touch(last_seen, idle_minutes=idle):
        async with db.session(write=True) as session:
            set_change_context(session.sync_session, lambda: change_context(request, principal.actor))
            alive = await identity_service.touch_web_session(session, principal, idle_minutes=idle)
            await session.commit()
        if not alive:
            return None
    user = WebUser(principal=principal, csrf_token=csrf.token_for(_secret(request), token_digest(raw)))
    request.state.web_user = user
    request.state.actor = user.actor
    return user


async def check_csrf(request: Request, expected: str) -> None:
    """Unsafe requests need the session's CSRF token (header or form field) and a same-origin source."""
    if request.method in SAFE_METHODS:
        return
    presented = request.headers.get(csrf.HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(csrf.FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf.same_origin(request) or not csrf.matches(expected, presented):
        raise CsrfRejected("This form expired or came from another site. Reload the page and try again.")


class WebRequirement:
    """A UI route's authorization: a browser session, a valid CSRF token on unsafe methods, and
    `permission` when one is named (the same permission as the API route the page mirrors)."""

    def __init__(self, permission: str | None, *, allow_password_change: bool = False) -> None:
        self.permission = permission
        self.allow_password_change = allow_password_change

    async def __call__(self, request: Request) -> WebUser:
        user = await current_web_user(request)
        if user is None:
            raise NotSignedIn("Sign in to continue.")
        await check_csrf(request, user.csrf_token)
        actor = user.actor
        if actor.password_change_required and not self.allow_password_change:
            raise PasswordChangeNeeded("Change your password before you continue.")
        if self.permission is not None and not actor.has(self.permission):
            raise PermissionDenied(
                "You do not have permission to perform this action.",
                details={"required_permission": self.permission},
            )
        return user

    def __repr__(self) -> str:
        return f"WebRequirement({self.permission!r})"


def web_requirement(permission: str | None = None, *, allow_password_change: bool = False) -> WebRequirement:
    return WebRequirement(permission, allow_password_change=allow_password_change)


SignedIn = Annotated[WebUser, Depends(web_requirement())]
SignedInForAccount = Annotated[WebUser, Depends(web_requirement(allow_password_change=True))]


def requires(permission: str) -> type[WebUser]:
    """`user: requires("purchasing.view")` in a page route's signature."""
    return Annotated[WebUser, Depends(web_requirement(permission))]  # type: ignore[return-value]
