"""Rendering: one Jinja environment for the UI, the per-request context, and the htmx partial
protocol (the same route answers a full page, or one named block when htmx asks for it)."""

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from depotflow import __version__
from depotflow.core.context import request_id_var
from depotflow.core.settings import Settings
from depotflow.ui import csrf, i18n, labels, nav
from depotflow.ui.assets import STATIC_DIR, AssetManifest

TEMPLATES_DIR = Path(__file__).parent / "templates"
FLASH_COOKIE = "df_flash"


@dataclass(slots=True)
class UiState:
    """What the UI keeps on `app.state.ui`. The secret key is read on first use, so building the app
    (e.g. `depotflow openapi`) neither needs nor creates the data directory."""

    env: jinja2.Environment
    assets: AssetManifest
    settings: Settings
    available_pages: frozenset[str] = frozenset()
    _secret: str | None = field(default=None, init=False)
    _flash: URLSafeSerializer | None = field(default=None, init=False)

    @property
    def secret(self) -> str:
        if self._secret is None:
            self._secret = self.settings.resolved_secret_key()
        return self._secret

    @property
    def flash(self) -> URLSafeSerializer:
        if self._flash is None:
            self._flash = URLSafeSerializer(self.secret, salt="depotflow-flash")
        return self._flash


def make_environment(*, strict: bool = False) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined if strict else jinja2.ChainableUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    i18n.install(env)
    env.globals["state_style"] = labels.state_style
    env.globals["tojson_attr"] = lambda value: json.dumps(value, separators=(",", ":"))
    return env


def make_ui_state(settings: Settings) -> UiState:
    return UiState(
        env=make_environment(strict=settings.env == "test"),
        assets=AssetManifest(STATIC_DIR),
        settings=settings,
    )


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.ui
    return state


def locale_of(request: Request) -> str:
    cached = getattr(request.state, "locale", None)
    if isinstance(cached, str):
        return cached
    settings = ui_state(request).settings
    user = getattr(request.state, "web_user", None)
    locale = i18n.negotiate(
        profile=user.principal.locale if user is not None else None,
        cookie=request.cookies.get("df_lang"),
        accept_language=request.headers.get("accept-language"),
        default=settings.web.default_locale,
    )
    request.state.locale = locale
    return locale


def pop_flash(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        value = ui_state(request).flash.loads(raw)
    except BadSignature:
        return []
    request.state.flash_consumed = True
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def flash(response: Response, request: Request, message: str, *, level: str = "success") -> None:
    """A message shown once on the next full page (post, redirect, get)."""
    value = ui_state(request).flash.dumps([{"level": level, "text": message}])
    response.set_cookie(FLASH_COOKIE, value, max_age=120, path="/web", httponly=True, samesite="lax")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and "hx-history-restore-request" not in request.headers


def base_context(request: Request) -> dict[str, Any]:
    state = ui_state(request)
    locale = locale_of(request)
    user = getattr(request.state, "web_user", None)
    settings = state.settings
    csrf_token = user.csrf_token if user is not None else csrf.token_for(state.secret, anonymous_binding(request))
    ctx: dict[str, Any] = {
        "request": request,
        "locale": locale,
        "tz": settings.web.timezone,
        "user": user,
        "actor": user.actor if user is not None else None,
        "csrf_token": csrf_token,
        "hx_headers": json.dumps({"X-CSRF-Token": csrf_token}),
        "asset": state.assets.url,
        "version": __version__,
        "request_id": request_id_var.get(),
        "query_with": lambda **changes: query_with(request, **changes),
        "state_label": lambda kind, slug: translate(locale, labels.state_msgid(kind, slug)),
        "meaning_label": lambda slug: translate(locale, labels.MEANING_LABELS.get(slug, slug)),
        "locales": i18n.LOCALE_NAMES,
        "flashes": pop_flash(request),
        "menu": nav.menu(user.actor, available=state.available_pages) if user is not None else [],
        "session_expires_at": user.principal.token_expires_at if user is not None else None,
        "idle_minutes": settings.web.session_idle_minutes,
    }
    ctx.update(i18n.gettext_callables(locale))
    return ctx


def anonymous_binding(request: Request) -> str:
    """The pre-session value a sign-in form's CSRF token is bound to (set by the middleware)."""
    value = getattr(request.state, "pre_session", None) or request.cookies.get(csrf.PRE_SESSION_COOKIE) or ""
    return "pre:" + value


def translate(locale: str, msgid: str) -> str:
    return str(i18n.gettext_callables(locale)["gettext"](msgid))


def query_with(request: Request, **changes: Any) -> str:
    """The current URL's query string with some parameters replaced (None removes them)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            items.extend((key, str(v)) for v in value)
        else:
            items.append((key, str(value)))
    return "?" + urlencode(items) if items else "?"


_TOP_IMPORT = re.compile(r'^\{%-?\s*import\s+"([^"]+)"\s+as\s+(\w+)(\s+with context)?\s*-?%\}', re.MULTILINE)
_EXTENDS = re.compile(r'^\{%-?\s*extends\s+"([^"]+)"', re.MULTILINE)


@functools.lru_cache(maxsize=512)
def _top_imports(env: jinja2.Environment, name: str) -> tuple[tuple[str, str, bool], ...]:
    """The `{% import %}`s at the top level of a template and of the layouts it extends."""
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    found = [(m.group(1), m.group(2), bool(m.group(3))) for m in _TOP_IMPORT.finditer(source)]
    parent = _EXTENDS.search(source)
    if parent:
        found = list(_top_imports(env, parent.group(1))) + found
    return tuple(found)


def render_block(template: jinja2.Template, block: str, ctx: Mapping[str, Any]) -> str:
    """One block of a page. Jinja runs a template's top-level imports only in a full render, so the
    macros the page (and its layouts) import are set up here first."""
    context = template.new_context(dict(ctx))
    env = template.environment
    for name, alias, with_context in _top_imports(env, template.name or ""):
        macros = env.get_template(name)
        context.vars[alias] = macros.make_module(context.get_all(), shared=True) if with_context else macros.module
    return "".join(template.blocks[block](context))


def render(
    request: Request,
    template: str,
    ctx: Mapping[str, Any] | None = None,
    *,
    blocks: Iterable[str] = (),
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A full page, or the block named after `HX-Target` when htmx asks for one of `blocks`."""
    state = ui_state(request)
    full_ctx = base_context(request)
    full_ctx.update(ctx or {})
    tpl = state.env.get_template(template)
    target = request.headers.get("hx-target")
    block = target.replace("-", "_") if is_htmx(request) and target in set(blocks) else None
    with i18n.activate(full_ctx["locale"], full_ctx["tz"]):
        body = render_block(tpl, block, full_ctx) if block else tpl.render(full_ctx)
    response = HTMLResponse(body, status_code=status, headers=dict(headers or {}))
    response.headers["Vary"] = "HX-Request, HX-Target"
    response.headers["Cache-Control"] = "no-store"
    if getattr(request.state, "flash_consumed", False):
        response.delete_cookie(FLASH_COOKIE, path="/web")
    return response


def render_fragment(
    request: Request,
    template: str,
    ctx: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A partial template (a dialog body, a table row) rendered on its own."""
    state = ui_state(request)
    full_ctx = base_context(request)
    full_ctx.update(ctx or {})
    with i18n.activate(full_ctx["locale"], full_ctx["tz"]):
        body = state.env.get_template(template).render(full_ctx)
    response = HTMLResponse(body, status_code=status, headers=dict(headers or {}))
    response.headers["Cache-Control"] = "no-store"
    return response


def toast_oob(request: Request, message: str, *, level: str = "success") -> Markup:
    """An out-of-band toast appended to the layout's toast region."""
    state = ui_state(request)
    ctx = {**base_context(request), "level": level, "message": message}
    with i18n.activate(ctx["locale"], ctx["tz"]):
        html = state.env.get_template("partials/toast.html").render(ctx)
    return Markup(html)
