"""create_app(): builds the FastAPI application, its middleware, handlers and routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from depotflow import __version__, wiring
from depotflow.api import native
from depotflow.core.db import Database
from depotflow.core.settings import Settings, get_settings
from depotflow.domains.file.storage import LocalBlobStore
from depotflow.ui import app as ui_app
from depotflow.web import problems
from depotflow.web.middleware import BodyLimitMiddleware, RequestContextMiddleware
from depotflow.web.routing import operation_id


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """The application; the database engine is created at startup unless one is given."""
    settings = settings or get_settings()
    wiring.configure()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.db = database or Database(settings.resolved_database_url)
        try:
            yield
        finally:
            if owned:
                await app.state.db.dispose()

    app = FastAPI(
        title="depotflow",
        version=__version__,
        description="Operations platform for regulated manufacturers, with an InvenTree-compatible API.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.authenticator = wiring.make_authenticator(settings)
    # Files are content-addressed under the data directory, created on the first upload.
    app.state.blob_store = LocalBlobStore(settings.data_dir / "files")
    if database is not None:
        app.state.db = database
    problems.install(app)
    native.include_routers(app)
    ui_app.install(app, settings)

    # Outermost first: request id and security headers on everything (CORS preflights included),
    # then CORS, so that a 413 from the body limit still carries the headers an allowed origin needs.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.http.max_body_bytes)
    if settings.http.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "X-Change-Reason"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware)
    return app
