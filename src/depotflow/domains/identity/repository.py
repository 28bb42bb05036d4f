"""SQL of the identity domain."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from depotflow.core.listing import ColumnLike, Listing, SortField
from depotflow.domains.identity.models import ApiToken, LoginThrottle, Permission, Role, User, WebSessionActivity
from depotflow.domains.identity.schemas import UserFilter

USER_SORTABLE: dict[str, ColumnLike] = {
    "username": User.username,
    "last_login_at": User.last_login_at,
    "created_at": User.created_at,
    "first_name": User.first_name,
    "last_name": User.last_name,
}
USER_SEARCHABLE: Sequence[ColumnLike] = (User.username, User.first_name, User.last_name, User.email)

ROLE_SORTABLE: dict[str, ColumnLike] = {"name": Role.name, "slug": Role.slug, "created_at": Role.created_at}
ROLE_SEARCHABLE: Sequence[ColumnLike] = (Role.name, Role.slug, Role.description)
USER_LISTING = Listing(
    sortable=USER_SORTABLE, pk=User.id, default_sort=[SortField("username")], searchable=USER_SEARCHABLE
)
ROLE_LISTING = Listing(sortable=ROLE_SORTABLE, pk=Role.id, default_sort=[SortField("name")], searchable=ROLE_SEARCHABLE)


def select_users(f: UserFilter) -> Select[User]:
    stmt = select(User).options(selectinload(User.role))
    if f.is_active is not None:
        stmt = stmt.where(User.is_active.is_(f.is_active))
    if f.role_id is not None:
        stmt = stmt.where(User.role_id == f.role_id)
    return stmt


def select_roles() -> Select[Role]:
    return select(Role)


async def find_user(session: AsyncSession, user_id: int) -> User | None:
    return (
        await session.execute(select(User).options(selectinload(User.role)).where(User.id == user_id))
    ).scalar_one_or_none()


async def find_user_by_username(session: AsyncSession, username: str) -> User | None:
    stmt = select(User).options(selectinload(User.role)).where(User.username == username)
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_role(session: AsyncSession, role_id: int) -> Role | None:
    return await session.get(Role, role_id)


async def find_role_by_slug(session: AsyncSession, slug: str) -> Role | None:
    return (await session.execute(select(Role).where(Role.slug == slug))).scalar_one_or_none()


async def count_users_by_role(session: AsyncSession, role_ids: Sequence[int]) -> dict[int, int]:
    if not role_ids:
        return {}
    rows = await session.execute(
        select(User.role_id, func.count()).where(User.role_id.in_(role_ids)).group_by(User.role_id)
    )
    return {int(role_id): int(n) for role_id, n in rows.all() if role_id is not None}


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def list_roles_all(session: AsyncSession) -> Sequence[Role]:
    return (await session.execute(select(Role))).scalars().all()


async def count_active_users_with_roles(session: AsyncSession, role_ids: Sequence[int]) -> int:
    if not role_ids:
        return 0
    stmt = select(func.count()).select_from(User).where(User.is_active.is_(True), User.role_id.in_(role_ids))
    return int((await session.execute(stmt)).scalar_one())


async def list_permissions(session: AsyncSession) -> Sequence[Permission]:
    return (await session.execute(select(Permission).order_by(Permission.slug))).scalars().all()


async def permission_slugs(session: AsyncSession) -> set[str]:
    return set((await session.execute(select(Permission.slug))).scalars())


async def find_token_with_user(session: AsyncSession, token_hash: str) -> tuple[ApiToken, User] | None:
    stmt = (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .options(selectinload(User.role))
        .where(ApiToken.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def find_token(session: AsyncSession, token_id: int) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def list_live_tokens(session: AsyncSession, user_id: int, now: datetime) -> Sequence[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    return (await session.execute(stmt)).scalars().all()


async def lock_throttle(session: AsyncSession, kind: str, key: str, now: datetime) -> LoginThrottle:
    """The counter row for (kind, key), created when missing and locked for this transaction."""
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert_fn(LoginThrottle)
        .values(kind=kind, key=key, failures=0, window_started_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "key"])
    )
    stmt = (
        select(LoginThrottle)
        .where(LoginThrottle.kind == kind, LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def find_locked_until(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """Current locks among `keys`, read without locking anything."""
    conditions = [(LoginThrottle.kind == kind) & (LoginThrottle.key == key) for kind, key in keys]
    stmt = select(LoginThrottle.kind, LoginThrottle.key, LoginThrottle.locked_until).where(
        or_(*conditions), LoginThrottle.locked_until.is_not(None)
    )
    return {(kind, key): until for kind, key, until in (await session.execute(stmt)).all() if until is not None}


async def prune_throttles(session: AsyncSession, *, stale_before: datetime, now: datetime, batch: int = 500) -> None:
    """Delete counters whose window has passed and that hold no lock (rows others hold are skipped)."""
    stale = (
        select(LoginThrottle.id)
        .where(
            LoginThrottle.window_started_at < stale_before,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.id.in_(stale.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )


async def find_user_by_username_ci(session: AsyncSession, username: str) -> User | None:
    """The account whose username equals `username` ignoring case."""
    stmt = select(User).where(func.lower(User.username) == username.lower()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def reset_throttle(session: AsyncSession, kind: str, key: str) -> None:
    await session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.kind == kind, LoginThrottle.key == key)
        .values(failures=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )


async def usernames(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(set(user_ids))))
    return {int(i): str(n) for i, n in rows.all()}


async def role_names(session: AsyncSession, role_ids: Sequence[int]) -> dict[int, str]:
    if not role_ids:
        return {}
    rows = await session.execute(select(Role.id, Role.name).where(Role.id.in_(set(role_ids))))
    return {int(i): str(n) for i, n in rows.all()}


async def find_locks(session: AsyncSession, kind: str, keys: Sequence[str]) -> dict[str, datetime]:
    """`locked_until` of the counters of `kind` among `keys` that hold one (past locks included)."""
    if not keys:
        return {}
    stmt = select(LoginThrottle.key, LoginThrottle.locked_until).where(
        LoginThrottle.kind == kind, LoginThrottle.key.in_(set(keys)), LoginThrottle.locked_until.is_not(None)
    )
    return {str(key): until for key, until in (await session.execute(stmt)).all() if until is not None}


async def find_throttle_for_update(session: AsyncSession, kind: str, key: str) -> LoginThrottle | None:
    """The counter row for (kind, key) locked for this transaction, or None (never creates one)."""
    stmt = (
        select(LoginThrottle)
        .where(LoginThrottle.kind == kind, LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_live_sessions(
    session: AsyncSession, user_id: int, now: datetime
) -> Sequence[tuple[ApiToken, datetime | None]]:
    """The user's tokens that are neither revoked nor expired, newest first, with the last activity
    recorded for browser sessions."""
    stmt = (
        select(ApiToken, WebSessionActivity.last_seen_at)
        .outerjoin(WebSessionActivity, WebSessionActivity.token_id == ApiToken.id)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]
