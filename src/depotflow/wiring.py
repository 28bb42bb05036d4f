"""The only place cross-domain hooks are registered: audit listeners, the authenticator."""

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow import db_registry
from depotflow.core.security import Actor
from depotflow.core.settings import Settings
from depotflow.domains.approval import permissions as approval_permissions
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.schemas import ObjectDescription
from depotflow.domains.audit import permissions as audit_permissions
from depotflow.domains.audit import service as audit_service
from depotflow.domains.company import permissions as company_permissions
from depotflow.domains.config import permissions as config_permissions
from depotflow.domains.file import permissions as file_permissions
from depotflow.domains.identity import permissions as identity_permissions
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.errors import RoleNotFound
from depotflow.domains.part import permissions as part_permissions
from depotflow.domains.procurement import permissions as procurement_permissions
from depotflow.domains.procurement import service as procurement_service
from depotflow.domains.stock import permissions as stock_permissions
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import QC_OBJECT_TYPE

# Every permission slug the code knows, with its description; migrations seed the same catalogue.
PERMISSION_CATALOGUE: dict[str, str] = {
    **identity_permissions.CATALOGUE,
    **audit_permissions.CATALOGUE,
    **config_permissions.CATALOGUE,
    **approval_permissions.CATALOGUE,
    **file_permissions.CATALOGUE,
    **part_permissions.CATALOGUE,
    **company_permissions.CATALOGUE,
    **stock_permissions.CATALOGUE,
    **procurement_permissions.CATALOGUE,
}


async def describe_role(session: AsyncSession, role_id: int) -> ObjectDescription | None:
    """A role as an approvable object: changing who may do what is itself approved (Annex 11 §12)."""
    try:
        role = await identity_service.get_role(session, role_id)
    except RoleNotFound:
        return None
    return ObjectDescription(
        title=f"Role {role.name}",
        link=f"/api/roles/{role.id}",
        content={
            "name": role.name,
            "slug": role.slug,
            "description": role.description,
            "permissions": sorted(role.permissions),
        },
    )


def configure() -> None:
    """Install process-wide hooks (idempotent): every flush is audited; approvable object types."""
    assert db_registry.metadata is not None
    audit_service.install()
    approval_service.register_object_type("identity.role", approval_service.ObjectType(describe=describe_role))
    approval_service.register_object_type(
        QC_OBJECT_TYPE, approval_service.ObjectType(describe=stock_service.describe_qc_record)
    )
    procurement_service.register_approvals()


def make_authenticator(settings: Settings):  # type: ignore[no-untyped-def]
    cache_seconds = settings.security.token_cache_seconds

    async def authenticate(request: Request) -> Actor:
        token = identity_service.parse_authorization(request.headers.get("authorization"))
        principal = identity_service.cached_principal(token)
        if principal is None:
            # A short read-only session of its own: most requests are served from the cache and
            # routes that need no database then open no session at all.
            async with request.app.state.db.session(write=False) as session:
                principal = await identity_service.authenticate(session, token, cache_seconds=cache_seconds)
        request.state.principal = principal
        return principal.actor

    return authenticate
