"""Login with throttling and lockout (local or InvenTree), logout, password changes, staff refresh."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_actor
from depotflow.core.errors import FieldError
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
    PasswordRejected,
    WrongCurrentPassword,
)
from depotflow.domains.identity.models import ApiToken, User
from depotflow.domains.identity.service.tokens import invalidate_tokens, revoke_all_tokens
from depotflow.domains.identity.service.users import (
    ADMIN_ROLE_SLUG,
    DEFAULT_ROLE_SLUG,
    check_password_policy,
    get_user,
    is_admin_user,
)
from depotflow.domains.identity.upstream import InvenTreeIdentity, UpstreamError, UpstreamUser


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True, slots=True)
class LoginCheck:
    """What the lock-free first phase of a login found; `complete_login` acts on it."""

    username: str
    keys: tuple[tuple[str, str], ...]
    outcome: Literal["ok", "locked", "failed", "upstream_error"]
    reason: str = ""
    user_id: int | None = None
    new_password_hash: str | None = None
    remote: UpstreamUser | None = None
    upstream_token: str | None = None
    locked_until: datetime | None = None
    locked_kind: str | None = None


def _retry_after(until: datetime, now: datetime) -> dict[str, str]:
    return {"Retry-After": str(max(1, int((until - now).total_seconds()) + 1))}


def _keys(username: str, ip_address: str | None) -> tuple[tuple[str, str], ...]:
    return (("user", username.lower()[:150]), ("address", (ip_address or "unknown")[:150]))


def _active_lock(locks: dict[tuple[str, str], datetime], now: datetime) -> tuple[datetime, str] | None:
    current = [(until, kind) for (kind, _key), until in locks.items() if until > now]
    return max(current) if current else None


async def check_login(
    session: AsyncSession,
    /,
    *,
    username: str,
    password: str,
    ip_address: str | None,
    identity: IdentitySettings,
) -> LoginCheck:
    """First phase of a login: read locks, verify the password (or ask InvenTree); writes nothing.

    Runs on a read-only session so that the slow parts (argon2, the identity server) hold no lock.
    """
    keys = _keys(username, ip_address)
    now = utcnow()
    lock = _active_lock(await identity_repo.find_locked_until(session, keys), now)
    if lock is not None:
        return LoginCheck(username=username, keys=keys, outcome="locked", locked_until=lock[0], locked_kind=lock[1])

    if identity.mode == "inventree":
        assert identity.inventree_url is not None
        client = InvenTreeIdentity(identity.inventree_url, timeout=identity.inventree_timeout_seconds)
        try:
            upstream_token = await client.obtain_token(username, password)
            remote = None if upstream_token is None else await client.me(upstream_token)
        except UpstreamError as exc:
            return LoginCheck(username=username, keys=keys, outcome="upstream_error", reason=str(exc))
        if remote is None:
            existing = await identity_repo.find_user_by_username(session, username)
            return LoginCheck(
                username=username,
                keys=keys,
                outcome="failed",
                reason="rejected_by_identity_server",
                user_id=existing.id if existing else None,
            )
        return LoginCheck(username=username, keys=keys, outcome="ok", remote=remote, upstream_token=upstream_token)

    user = await identity_repo.find_user_by_username(session, username)
    if user is None:
        await verify_password(None, password)
        return LoginCheck(username=username, keys=keys, outcome="failed", reason="unknown_user")
    if not await verify_password(user.password_hash, password):
        return LoginCheck(username=username, keys=keys, outcome="failed", reason="bad_password", user_id=user.id)
    if not user.is_active:
        return LoginCheck(username=username, keys=keys, outcome="failed", reason="inactive", user_id=user.id)
    rehash = None
    if user.password_hash and password_needs_rehash(user.password_hash):
        rehash = await hash_password(password)
    return LoginCheck(username=username, keys=keys, outcome="ok", user_id=user.id, new_password_hash=rehash)


async def _locked_error(
    session: AsyncSession,
    check: LoginCheck,
    until: datetime,
    now: datetime,
    *,
    user_id: int | None,
    refused: str | None = None,
) -> LoginLocked:
    details: dict[str, object] = {"username": check.username, "locked_until": until}
    if refused is not None:
        details["locked"] = refused  # an attempt refused because this key is locked
    await audit_service.record(
        session,
        action="auth.login_locked",
        entity_type="identity_user" if user_id is not None else None,
        entity_id=user_id,
        details=details,
    )
    return LoginLocked(
        "Too many failed logins; try again later.",
        details={"locked_until": until.isoformat()},
        headers=_retry_after(until, now),
    )


async def _fail(
    session: AsyncSession,
    security: SecuritySettings,
    check: LoginCheck,
    now: datetime,
    *,
    action: str = "auth.login_failed",
) -> InvalidCredentials | LoginLocked:
    """Count a failed attempt for every key, audit it, and build the error to raise."""
    window = timedelta(seconds=security.login_window_seconds)
    await identity_repo.prune_throttles(session, stale_before=now - window, now=now)
    throttles = [(kind, await identity_repo.lock_throttle(session, kind, key, now)) for kind, key in check.keys]
    for kind, throttle in throttles:
        # Locked by a concurrent attempt since this one was checked: refused, not counted again.
        if throttle.locked_until is not None and throttle.locked_until > now:
            return await _locked_error(session, check, throttle.locked_until, now, user_id=check.user_id, refused=kind)
    worst = 0
    locked_until: datetime | None = None
    for kind, throttle in throttles:
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
        action=action,
        entity_type="identity_user" if check.user_id is not None else None,
        entity_id=check.user_id,
        details={"username": check.username, "reason": check.reason, "locked": locked_until is not None},
    )
    if locked_until is not None:
        return await _locked_error(session, check, locked_until, now, user_id=check.user_id)
    error = InvalidCredentials("Invalid credentials. Please check your username and password.")
    # After `slowdown_after` failures, each further one waits one more step (SecuritySettings).
    over = worst - security.login_slowdown_after
    if over > 0:
        error.delay_seconds = min(security.login_slowdown_max_seconds, security.login_slowdown_step_seconds * over)
    return error


async def complete_login(
    session: AsyncSession,
    /,
    check: LoginCheck,
    *,
    ip_address: str | None,
    user_agent: str | None,
    security: SecuritySettings,
    identity: IdentitySettings,
    kind: Literal["api", "web"] = "api",
    ttl_minutes: int | None = None,
) -> LoginResult:
    """Second phase of a login: record the attempt and, when it succeeded, issue a token.

    `kind="web"` issues a browser session (accepted only from the UI's cookie) that expires after
    `ttl_minutes` unless `extend_web_session` slides it on.

    A failed attempt, a lock and an unreachable identity server are committed before the error is
    raised, so the throttle counters and the audit trail keep them.

    Raises: InvalidCredentials, LoginLocked, IdentityServerUnavailable.
    """
    now = utcnow()
    if check.outcome == "locked":
        assert check.locked_until is not None
        raise await _locked_error(session, check, check.locked_until, now, user_id=None, refused=check.locked_kind)
    if check.outcome == "upstream_error":
        await audit_service.record(
            session, action="auth.login_error", details={"username": check.username, "error": check.reason}
        )
        raise IdentityServerUnavailable("The identity server (InvenTree) cannot be reached.")
    if check.outcome == "failed":
        raise await _fail(session, security, check, now)

    # Attempts that were in flight while the account got locked must not slip through.
    for key_kind, key in check.keys:
        throttle = await identity_repo.lock_throttle(session, key_kind, key, now)
        if throttle.locked_until is not None and throttle.locked_until > now:
            raise await _locked_error(
                session, check, throttle.locked_until, now, user_id=check.user_id, refused=key_kind
            )

    if check.remote is not None:
        user = await _upsert_remote_user(session, check.remote)
        if not user.is_active:
            raise await _fail(session, security, replace(check, reason="inactive", user_id=user.id), now)
    else:
        assert check.user_id is not None
        user = await get_user(session, check.user_id)
        if not user.is_active:  # deactivated between the two phases
            raise await _fail(session, security, replace(check, reason="inactive"), now)
        if check.new_password_hash:
            user.password_hash = check.new_password_hash

    set_actor(session.sync_session, _actor_of(user))
    await identity_repo.reset_throttle(session, "user", check.keys[0][1])
    raw = new_token()
    api_token = ApiToken(
        user_id=user.id,
        token_hash=token_digest(raw),
        kind=kind,
        created_at=now,
        expires_at=now + timedelta(minutes=ttl_minutes or security.token_ttl_minutes),
        ip_address=ip_address,
        user_agent=(user_agent or None) and user_agent[:512],
        upstream_sealed=seal(raw, check.upstream_token) if check.upstream_token else None,
    )
    session.add(api_token)
    user.last_login_at = now
    await session.flush()
    await audit_service.record(
        session,
        action="auth.login",
        entity_type="identity_user",
        entity_id=user.id,
        details={
            "identity_server": identity.mode,
            "token_id": api_token.id,
            "is_staff": is_admin_user(user),
            "session": kind,
        },
    )
    return LoginResult(token=raw, expires_at=api_token.expires_at, user=user)


async def confirm_password(
    session: AsyncSession, actor: Actor, /, check: LoginCheck, *, security: SecuritySettings, purpose: str
) -> None:
    """Second phase of a password re-entry (an electronic signature): the check must be the actor's.

    A wrong password counts toward the login lockout and is audited as `auth.reauthentication_failed`
    (committed although the request fails).

    Raises: PasswordRejected, LoginLocked, IdentityServerUnavailable.
    """
    now = utcnow()
    mine = check.username == actor.username
    if check.outcome == "locked":
        assert check.locked_until is not None
        raise await _locked_error(
            session, check, check.locked_until, now, user_id=actor.user_id, refused=check.locked_kind
        )
    if check.outcome == "upstream_error":
        await audit_service.record(
            session, action="auth.login_error", details={"username": check.username, "error": check.reason}
        )
        raise IdentityServerUnavailable("The identity server (InvenTree) cannot be reached.")
    if check.outcome == "ok" and mine and (check.user_id in (None, actor.user_id)):
        # As in `complete_login`: a lock taken since the lock-free check refuses the password, and
        # must not be lifted by the reset below.
        for kind, key in check.keys:
            throttle = await identity_repo.lock_throttle(session, kind, key, now)
            if throttle.locked_until is not None and throttle.locked_until > now:
                raise await _locked_error(
                    session, check, throttle.locked_until, now, user_id=actor.user_id, refused=kind
                )
        await identity_repo.reset_throttle(session, "user", check.keys[0][1])
        return
    failed = replace(check, outcome="failed", reason=check.reason or "bad_password", user_id=actor.user_id)
    error = await _fail(session, security, failed, now, action="auth.reauthentication_failed")
    if isinstance(error, LoginLocked):
        raise error
    rejected = PasswordRejected(
        f"The password is not correct; {purpose} was not recorded.",
        fields=[FieldError(("body", "password"), "password_rejected", "is not your current password")],
    )
    rejected.delay_seconds = error.delay_seconds
    raise rejected


def _actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        permissions=frozenset(user.role.permissions if user.role else ()),
        display_name=user.full_name,
        role_id=user.role_id,
    )


async def _upsert_remote_user(session: AsyncSession, remote: UpstreamUser) -> User:
    user = await identity_repo.find_user_by_username(session, remote.username)
    if user is None:
        user = User(username=remote.username, password_hash=None, auth_source="inventree", is_active=True)
        session.add(user)
    user.auth_source = "inventree"
    user.first_name = remote.first_name
    user.last_name = remote.last_name
    user.email = remote.email
    before = user.role_id
    await _apply_staff(session, user, remote.is_staff)
    if user.role_id != before:
        invalidate_tokens(session)  # the user's other sessions get the new permissions at once
    await session.flush()
    user_id = user.id
    session.expire(user)  # `user.role` still holds the role from before `_apply_staff`
    refreshed = await identity_repo.find_user(session, user_id)
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

    Raises: WrongCurrentPassword, WeakPassword, ExternallyManagedUser.
    """
    user = await get_user(session, actor.user_id or 0)
    if user.auth_source != "local":
        raise ExternallyManagedUser("This account's password is managed by the identity server.")
    if not await verify_password(user.password_hash, current_password):
        await audit_service.record(
            session, action="auth.password_change_failed", entity_type="identity_user", entity_id=user.id
        )
        raise WrongCurrentPassword(
            "The current password is not correct.",
            fields=[FieldError(("body", "current_password"), "wrong_password", "is not the current password")],
        )
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
    if user.role_id == before:
        return is_admin_user(user), "inventree"
    # The identity server decides who is staff: losing it there demotes here, even the last administrator
    # (as at login), otherwise staff revoked in InvenTree would keep administrator rights in depotflow.
    invalidate_tokens(session)
    await session.flush()
    user_id = user.id
    session.expire(user)  # `user.role` still holds the role from before `_apply_staff`
    refreshed = await get_user(session, user_id)
    return is_admin_user(refreshed), "inventree"


async def reauthenticate(
    read_session: AsyncSession,
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    password: str,
    ip_address: str | None,
    security: SecuritySettings,
    identity: IdentitySettings,
    purpose: str,
) -> None:
    """Password re-entry before an electronic signature: both phases of a login for the actor.

    Raises: PasswordRejected, LoginLocked, IdentityServerUnavailable.
    """
    check = await check_login(
        read_session, username=actor.username, password=password, ip_address=ip_address, identity=identity
    )
    await confirm_password(session, actor, check, security=security, purpose=purpose)
