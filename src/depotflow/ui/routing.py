"""UI route declarations: every page or action names the API route it mirrors (ui.md §4.3), which
the permission-parity test compares."""

from typing import Any

from fastapi import APIRouter


def mirrors(*api_routes: str) -> dict[str, Any]:
    """`openapi_extra` for a UI route: the API routes ("METHOD /path") it is the browser form of."""
    return {"x-api-equivalent": list(api_routes)}


def ui_router() -> APIRouter:
    return APIRouter(prefix="/web", include_in_schema=False)
