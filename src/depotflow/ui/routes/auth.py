"""Sign in, sign out, the language switch and the account page (ui.md A1-A3)."""

from typing import Annotated

import anyio
from fastapi import Form, Path, Request
from starlette.responses import RedirectResponse, Response

from depotflow.core.context import set_change_context
from depotflow.core.errors import DepotflowError
from depotflow.core.security import Actor
from depotflow.domains.identity import errors as identity_errors
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.schemas import MAX_ID
from depotflow.ui import csrf, forms, i18n
from depotflow.ui.render import anonymous_binding, flash, locale_of, render, ui_state
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import (
    CsrfRejected,
    SignedInForAccount,
    WebUser,
    clear_session_cookie,
    current_web_user,
    session_cookie_name,
    set_cookie,
)
from depotflow.web.deps import change_context, client_ip

router = ui_router()

LANG_COOKIE = "df_lang"


def safe_next(value: str | None) -> str:
    """Only our own pages: a path under /web/ (never `//host` or a full URL)."""
    if value and value.startswith("/web/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/web/dashboard"


def _login_page(
    request: Request,
    *,
    next_url: str,
    username: str = "",
    errors: forms.FormErrors | None = None,
    status: int = 200,
    locked_minutes: int | None = None,
) -> Response:
    response = render(
        request,
        "pages/auth/login.html",
        {
            "next": next_url,
            "username": username,
            "errors": errors or forms.FormErrors(),
            "locked_minutes": locked_minutes,
        },
        status=status,
    )
    if getattr(request.state, "new_pre_session", False):
        set_cookie(
            response, ui_state(request).settings, csrf.PRE_SESSION_COOKIE, request.state.pre_session, max_age=12 * 3600
        )
    return response


def _ensure_pre_session(request: Request) -> None:
    if not request.cookies.get(csrf.PRE_SESSION_COOKIE):
        request.state.pre_session = csrf.new_pre_session()
        request.state.new_pre_session = True


@router.get("/login", openapi_extra=mirrors("POST /api/auth/login", "GET /api/config/"))
async def login_page(request: Request, next: str | None = None) -> Response:
    if await current_web_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    _ensure_pre_session(request)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login", openapi_extra=mirrors("POST /api/auth/login"))
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    state = ui_state(request)
    settings = state.settings
    next_url = safe_next(next)
    expected = csrf.token_for(state.secret, anonymous_binding(request))
    if (
        not request.cookies.get(csrf.PRE_SESSION_COOKIE)
        or not csrf.matches(expected, csrf_token)
        or not csrf.same_origin(request)
    ):
        raise CsrfRejected("This form expired or came from another site. Reload the page and try again.")
    locale = locale_of(request)
    errors = forms.FormErrors()
    if not username.strip():
        errors.add("username", forms.message_for("missing", locale))
    if not password:
        errors.add("password", forms.message_for("missing", locale))
    if errors:
        return _login_page(request, next_url=next_url, username=username, errors=errors, status=422)
    db = request.app.state.db
    ip = client_ip(request)
    async with db.session(write=False) as read_session:
        check = await identity_service.check_login(
            read_session, username=username.strip(), password=password, ip_address=ip, identity=settings.identity
        )
    async with db.session(write=True) as session:
        set_change_context(session.sync_session, lambda: change_context(request, Actor.anonymous()))
        try:
            result = await identity_service.complete_login(
                session,
                check,
                ip_address=ip,
                user_agent=request.headers.get("user-agent"),
                security=settings.security,
                identity=settings.identity,
                kind="web",
                ttl_minutes=settings.web.session_absolute_minutes,
            )
            await session.commit()
        except DepotflowError as exc:
            if exc.commit_before_raise:
                await session.commit()
            else:
                await session.rollback()
            if exc.delay_seconds > 0:
                await anyio.sleep(exc.delay_seconds)
            return _failed_login(request, exc, next_url=next_url, username=username, locale=locale)
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(
        response,
        settings,
        session_cookie_name(settings),
        result.token,
        max_age=settings.web.session_absolute_minutes * 60,
    )
    response.delete_cookie(csrf.PRE_SESSION_COOKIE, path="/")
    if result.user.locale:
        set_cookie(response, settings, LANG_COOKIE, result.user.locale, max_age=365 * 24 * 3600)
    return response


def _failed_login(request: Request, exc: DepotflowError, *, next_url: str, username: str, locale: str) -> Response:
    errors = forms.FormErrors()
    locked_minutes = None
    if isinstance(exc, identity_errors.LoginLocked):
        seconds = int(exc.headers.get("Retry-After", "60"))
        locked_minutes = max(1, (seconds + 59) // 60)
        errors.add(
            None,
            i18n.translate(
                locale,
                "Too many failed attempts. Sign-in is locked for %(minutes)s more minutes.",
                minutes=locked_minutes,
            ),
        )
        status = 429
    elif isinstance(exc, identity_errors.IdentityServerUnavailable):
        errors.add(None, i18n.translate(locale, "The identity server cannot be reached. Try again later."))
        status = 503
    else:
        errors.add(None, forms.message_for("auth.invalid_credentials", locale))
        status = 422
    return _login_page(
        request, next_url=next_url, username=username, errors=errors, status=status, locked_minutes=locked_minutes
    )


@router.post("/logout", openapi_extra=mirrors("POST /api/auth/logout"))
async def logout(request: Request, user: SignedInForAccount) -> Response:
    db = request.app.state.db
    async with db.session(write=True) as session:
        set_change_context(session.sync_session, lambda: change_context(request, user.actor))
        await identity_service.logout(session, user.actor)
        await session.commit()
    response = RedirectResponse("/web/login", status_code=303)
    clear_session_cookie(response, ui_state(request).settings)
    flash(response, request, i18n.translate(locale_of(request), "You are signed out."), level="info")
    return response


@router.post("/session/ping", openapi_extra=mirrors("GET /api/auth/me"))
async def keep_alive(user: SignedInForAccount) -> Response:
    """ "Stay signed in": the session dependency has recorded the activity; nothing else to do."""
    return Response(status_code=204)


@router.post("/lang", openapi_extra=mirrors())
async def switch_language(
    request: Request,
    lang: Annotated[str, Form(max_length=10)],
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The language switch; signed-in users keep the choice in their profile."""
    locale = i18n.normalize_locale(lang)
    if locale is None:
        locale = ui_state(request).settings.web.default_locale
    user = await current_web_user(request)
    state = ui_state(request)
    expected = user.csrf_token if user is not None else csrf.token_for(state.secret, anonymous_binding(request))
    if not csrf.matches(expected, csrf_token) or not csrf.same_origin(request):
        raise CsrfRejected("This form expired or came from another site. Reload the page and try again.")
    if user is not None:
        async with request.app.state.db.session(write=True) as session:
            set_change_context(session.sync_session, lambda: change_context(request, user.actor))
            await identity_service.set_own_locale(session, user.actor, locale=locale)
            await session.commit()
    target = next if next.startswith("/web/") and not next.startswith("//") else "/web/dashboard"
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, state.settings, LANG_COOKIE, locale, max_age=365 * 24 * 3600)
    return response


SESSION_REVOKE_URL = "/web/account/sessions/%s/revoke"


async def _account_page(
    request: Request,
    user: WebUser,
    *,
    errors: forms.FormErrors | None = None,
    status: int = 200,
    blocks: tuple[str, ...] = (),
) -> Response:
    async with request.app.state.db.session(write=False) as session:
        sessions = await identity_service.list_sessions(
            session, user_id=user.actor.user_id or 0, current_token_id=user.actor.token_id
        )
    return render(
        request,
        "pages/auth/account.html",
        {
            "errors": errors or forms.FormErrors(),
            "values": {},
            "sessions": sessions,
            "revoke_url": SESSION_REVOKE_URL,
        },
        status=status,
        blocks=blocks,
    )


@router.get("/account", openapi_extra=mirrors("GET /api/auth/me", "GET /api/auth/sessions"))
async def account(request: Request, user: SignedInForAccount) -> Response:
    return await _account_page(request, user)


@router.post("/account/sessions/{session_id}/revoke", openapi_extra=mirrors("DELETE /api/auth/sessions/{session_id}"))
async def revoke_session(
    request: Request, session_id: Annotated[int, Path(gt=0, le=MAX_ID)], user: SignedInForAccount
) -> Response:
    """End one of the user's other sessions (A3); an unknown or foreign one is 404, the current 409."""
    async with request.app.state.db.session(write=True) as session:
        set_change_context(session.sync_session, lambda: change_context(request, user.actor))
        try:
            await identity_service.revoke_own_session(session, user.actor, token_id=session_id)
            await session.commit()
        except DepotflowError:
            await session.rollback()
            raise
    response = RedirectResponse("/web/account", status_code=303)
    flash(response, request, i18n.translate(locale_of(request), "The session was ended."))
    return response


@router.post("/account/password", openapi_extra=mirrors("POST /api/auth/password"))
async def change_password(
    request: Request,
    user: SignedInForAccount,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    new_password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    locale = locale_of(request)
    errors = forms.FormErrors()
    for name, value in (("current_password", current_password), ("new_password", new_password)):
        if not value:
            errors.add(name, forms.message_for("missing", locale))
    if new_password and new_password != new_password_again:
        errors.add("new_password_again", forms.message_for("web.passwords_differ", locale))
    if not errors:
        settings = ui_state(request).settings
        async with request.app.state.db.session(write=True) as session:
            set_change_context(session.sync_session, lambda: change_context(request, user.actor))
            try:
                await identity_service.change_own_password(
                    session,
                    user.actor,
                    current_password=current_password,
                    new_password=new_password,
                    security=settings.security,
                )
                await session.commit()
            except DepotflowError as exc:
                if exc.commit_before_raise:
                    await session.commit()
                else:
                    await session.rollback()
                errors = forms.from_domain(exc, locale)
                if exc.code == "identity.weak_password":
                    errors = forms.FormErrors(fields={"new_password": forms.message_for(exc.code, locale)})
    if errors:
        return await _account_page(request, user, errors=errors, status=422, blocks=("password-form",))
    response = RedirectResponse("/web/account", status_code=303)
    flash(response, request, i18n.translate(locale, "Your password was changed. Your other sessions were signed out."))
    return response
