"""Route conventions: operation ids `<tag>_<function>` and the explicit list of public routes."""

from fastapi.routing import APIRoute

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
