"""Route conventions: operation ids `<tag>_<function>` and the explicit list of public routes."""

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

# The only routes reachable without a token. A test proves every other route answers 401 without
# one and 403 without its permission.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("GET", "/health/ready"),
        ("GET", "/api/config/"),
        ("POST", "/api/auth/login"),
    }
)


def operation_id(route: APIRoute) -> str:
    tag = str(route.tags[0]) if route.tags else "depotflow"
    return f"{tag}_{route.name}"


def is_ui_path(path: str) -> bool:
    return path in ("/", "/web") or path.startswith("/web/")


def api_routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) for every API route, including those of included routers; the
    browser UI's routes (`/` and `/web/…`, cookie sessions, tests/ui) are not API routes."""
    found: list[tuple[str, str, APIRoute]] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None or is_ui_path(context.path):
            continue
        for method in sorted((context.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, context.path, route))
    return found
