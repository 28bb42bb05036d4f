"""Roles, the permission catalogue and per-role dashboards."""

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import (
    ADMIN_PERMISSION,
    Actor,
)
from depotflow.domains.identity import repository as identity_repo
from depotflow.domains.identity.errors import (
    RoleInUse,
    RoleNotFound,
    RoleSlugTaken,
    SystemRole,
    UnknownPermission,
)
from depotflow.domains.identity.models import Permission, Role
from depotflow.domains.identity.schemas import (
    Dashboard,
    DashboardLink,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    ShortcutForm,
    Shortcuts,
)
from depotflow.domains.identity.service.tokens import invalidate_tokens
from depotflow.domains.identity.service.users import SYSTEM_ROLE_SLUGS, ensure_admin_remains


async def get_role(session: AsyncSession, role_id: int) -> Role:
    """Raises: RoleNotFound."""
    role = await identity_repo.find_role(session, role_id)
    if role is None:
        raise RoleNotFound(f"Role {role_id} does not exist.", details={"role_id": role_id})
    return role


async def role_reads(session: AsyncSession, roles: Sequence[Role]) -> list[RoleRead]:
    counts = await identity_repo.count_users_by_role(session, [r.id for r in roles])
    return [
        RoleRead(
            id=r.id,
            name=r.name,
            slug=r.slug,
            description=r.description,
            permissions=sorted(r.permissions or []),
            dashboard=Dashboard.model_validate(r.dashboard or {}),
            user_count=counts.get(r.id, 0),
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in roles
    ]


async def list_roles(
    session: AsyncSession, actor: Actor, /, *, page: PageRequest, sort: str | None, search: str | None
) -> Page[Role]:
    """Roles, by name unless sorted otherwise."""
    return await identity_repo.ROLE_LISTING.fetch(session, identity_repo.select_roles(), page, sort=sort, search=search)


async def _validated_permissions(session: AsyncSession, slugs: Sequence[str]) -> list[str]:
    known = await identity_repo.permission_slugs(session)
    unknown = sorted(set(slugs) - known)
    if unknown:
        raise UnknownPermission(f"Unknown permission(s): {', '.join(unknown)}.", details={"unknown": unknown})
    return sorted(set(slugs))


async def create_role(session: AsyncSession, actor: Actor, /, *, data: RoleCreate) -> Role:
    """Raises: RoleSlugTaken, UnknownPermission."""
    if await identity_repo.find_role_by_slug(session, data.slug) is not None:
        raise RoleSlugTaken(f"Role with slug '{data.slug}' already exists.", details={"slug": data.slug})
    role = Role(
        name=data.name,
        slug=data.slug,
        description=data.description,
        permissions=await _validated_permissions(session, data.permissions),
        dashboard=(data.dashboard or Dashboard()).model_dump(),
    )
    session.add(role)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise RoleSlugTaken(f"Role with slug '{data.slug}' already exists.", details={"slug": data.slug}) from exc
    return role


async def update_role(session: AsyncSession, actor: Actor, /, *, role_id: int, data: RoleUpdate) -> Role:
    """Raises: RoleNotFound, RoleSlugTaken, SystemRole, UnknownPermission, LastAdministrator."""
    role = await get_role(session, role_id)
    was_admin_role = ADMIN_PERMISSION in (role.permissions or [])
    changes = data.model_dump(exclude_unset=True)
    new_slug = changes.get("slug")
    if new_slug is not None and new_slug != role.slug and role.slug in SYSTEM_ROLE_SLUGS:
        raise SystemRole(f"The slug of the system role '{role.slug}' cannot change.", details={"slug": role.slug})
    if new_slug is not None and new_slug != role.slug and await identity_repo.find_role_by_slug(session, new_slug):
        raise RoleSlugTaken(f"Role with slug '{changes['slug']}' already exists.", details={"slug": changes["slug"]})
    if "permissions" in changes:
        changes["permissions"] = await _validated_permissions(session, changes["permissions"] or [])
        invalidate_tokens(session)
    if "dashboard" in changes:
        changes["dashboard"] = (data.dashboard or Dashboard()).model_dump()
    for key in ("name", "slug", "description"):
        if key in changes and changes[key] is None:
            del changes[key]
    for key, value in changes.items():
        setattr(role, key, value)
    await session.flush()
    if was_admin_role:
        await ensure_admin_remains(session)
    return role


async def delete_role(session: AsyncSession, actor: Actor, /, *, role_id: int) -> None:
    """Raises: RoleNotFound, SystemRole, RoleInUse (any user, active or not, still has it)."""
    role = await get_role(session, role_id)
    if role.slug in SYSTEM_ROLE_SLUGS:
        raise SystemRole(f"The system role '{role.slug}' cannot be deleted.", details={"slug": role.slug})
    users = (await identity_repo.count_users_by_role(session, [role.id])).get(role.id, 0)
    if users:
        raise RoleInUse(f"Cannot delete role: {users} user(s) have this role.", details={"users": users})
    await session.delete(role)
    await session.flush()


async def list_permissions(session: AsyncSession, /) -> Sequence[Permission]:
    """The permission catalogue, by slug."""
    return await identity_repo.list_permissions(session)


FormResolver = Callable[[AsyncSession, Sequence[str]], Any]
_form_resolver: FormResolver | None = None


def register_form_resolver(resolver: FormResolver) -> None:
    """Let the forms domain describe dashboard shortcuts (wired in `wiring.py`)."""
    global _form_resolver
    _form_resolver = resolver


async def dashboard_shortcuts(session: AsyncSession, actor: Actor, /) -> Shortcuts:
    """The actor's role's dashboard: form shortcuts and links; empty when not configured."""
    if actor.role_id is None:
        return Shortcuts(forms=[], links=[])
    role = await identity_repo.find_role(session, actor.role_id)
    dashboard = Dashboard.model_validate(role.dashboard or {}) if role else Dashboard()
    described: dict[str, dict[str, Any]] = {}
    if _form_resolver is not None and dashboard.forms:
        described = await _form_resolver(session, dashboard.forms)
    forms = [ShortcutForm(slug=slug, **described.get(slug, {})) for slug in dashboard.forms]
    return Shortcuts(forms=forms, links=[DashboardLink.model_validate(link) for link in dashboard.links])
