"""Account administration: sign-in locks, administrator password resets and sessions (ui.md F6, A3)."""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_reason
from depotflow.core.security import Actor, hash_password
from depotflow.core.settings import SecuritySettings
from depotflow.domains.audit import service as audit_service
from depotflow.domains.identity import repository as identity_repo
from depotflow.domains.identity.errors import (
    CannotResetOwnPassword,
    CurrentSession,
    ExternallyManagedUser,
    SessionNotFound,
    UserNotLocked,
)
from depotflow.domains.identity.models import User
from depotflow.domains.identity.schemas import LoginLockRead, SessionRead
from depotflow.domains.identity.service.tokens import invalidate_tokens, revoke_all_tokens
from depotflow.domains.identity.service.users import check_password_policy, get_user

USER_LOCK = "user"  # the throttle kind that counts failures per account (the other is per address)


def user_lock_key(username: str) -> str:
    """The throttle key of an account, as the login counts it (case-insensitive)."""
    return username.lower()[:150]


def _aware(value: datetime) -> datetime:
    # Stored times are UTC; a naive value (not expected from UTCDateTime) is read as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def login_locks(session: AsyncSession, /, *, usernames: Sequence[str]) -> dict[str, datetime]:
    """Until when sign-in is locked after failed attempts, for those of `usernames` locked now.

    Only the per-account lock is reported: a lock on an address is not the account's.
    """
    keys = {user_lock_key(name): name for name in usernames}
    now = utcnow()
    found = await identity_repo.find_locks(session, USER_LOCK, list(keys))
    return {keys[key]: _aware(until) for key, until in found.items() if _aware(until) > now}


async def login_lock(session: AsyncSession, /, *, username: str) -> datetime | None:
    """Until when sign-in is locked for this account after failed attempts; None when it is not."""
    return (await login_locks(session, usernames=[username])).get(username)


async def lock_status(session: AsyncSession, /, *, user_id: int) -> LoginLockRead:
    """Whether an account is locked after failed sign-ins, and until when.

    Raises: UserNotFound.
    """
    user = await get_user(session, user_id)
    until = await login_lock(session, username=user.username)
    return LoginLockRead(user_id=user.id, username=user.username, locked=until is not None, locked_until=until)


async def unlock_user(session: AsyncSession, actor: Actor, /, *, user_id: int, reason: str) -> LoginLockRead:
    """Lift the lock a run of failed sign-ins put on an account; its failure count starts again.

    The throttle is not audited row by row, so the unlock is an explicit trail event
    (`identity.user_unlocked`) carrying the reason. A lock on an address is left alone.

    Raises: UserNotFound, UserNotLocked.
    """
    user = await get_user(session, user_id)
    now = utcnow()
    # Row lock before the trail's head, the order a failed login takes them in.
    throttle = await identity_repo.find_throttle_for_update(session, USER_LOCK, user_lock_key(user.username))
    if throttle is None or throttle.locked_until is None or _aware(throttle.locked_until) <= now:
        raise UserNotLocked(
            f"User {user.username} is not locked out.", details={"user_id": user.id, "username": user.username}
        )
    until = _aware(throttle.locked_until)
    throttle.locked_until = None
    throttle.failures = 0
    throttle.window_started_at = now
    await session.flush()
    set_reason(session.sync_session, reason)
    await audit_service.record(
        session,
        action="identity.user_unlocked",
        entity_type="identity_user",
        entity_id=user.id,
        details={"username": user.username, "locked_until": until},
    )
    return LoginLockRead(user_id=user.id, username=user.username, locked=False, locked_until=None)


async def reset_password(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    user_id: int,
    temporary_password: str,
    reason: str,
    security: SecuritySettings,
) -> User:
    """An administrator sets a temporary password: the user must change it at the next sign-in, and
    every session of theirs ends now. Audited as the user's change plus `identity.password_reset`.

    Raises: UserNotFound, CannotResetOwnPassword, ExternallyManagedUser, WeakPassword.
    """
    user = await get_user(session, user_id)
    if actor.user_id == user.id:
        raise CannotResetOwnPassword("Change your own password on your account page instead.")
    if user.auth_source != "local":
        raise ExternallyManagedUser("This account's password is managed by the identity server.")
    check_password_policy(temporary_password, user.username, security)
    set_reason(session.sync_session, reason)
    user.password_hash = await hash_password(temporary_password)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    revoked = await revoke_all_tokens(session, user.id, reason="password_reset")
    invalidate_tokens(session)
    await session.flush()
    await audit_service.record(
        session,
        action="identity.password_reset",
        entity_type="identity_user",
        entity_id=user.id,
        details={"username": user.username, "sessions_revoked": revoked},
    )
    session.expire(user)
    return await get_user(session, user_id)


async def revoke_sessions(session: AsyncSession, actor: Actor, /, *, user_id: int, reason: str) -> int:
    """End every live session and token of a user (for oneself: every other one); returns how many.

    Raises: UserNotFound.
    """
    user = await get_user(session, user_id)
    set_reason(session.sync_session, reason)
    keep = actor.token_id if actor.user_id == user.id else None
    revoked = await revoke_all_tokens(session, user.id, reason="revoked_by_admin", keep_token_id=keep)
    await session.flush()
    await audit_service.record(
        session,
        action="identity.sessions_revoked",
        entity_type="identity_user",
        entity_id=user.id,
        details={"username": user.username, "sessions_revoked": revoked},
    )
    return revoked


async def list_sessions(
    session: AsyncSession, /, *, user_id: int, current_token_id: int | None = None
) -> list[SessionRead]:
    """A user's live sessions and tokens, newest first.

    Raises: UserNotFound.
    """
    user = await get_user(session, user_id)
    rows = await identity_repo.list_live_sessions(session, user.id, utcnow())
    return [
        SessionRead(
            id=token.id,
            kind=token.kind,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_seen_at=last_seen if last_seen is not None else (token.created_at if token.kind == "web" else None),
            ip_address=token.ip_address,
            user_agent=token.user_agent,
            current=token.id == current_token_id,
        )
        for token, last_seen in rows
    ]


async def revoke_own_session(session: AsyncSession, actor: Actor, /, *, token_id: int) -> None:
    """End one of the actor's other sessions (the current one ends by signing out).

    Raises: SessionNotFound (not the actor's, unknown, already ended), CurrentSession.
    """
    if token_id == actor.token_id:
        raise CurrentSession("This is the session you are using; sign out to end it.")
    api_token = await identity_repo.find_token(session, token_id)
    now = utcnow()
    if (
        api_token is None
        or api_token.user_id != actor.user_id
        or api_token.revoked_at is not None
        or _aware(api_token.expires_at) <= now
    ):
        raise SessionNotFound(f"You have no active session {token_id}.", details={"session_id": token_id})
    api_token.revoked_at = now
    api_token.revoked_reason = "revoked_by_user"
    invalidate_tokens(session)
    await session.flush()
    await audit_service.record(
        session,
        action="auth.session_revoked",
        entity_type="identity_user",
        entity_id=actor.user_id,
        details={"session_id": token_id, "kind": api_token.kind},
    )
