"""The browser UI at /web/: its state, routes, static files and error pages (ui.md §11)."""

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from depotflow.core.errors import DepotflowError
from depotflow.core.settings import Settings
from depotflow.ui import i18n, nav
from depotflow.ui.assets import static_response
from depotflow.ui.render import is_htmx, locale_of, make_ui_state, render, ui_state
from depotflow.ui.routes import admin, approvals, auth, dashboard, inventory, procurement, stock
from depotflow.ui.session import NotSignedIn, PasswordChangeNeeded, current_web_user
from depotflow.web import problems

ROUTERS = (
    auth.router,
    dashboard.router,
    admin.router,
    inventory.router,
    stock.router,
    approvals.router,
    procurement.router,
)


def is_web(request: Request) -> bool:
    path = request.url.path
    return path == "/web" or path.startswith("/web/")


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = request.headers.get("hx-current-url") or "/web/dashboard"
    parts = urlsplit(target)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    location = "/web/login?next=" + quote(path, safe="/")
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def error_page(request: Request, status: int, code: str, message: str | None = None) -> Response:
    if getattr(request.state, "web_user", None) is None:
        await current_web_user(request)
    locale = locale_of(request)
    return render(
        request,
        "errors/error.html",
        {"status": status, "code": code, "message": message, "title_text": _error_title(locale, status)},
        status=status,
    )


def _error_title(locale: str, status: int) -> str:
    titles = {
        403: "You do not have permission to do this.",
        404: "Not found, or not visible to you.",
        409: "This changed in the meantime.",
        422: "The request is not valid.",
        429: "Too many attempts. Wait and try again.",
        500: "Something went wrong.",
    }
    return i18n.translate(locale, titles.get(status, "The request could not be completed."))


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the UI on `app`: routes, static files, `/` → `/web/`, HTML error pages under /web/."""
    app.state.ui = make_ui_state(settings)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/web/static/{path:path}", include_in_schema=False)
    async def static(request: Request, path: str, v: Annotated[str | None, Query(max_length=64)] = None) -> Response:
        return static_response(ui_state(request).assets, path, v, request.headers.get("accept-encoding", ""))

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/web/", status_code=307)

    paths = {r.path for router in ROUTERS for r in router.routes if isinstance(r, Route) and "GET" in (r.methods or ())}
    app.state.ui.available_pages = frozenset(item.key for item in nav.NAV if item.url.split("?")[0] in paths)

    async def depotflow_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DepotflowError)
        if not is_web(request):
            return await problems.handle_depotflow_error(request, exc)
        if isinstance(exc, NotSignedIn) or exc.status == 401:
            return _login_redirect(request)
        if isinstance(exc, PasswordChangeNeeded):
            if is_htmx(request):
                return Response(status_code=403, headers={"HX-Redirect": "/web/account"})
            return RedirectResponse("/web/account", status_code=303)
        return await error_page(request, exc.status, exc.code, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not is_web(request):
            return await problems.handle_http_exception(request, exc)
        return await error_page(request, exc.status_code, f"http.{exc.status_code}")

    async def validation_error(request: Request, exc: Exception) -> Response:
        if not is_web(request):
            return await problems.handle_validation_error(request, exc)
        return await error_page(request, 422, "request.validation_failed")

    app.add_exception_handler(DepotflowError, depotflow_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
