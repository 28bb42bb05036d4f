"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from depotflow import __version__
from depotflow.core.db import Database

router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "healthy", "version": __version__}


@router.get("/health/ready", responses={503: {"description": "The database is not reachable"}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers a query."""
    db: Database = request.app.state.db
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": db.dialect})
