"""User accounts: listing, creation, changes, deactivation, the last-administrator rule."""

import secrets
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import (
    ADMIN_PERMISSION,
    Actor,
    hash_password,
)
from depotflow.core.settings import SecuritySettings
from depotflow.domains.identity import repository as identity_repo
from depotflow.domains.identity.errors import (
    CannotDeactivateSelf,
    ExternallyManagedUser,
    LastAdministrator,
    UnknownRole,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)
from depotflow.domains.identity.models import User
from depotflow.domains.identity.schemas import (
    RoleRef,
    UserCreate,
    UserFilter,
    UserRead,
    UserUpdate,
)
from depotflow.domains.identity.service.tokens import invalidate_tokens, revoke_all_tokens

ADMIN_ROLE_SLUG = "admin"
DEFAULT_ROLE_SLUG = "user"
# Roles the code refers to by slug (InvenTree staff mapping, the first administrator).
SYSTEM_ROLE_SLUGS = frozenset({ADMIN_ROLE_SLUG, DEFAULT_ROLE_SLUG})


def is_admin_user(user: User) -> bool:
    return user.role is not None and ADMIN_PERMISSION in user.role.permissions


def check_password_policy(password: str, username: str, security: SecuritySettings) -> None:
    """Raises: WeakPassword."""
    problems = []
    if len(password) < security.password_min_length:
        problems.append(f"must be at least {security.password_min_length} characters long")
    if password.strip().lower() == username.strip().lower():
        problems.append("must not be the username")
    if password != password.strip():
        problems.append("must not start or end with white space")
    if problems:
        raise WeakPassword("The password " + " and ".join(problems) + ".", details={"problems": problems})


async def get_user(session: AsyncSession, user_id: int) -> User:
    """Raises: UserNotFound."""
    user = await identity_repo.find_user(session, user_id)
    if user is None:
        raise UserNotFound(f"User {user_id} does not exist.", details={"user_id": user_id})
    return user


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        name=user.full_name,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        phone=user.phone,
        role=RoleRef.model_validate(user.role) if user.role else None,
        is_active=user.is_active,
        is_staff=is_admin_user(user),
        auth_source=user.auth_source,
        must_change_password=user.must_change_password,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def list_users(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    filters: UserFilter,
    page: PageRequest,
    sort: str | None,
    search: str | None,
) -> Page[User]:
    """Users with their role and last login."""
    return await identity_repo.USER_LISTING.fetch(
        session, identity_repo.select_users(filters), page, sort=sort, search=search
    )


async def _require_role(session: AsyncSession, role_id: int | None) -> None:
    if role_id is not None and await identity_repo.find_role(session, role_id) is None:
        raise UnknownRole(f"Role {role_id} does not exist.", details={"role_id": role_id})


async def create_user(session: AsyncSession, actor: Actor, /, *, data: UserCreate, security: SecuritySettings) -> User:
    """Create a local account.

    Raises: UsernameTaken, WeakPassword, UnknownRole.
    """
    check_password_policy(data.password, data.username, security)
    # Unique ignoring case: "Admin" and "admin" must not be two people (lockout keys ignore case too).
    if await identity_repo.find_user_by_username_ci(session, data.username) is not None:
        raise UsernameTaken(f"Username '{data.username}' already exists.", details={"username": data.username})
    await _require_role(session, data.role_id)
    now = utcnow()
    user = User(
        username=data.username,
        password_hash=await hash_password(data.password),
        first_name=data.first_name,
        last_name=data.last_name,
        email=str(data.email) if data.email else None,
        phone=data.phone,
        role_id=data.role_id,
        is_active=data.is_active,
        must_change_password=data.must_change_password,
        auth_source="local",
        password_changed_at=now,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise UsernameTaken(f"Username '{data.username}' already exists.", details={"username": data.username}) from exc
    return await get_user(session, user.id)


async def update_user(
    session: AsyncSession, actor: Actor, /, *, user_id: int, data: UserUpdate, security: SecuritySettings
) -> User:
    """Change an account; a new password, deactivation or role change revokes/refreshes its tokens.

    Raises: UserNotFound, UnknownRole, WeakPassword, LastAdministrator, ExternallyManagedUser,
    CannotDeactivateSelf.
    """
    user = await get_user(session, user_id)
    if data.is_active is False and actor.user_id == user_id:
        raise CannotDeactivateSelf("You cannot deactivate your own account.")
    was_admin = user.is_active and is_admin_user(user)
    changes = data.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    for key in ("first_name", "last_name", "is_active", "must_change_password"):
        if key in changes and changes[key] is None:
            del changes[key]  # not nullable: null means "leave as is", as for roles
    if "email" in changes and changes["email"] is not None:
        changes["email"] = str(changes["email"])
    if "role_id" in changes:
        await _require_role(session, changes["role_id"])
    if password is not None:
        if user.auth_source != "local":
            raise ExternallyManagedUser("This account's password is managed by the identity server.")
        check_password_policy(password, user.username, security)
        user.password_hash = await hash_password(password)
        user.password_changed_at = utcnow()
        await revoke_all_tokens(session, user.id, reason="password_changed")
    if changes.get("is_active") is False and user.is_active:
        user.deactivated_at = utcnow()
        await revoke_all_tokens(session, user.id, reason="deactivated")
    if changes.get("is_active") is True:
        user.deactivated_at = None
    for key, value in changes.items():
        setattr(user, key, value)
    if {"role_id", "is_active", "must_change_password"} & changes.keys():
        invalidate_tokens(session)
    await session.flush()
    if was_admin:
        await ensure_admin_remains(session)
    session.expire(user)  # reload the role relationship too; `user.id` would now need a (sync) refresh
    return await get_user(session, user_id)


async def deactivate_user(session: AsyncSession, actor: Actor, /, *, user_id: int) -> None:
    """Deactivate an account (accounts are never erased: signatures and the trail refer to them).

    Raises: UserNotFound, LastAdministrator, CannotDeactivateSelf.
    """
    user = await get_user(session, user_id)
    if actor.user_id == user_id:
        raise CannotDeactivateSelf("You cannot deactivate your own account.")
    if not user.is_active:
        return
    was_admin = is_admin_user(user)
    user.is_active = False
    user.deactivated_at = utcnow()
    await revoke_all_tokens(session, user.id, reason="deactivated")
    await session.flush()
    if was_admin:
        await ensure_admin_remains(session)


async def ensure_admin_remains(session: AsyncSession) -> None:
    """Call after flushing a change that took administrator rights away from someone.

    Raises: LastAdministrator.
    """
    admin_roles = [
        r.id for r in await identity_repo.list_roles_all(session) if ADMIN_PERMISSION in (r.permissions or [])
    ]
    if await identity_repo.count_active_users_with_roles(session, admin_roles) == 0:
        raise LastAdministrator("This change would leave no active administrator.")


async def bootstrap_admin(session: AsyncSession, /, *, username: str = "admin") -> str | None:
    """On an empty system, create the first administrator and return its one-time password."""
    if await identity_repo.count_users(session) > 0:
        return None
    role = await identity_repo.find_role_by_slug(session, ADMIN_ROLE_SLUG)
    password = secrets.token_urlsafe(15)
    session.add(
        User(
            username=username,
            password_hash=await hash_password(password),
            first_name="Administrator",
            role_id=role.id if role else None,
            must_change_password=True,
            auth_source="local",
            password_changed_at=utcnow(),
        )
    )
    await session.flush()
    return password


async def display_names(
    session: AsyncSession, /, *, user_ids: Sequence[int], role_ids: Sequence[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Usernames and role names for many ids in two queries (missing ids are left out)."""
    return await identity_repo.usernames(session, user_ids), await identity_repo.role_names(session, role_ids)


async def set_own_locale(session: AsyncSession, actor: Actor, /, *, locale: str | None) -> None:
    """The actor's UI language ("en", "ro"; None follows the browser)."""
    user = await get_user(session, actor.user_id or 0)
    if user.locale != locale:
        user.locale = locale
        invalidate_tokens(session)
        await session.flush()
