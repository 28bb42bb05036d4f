"""Login with throttling and lockout (local or InvenTree), logout, password changes, staff refresh."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_actor
from depotflow.core.security import (
    Actor,
    hash_password,
    new_token,
    password_needs_rehash,
    seal,
    token_digest,
    unseal,
    verify_password,
)
from depotflow.core.settings import IdentitySettings, SecuritySettings
from depotflow.domains.audit import service as audit_service
from depotflow.domains.identity import repository as identity_repo
from depotflow.domains.identity.errors import (
    ExternallyManagedUser,
    IdentityServerUnavailable,
    InvalidCredentials,
    InvalidToken,
    LoginLocked,
)
from depotflow.domains.identity.models import ApiToken, User
from depotflow.domains.identity.service.tokens import invalidate_tokens, revoke_all_tokens
from depotflow.domains.identity.service.users import (
    ADMIN_ROLE_SLUG,
    DEFAULT_ROLE_SLUG,
    check_password_policy,
    ensure_admin_remains,
    get_user,
    is_admin_user,
)
from depotflow.domains.identity.upstream import InvenTreeIdentity, UpstreamError, UpstreamUser


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


def _retry_after(until: datetime, now: datetime) -> dict[str, str]:
    return {"Retry-After": str(max(1, int((until - now).total_seconds()) + 1))}


async def _check_locks(session: AsyncSession, keys: Sequence[tuple[str, str]], now: datetime, username: str) -> None:
    for kind, key in keys:
        throttle = await identity_repo.lock_throttle(session, kind, key, now)
        if throttle.locked_until is not None and throttle.locked_until > now:
            await audit_service.record(
                session,
                action="auth.login_locked",
                entity_type="identity_user" if kind == "user" else None,
                details={"username": username, "locked": kind, "locked_until": throttle.locked_until},
            )
            raise LoginLocked(
                "Too many failed logins; try again later.",
                details={"locked_until": throttle.locked_until.isoformat()},
                headers=_retry_after(throttle.locked_until, now),
            )


async def _fail(
    session: AsyncSession,
    security: SecuritySettings,
    keys: Sequence[tuple[str, str]],
    now: datetime,
    *,
    username: str,
    reason: str,
    user: User | None,
) -> InvalidCredentials | LoginLocked:
    """Count a failed attempt for every key, audit it, and build the error to raise."""
    window = timedelta(seconds=security.login_window_seconds)
    worst = 0
    locked_until: datetime | None = None
    for kind, key in keys:
        throttle = await identity_repo.lock_throttle(session, kind, key, now)
        if throttle.window_started_at + window < now:
            throttle.failures = 0
            throttle.window_started_at = now
        throttle.failures += 1
        limit = security.login_lock_after_user if kind == "user" else security.login_lock_after_address
        if throttle.failures >= limit:
            throttle.locked_until = now + timedelta(seconds=security.login_lock_seconds)
            throttle.failures = 0
            throttle.window_started_at = now
            locked_until = throttle.locked_until
        worst = max(worst, throttle.failures)
    await session.flush()
    await audit_service.record(
        session,
        action="auth.login_failed",
        entity_type="identity_user" if user else None,
        entity_id=user.id if user else None,
        details={"username": username, "reason": reason, "locked": locked_until is not None},
    )
    if locked_until is not None:
        await audit_service.record(
            session,
            action="auth.login_locked",
            entity_type="identity_user" if user else None,
            entity_id=user.id if user else None,
            details={"username": username, "locked_until": locked_until},
        )
        return LoginLocked(
            "Too many failed logins; try again later.",
            details={"locked_until": locked_until.isoformat()},
            headers=_retry_after(locked_until, now),
        )
    error = InvalidCredentials("Invalid credentials. Please check your username and password.")
    over = worst - security.login_slowdown_after
    if over >= 0:
        error.delay_seconds = min(
            security.login_slowdown_max_seconds, security.login_slowdown_step_seconds * (over + 1)
        )
    return error


async def login(
    session: AsyncSession,
    /,
    *,
    username: str,
    password: str,
    ip_address: str | None,
    user_agent: str | None,
    security: SecuritySettings,
    identity: IdentitySettings,
) -> LoginResult:
    """Check credentials (locally or against InvenTree) and issue a token.

    Raises: InvalidCredentials, LoginLocked, IdentityServerUnavailable.
    """
    now = utcnow()
    keys = [("user", username.lower()[:150]), ("address", (ip_address or "unknown")[:150])]
    await _check_locks(session, keys, now, username)

    upstream_token: str | None = None
    if identity.mode == "inventree":
        assert identity.inventree_url is not None
        client = InvenTreeIdentity(identity.inventree_url, timeout=identity.inventree_timeout_seconds)
        try:
            upstream_token = await client.obtain_token(username, password)
            remote = None if upstream_token is None else await client.me(upstream_token)
        except UpstreamError as exc:
            await audit_service.record(
                session, action="auth.login_error", details={"username": username, "error": str(exc)}
            )
            raise IdentityServerUnavailable("The identity server (InvenTree) cannot be reached.") from exc
        if remote is None:
            existing = await identity_repo.find_user_by_username(session, username)
            raise await _fail(
                session, security, keys, now, username=username, reason="rejected_by_identity_server", user=existing
            )
        user = await _upsert_remote_user(session, remote, now)
        if not user.is_active:
            raise await _fail(session, security, keys, now, username=username, reason="inactive", user=user)
    else:
        found = await identity_repo.find_user_by_username(session, username)
        if found is None:
            await verify_password(None, password)
            raise await _fail(session, security, keys, now, username=username, reason="unknown_user", user=None)
        user = found
        if not await verify_password(user.password_hash, password):
            raise await _fail(session, security, keys, now, username=username, reason="bad_password", user=user)
        if not user.is_active:
            raise await _fail(session, security, keys, now, username=username, reason="inactive", user=user)
        if user.password_hash and password_needs_rehash(user.password_hash):
            user.password_hash = await hash_password(password)

    set_actor(session.sync_session, _actor_of(user))
    await identity_repo.reset_throttle(session, "user", keys[0][1])
    raw = new_token()
    api_token = ApiToken(
        user_id=user.id,
        token_hash=token_digest(raw),
        created_at=now,
        expires_at=now + timedelta(minutes=security.token_ttl_minutes),
        ip_address=ip_address,
        user_agent=(user_agent or None) and user_agent[:512],
        upstream_sealed=seal(raw, upstream_token) if upstream_token else None,
    )
    session.add(api_token)
    user.last_login_at = now
    await session.flush()
    await audit_service.record(
        session,
        action="auth.login",
        entity_type="identity_user",
        entity_id=user.id,
        details={"identity_server": identity.mode, "token_id": api_token.id, "is_staff": is_admin_user(user)},
    )
    return LoginResult(token=raw, expires_at=api_token.expires_at, user=user)


def _actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        permissions=frozenset(user.role.permissions if user.role else ()),
        display_name=user.full_name,
        role_id=user.role_id,
    )


async def _upsert_remote_user(session: AsyncSession, remote: UpstreamUser, now: datetime) -> User:
    user = await identity_repo.find_user_by_username(session, remote.username)
    if user is None:
        user = User(username=remote.username, password_hash=None, auth_source="inventree", is_active=True)
        session.add(user)
    user.auth_source = "inventree"
    user.first_name = remote.first_name
    user.last_name = remote.last_name
    user.email = remote.email
    await _apply_staff(session, user, remote.is_staff)
    await session.flush()
    refreshed = await identity_repo.find_user(session, user.id)
    assert refreshed is not None
    return refreshed


async def _apply_staff(session: AsyncSession, user: User, is_staff: bool) -> None:
    """Staff on the identity server means our admin role; losing it falls back to the default role."""
    admin_role = await identity_repo.find_role_by_slug(session, ADMIN_ROLE_SLUG)
    default_role = await identity_repo.find_role_by_slug(session, DEFAULT_ROLE_SLUG)
    if is_staff and admin_role is not None:
        user.role_id = admin_role.id
    elif not is_staff and (user.role_id is None or (admin_role is not None and user.role_id == admin_role.id)):
        user.role_id = default_role.id if default_role is not None else None


async def logout(session: AsyncSession, actor: Actor, /) -> None:
    """Revoke the token the actor is using."""
    if actor.token_id is None:
        return
    api_token = await identity_repo.find_token(session, actor.token_id)
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
        api_token.revoked_reason = "logout"
        await session.flush()
        await audit_service.record(session, action="auth.logout", entity_type="identity_user", entity_id=actor.user_id)
    invalidate_tokens(session)


async def change_own_password(
    session: AsyncSession, actor: Actor, /, *, current_password: str, new_password: str, security: SecuritySettings
) -> None:
    """Change the actor's password; every other token of theirs is revoked.

    Raises: InvalidCredentials, WeakPassword, ExternallyManagedUser.
    """
    user = await get_user(session, actor.user_id or 0)
    if user.auth_source != "local":
        raise ExternallyManagedUser("This account's password is managed by the identity server.")
    if not await verify_password(user.password_hash, current_password):
        raise InvalidCredentials("The current password is not correct.")
    check_password_policy(new_password, user.username, security)
    user.password_hash = await hash_password(new_password)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    await revoke_all_tokens(session, user.id, reason="password_changed", keep_token_id=actor.token_id)
    await session.flush()


async def refresh_staff_status(
    session: AsyncSession, actor: Actor, /, *, raw_token: str, identity: IdentitySettings
) -> tuple[bool, str]:
    """Re-read the staff flag: from InvenTree in InvenTree mode, else the stored value.

    Raises: IdentityServerUnavailable, InvalidToken (InvenTree no longer accepts the user's token).
    """
    user = await get_user(session, actor.user_id or 0)
    if identity.mode != "inventree" or user.auth_source != "inventree":
        return is_admin_user(user), "local"
    assert identity.inventree_url is not None
    api_token = await identity_repo.find_token(session, actor.token_id or 0)
    upstream = unseal(raw_token, api_token.upstream_sealed) if api_token and api_token.upstream_sealed else None
    if upstream is None:
        raise InvalidToken("This session holds no identity-server token; log in again.")
    client = InvenTreeIdentity(identity.inventree_url, timeout=identity.inventree_timeout_seconds)
    try:
        remote = await client.me(upstream)
    except UpstreamError as exc:
        raise IdentityServerUnavailable("The identity server (InvenTree) cannot be reached.") from exc
    if remote is None:
        raise InvalidToken("The identity server no longer accepts this session; log in again.")
    before = user.role_id
    await _apply_staff(session, user, remote.is_staff)
    if user.role_id != before:
        invalidate_tokens(session)
        await session.flush()
        await ensure_admin_remains(session)
    refreshed = await get_user(session, user.id)
    return is_admin_user(refreshed), "inventree"
