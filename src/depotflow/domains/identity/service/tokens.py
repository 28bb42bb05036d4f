"""Principals, bearer tokens and the per-process token cache."""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_actor
from depotflow.core.security import (
    Actor,
    token_digest,
)
from depotflow.domains.identity import repository as identity_repo
from depotflow.domains.identity.errors import (
    InvalidAuthorizationHeader,
    InvalidToken,
    MissingCredentials,
    TokenExpired,
    TokenRevoked,
    UserInactive,
)
from depotflow.domains.identity.models import ApiToken, User, WebSessionActivity
from depotflow.domains.identity.schemas import (
    Me,
    RoleRef,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user as seen by one request: the actor plus what `/me` shows."""

    actor: Actor
    first_name: str
    last_name: str
    email: str | None
    role: RoleRef | None
    must_change_password: bool
    auth_source: str
    token_expires_at: datetime
    token_kind: str = "api"
    token_created_at: datetime | None = None
    locale: str | None = None


@dataclass(slots=True)
class _TokenCache:
    """Per-process cache of resolved tokens; any revocation or permission change empties it."""

    entries: dict[str, tuple[Principal, float, int]] = field(default_factory=dict)
    epoch: int = 0
    max_entries: int = 10_000

    def get(self, digest: str) -> Principal | None:
        hit = self.entries.get(digest)
        if hit is None:
            return None
        principal, valid_until, epoch = hit
        if epoch != self.epoch or valid_until < time.monotonic() or principal.token_expires_at <= utcnow():
            self.entries.pop(digest, None)
            return None
        return principal

    def put(self, digest: str, principal: Principal, ttl: float, epoch: int) -> None:
        if ttl <= 0 or epoch != self.epoch:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[digest] = (principal, time.monotonic() + ttl, epoch)

    def invalidate(self) -> None:
        self.epoch += 1
        self.entries.clear()


_cache = _TokenCache()
_inflight: dict[str, "asyncio.Future[Principal]"] = {}


def invalidate_tokens(session: AsyncSession) -> None:
    """Empty the token cache now and again once this transaction commits."""
    _cache.invalidate()
    event.listen(session.sync_session, "after_commit", lambda _s: _cache.invalidate(), once=True)


def clear_token_cache() -> None:
    """Forget every cached token (tests, settings changes)."""
    _cache.invalidate()


def parse_authorization(header: str | None) -> str:
    """The token from `Authorization: Bearer <t>` or `Authorization: Token <t>`.

    Raises: MissingCredentials, InvalidAuthorizationHeader.
    """
    if header is None or not header.strip():
        raise MissingCredentials("Authentication credentials were not provided.")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() not in ("bearer", "token") or not value or " " in value or len(value) > 512:
        raise InvalidAuthorizationHeader("Invalid authorization header format; use 'Bearer <token>'.")
    return value


def cached_principal(token: str, *, kind: str = "api") -> Principal | None:
    """The principal for a `kind` token this process resolved recently; never touches the database."""
    principal = _cache.get(token_digest(token))
    return principal if principal is not None and principal.token_kind == kind else None


async def authenticate(session: AsyncSession, token: str, *, cache_seconds: float, kind: str = "api") -> Principal:
    """Resolve a raw token into a principal; concurrent lookups of one token share one query.

    A token of another kind (a browser session presented as a bearer token) is invalid here.

    Raises: InvalidToken, TokenExpired, TokenRevoked, UserInactive.
    """
    principal = await _authenticate_any(session, token, cache_seconds=cache_seconds)
    if principal.token_kind != kind:
        raise InvalidToken("Invalid token.", details={"kind": principal.token_kind})
    return principal


async def _authenticate_any(session: AsyncSession, token: str, *, cache_seconds: float) -> Principal:
    digest = token_digest(token)
    cached = _cache.get(digest)
    if cached is not None:
        return cached
    pending = _inflight.get(digest)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[Principal] = asyncio.get_running_loop().create_future()
    # Waiters re-raise the error themselves; mark it retrieved so nothing logs it as lost.
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    _inflight[digest] = future
    try:
        principal = await _lookup(session, digest, cache_seconds)
    except BaseException as exc:
        future.set_exception(exc)
        raise
    else:
        future.set_result(principal)
        return principal
    finally:
        _inflight.pop(digest, None)


async def _lookup(session: AsyncSession, digest: str, cache_seconds: float) -> Principal:
    epoch = _cache.epoch
    found = await identity_repo.find_token_with_user(session, digest)
    if found is None:
        raise InvalidToken("Invalid token.")
    api_token, user = found
    now = utcnow()
    if api_token.revoked_at is not None:
        raise TokenRevoked("This token has been revoked; log in again.")
    if api_token.expires_at <= now:
        raise TokenExpired("This token has expired; log in again.")
    if not user.is_active:
        raise UserInactive("This account is deactivated.")
    principal = _principal(user, api_token)
    _cache.put(digest, principal, cache_seconds, epoch)
    return principal


def _principal(user: User, api_token: ApiToken) -> Principal:
    role = user.role
    actor = Actor(
        user_id=user.id,
        username=user.username,
        permissions=frozenset(role.permissions if role else ()),
        kind="user",
        token_id=api_token.id,
        display_name=user.full_name,
        role_id=user.role_id,
        password_change_required=user.must_change_password,
    )
    return Principal(
        actor=actor,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        role=RoleRef.model_validate(role) if role else None,
        must_change_password=user.must_change_password,
        auth_source=user.auth_source,
        token_expires_at=api_token.expires_at,
        token_kind=api_token.kind,
        token_created_at=api_token.created_at,
        locale=user.locale,
    )


def me(principal: Principal) -> Me:
    """What the current user may know about themselves."""
    actor = principal.actor
    assert actor.user_id is not None
    return Me(
        id=actor.user_id,
        username=actor.username,
        name=actor.display_name,
        first_name=principal.first_name,
        last_name=principal.last_name,
        email=principal.email,
        is_staff=actor.is_admin,
        staff=actor.is_admin,
        role=principal.role,
        permissions=sorted(actor.permissions),
        must_change_password=principal.must_change_password,
        auth_source=principal.auth_source,
    )


async def revoke_all_tokens(
    session: AsyncSession, user_id: int, *, reason: str, keep_token_id: int | None = None
) -> int:
    now = utcnow()
    revoked = 0
    for api_token in await identity_repo.list_live_tokens(session, user_id, now):
        if api_token.id == keep_token_id:
            continue
        api_token.revoked_at = now
        api_token.revoked_reason = reason
        revoked += 1
    invalidate_tokens(session)
    return revoked


async def web_session_last_seen(session: AsyncSession, principal: Principal, /) -> datetime | None:
    """When the browser session was last used (its start when never since); None for other tokens."""
    token_id = principal.actor.token_id
    if principal.token_kind != "web" or token_id is None:
        return None
    activity = await session.get(WebSessionActivity, token_id)
    return activity.last_seen_at if activity is not None else principal.token_created_at


def web_session_needs_touch(last_seen: datetime | None, /, *, idle_minutes: int) -> bool:
    """True when `touch_web_session` would write: the session went idle, or a minute has passed."""
    if last_seen is None:
        return False
    elapsed = utcnow() - last_seen
    return elapsed > timedelta(minutes=idle_minutes) or elapsed >= timedelta(minutes=1)


async def touch_web_session(session: AsyncSession, principal: Principal, /, *, idle_minutes: int) -> bool:
    """Record activity on a browser session; False (and the session revoked) once it sat idle too long.

    Activity is written at most once a minute; the idle limit is checked on every call.
    """
    token_id = principal.actor.token_id
    if principal.token_kind != "web" or token_id is None:
        return False
    now = utcnow()
    activity = await session.get(WebSessionActivity, token_id)
    last_seen = activity.last_seen_at if activity is not None else principal.token_created_at or now
    if now - last_seen > timedelta(minutes=idle_minutes):
        api_token = await identity_repo.find_token(session, token_id)
        if api_token is not None and api_token.revoked_at is None:
            set_actor(session.sync_session, principal.actor)
            api_token.revoked_at = now
            api_token.revoked_reason = "idle_timeout"
            await session.flush()
        invalidate_tokens(session)
        return False
    if activity is None:
        session.add(WebSessionActivity(token_id=token_id, last_seen_at=now))
    elif now - activity.last_seen_at >= timedelta(minutes=1):
        activity.last_seen_at = now
    await session.flush()
    return True
