"""FastAPI dependencies shared by routers: the unit of work, authorization and list parameters."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.context import ChangeContext, request_id_var, set_change_context
from depotflow.core.db import Database
from depotflow.core.errors import DepotflowError, FieldError, InvalidLimit, PasswordChangeRequired, PermissionDenied
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.core.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REASON_HEADER = "x-change-reason"

Authenticator = Callable[[Request], Awaitable[Actor]]

T = TypeVar("T")


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_actor(request: Request) -> Actor:
    """The actor authenticated for this request, anonymous until a Requirement resolved one."""
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, Actor) else Actor.anonymous()


def change_context(request: Request, actor: Actor) -> ChangeContext:
    reason = request.headers.get(REASON_HEADER)
    if reason:
        # HTTP headers arrive as Latin-1; clients send UTF-8 ("preț" must not be stored garbled).
        reason = reason.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    return ChangeContext(
        actor=actor,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        request_id=request_id_var.get(),
        reason=reason[:1000] if reason else None,
    )


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: commit before the response, roll back on any error.

    Errors marked `commit_before_raise` (a failed login) keep what was written before them.
    """
    db: Database = request.app.state.db
    session = db.session(write=request.method not in SAFE_METHODS)
    # The actor is resolved by the route's Requirement, possibly after the session was created.
    set_change_context(session.sync_session, lambda: change_context(request, request_actor(request)))
    try:
        yield session
        if session.in_transaction():
            await session.commit()
    except DepotflowError as exc:
        if exc.commit_before_raise:
            await session.commit()
        else:
            await session.rollback()
        raise
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A second, read-only session for work that must not hold the write lock (password checks)."""
    db: Database = request.app.state.db
    session = db.session(write=False)
    try:
        yield session
    finally:
        await session.close()


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


class Requirement:
    """A route's authorization: authenticated, and holding `permission` when one is named."""

    def __init__(self, permission: str | None) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Actor:
        authenticator: Authenticator = request.app.state.authenticator
        actor = await authenticator(request)
        if self.permission is not None and actor.password_change_required:
            raise PasswordChangeRequired(
                "Change your password first (POST /api/auth/password).",
                details={"required_permission": self.permission},
            )
        if self.permission is not None and not actor.has(self.permission):
            raise PermissionDenied(
                "You do not have permission to perform this action.",
                details={"required_permission": self.permission},
            )
        request.state.actor = actor
        return actor

    def __repr__(self) -> str:
        return f"Requirement({self.permission!r})"


def require(permission: str) -> Requirement:
    """Dependency: the authenticated actor, who must hold `permission`."""
    return Requirement(permission)


authenticated = Requirement(None)
AuthenticatedActor = Annotated[Actor, Depends(authenticated)]


@dataclass(frozen=True, slots=True)
class ListParams:
    page: PageRequest
    sort: str | None
    search: str | None


async def list_params(
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
    limit: Annotated[int | None, Query(ge=1, description="Rows per page (default and maximum are settings)")] = None,
    sort: Annotated[
        str | None,
        Query(max_length=200, description="Comma-separated fields, `-` for descending, e.g. `-created_at,name`"),
    ] = None,
    search: Annotated[str | None, Query(max_length=200, description="Case-insensitive substring search")] = None,
) -> ListParams:
    """Native list parameters; a limit above the configured maximum is refused."""
    listing = request.app.state.settings.listing
    if limit is not None and limit > listing.max_limit:
        raise InvalidLimit(
            f"limit must be at most {listing.max_limit}.",
            fields=[FieldError(("query", "limit"), "less_than_equal", f"must be <= {listing.max_limit}")],
        )
    page = PageRequest(offset=offset, limit=limit if limit is not None else listing.default_limit)
    return ListParams(page=page, sort=sort, search=search or None)


ListParamsDep = Annotated[ListParams, Depends(list_params)]


class ListEnvelope(BaseModel, Generic[T]):
    """The native list shape."""

    items: list[T]
    total: int
    offset: int
    limit: int | None


def envelope(page: Page[Any], items: list[T]) -> ListEnvelope[T]:
    return ListEnvelope[T](items=items, total=page.total, offset=page.offset, limit=page.limit)
