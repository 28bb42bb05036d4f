"""Approval templates: who must or may sign objects of a type and stage."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import policy
from depotflow.domains.approval import repository as approval_repo
from depotflow.domains.approval.enums import OfficerAction, OfficerKind
from depotflow.domains.approval.errors import (
    InvalidOfficers,
    TemplateExists,
    TemplateNotFound,
)
from depotflow.domains.approval.models import ApprovalTemplate
from depotflow.domains.approval.schemas import (
    OfficerIn,
    OfficerRead,
    TemplateCreate,
    TemplateFilter,
    TemplateRead,
    TemplateUpdate,
)
from depotflow.domains.approval.service.registry import _object_type
from depotflow.domains.audit import service as audit_service
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.errors import RoleNotFound, UserNotFound


async def officer_labels(
    session: AsyncSession, officer_lists: Sequence[Sequence[dict[str, Any]]]
) -> list[list[OfficerRead]]:
    """Officers with a readable label, for many templates or flows in two queries."""
    user_ids = [o["user_id"] for officers in officer_lists for o in officers if o.get("user_id") is not None]
    role_ids = [o["role_id"] for officers in officer_lists for o in officers if o.get("role_id") is not None]
    users, roles = await identity_service.display_names(session, user_ids=user_ids, role_ids=role_ids)
    out = []
    for officers in officer_lists:
        labelled = []
        for slot, raw in enumerate(officers):
            kind = OfficerKind(raw["kind"])
            found = users.get(raw["user_id"]) if kind is OfficerKind.USER else roles.get(raw["role_id"])
            labelled.append(
                OfficerRead(
                    slot=slot,
                    kind=kind,
                    action=OfficerAction(raw["action"]),
                    user_id=raw.get("user_id"),
                    role_id=raw.get("role_id"),
                    label=found or "(removed)",
                )
            )
        out.append(labelled)
    return out


async def _validated_officers(
    session: AsyncSession, officers: Sequence[OfficerIn], min_signatures: int
) -> list[dict[str, Any]]:
    raw = [o.model_dump(mode="json") for o in officers]
    policy.validate_officers(policy.officers_from(raw), min_signatures)
    missing = []
    for slot, officer in enumerate(officers):
        try:
            if officer.kind is OfficerKind.USER:
                assert officer.user_id is not None
                await identity_service.get_user(session, officer.user_id)
            else:
                assert officer.role_id is not None
                await identity_service.get_role(session, officer.role_id)
        except (UserNotFound, RoleNotFound):
            missing.append(f"officer {slot}: {officer.kind.value} {officer.user_id or officer.role_id} does not exist")
    if missing:
        raise InvalidOfficers("Invalid officers: " + "; ".join(missing) + ".", details={"problems": missing})
    return raw


async def template_reads(session: AsyncSession, templates: Sequence[ApprovalTemplate]) -> list[TemplateRead]:
    labels = await officer_labels(session, [t.officers for t in templates])
    return [
        TemplateRead(
            id=t.id,
            object_type=t.object_type,
            stage=t.stage,
            name=t.name,
            description=t.description,
            is_active=t.is_active,
            min_signatures=t.min_signatures,
            sequential=t.sequential,
            officers=officers,
            created_at=t.created_at,
            updated_at=t.updated_at,
        )
        for t, officers in zip(templates, labels, strict=True)
    ]


async def template_read(session: AsyncSession, template: ApprovalTemplate) -> TemplateRead:
    return (await template_reads(session, [template]))[0]


async def get_template(session: AsyncSession, template_id: int) -> ApprovalTemplate:
    """Raises: TemplateNotFound."""
    template = await approval_repo.find_template(session, template_id)
    if template is None:
        raise TemplateNotFound(f"Approval template {template_id} does not exist.", details={"template_id": template_id})
    return template


async def list_templates(
    session: AsyncSession, /, *, filters: TemplateFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[ApprovalTemplate]:
    """Templates, by name unless sorted otherwise."""
    return await approval_repo.TEMPLATE_LISTING.fetch(
        session, approval_repo.select_templates(filters), page, sort=sort, search=search
    )


async def create_template(session: AsyncSession, actor: Actor, /, *, data: TemplateCreate) -> ApprovalTemplate:
    """Raises: UnknownObjectType, InvalidOfficers, TemplateExists (another active one for the type and stage)."""
    _object_type(data.object_type)
    if data.is_active:
        await _ensure_sole_active(session, data.object_type, data.stage, template_id=None)
    template = ApprovalTemplate(
        object_type=data.object_type,
        stage=data.stage,
        name=data.name,
        description=data.description,
        is_active=data.is_active,
        min_signatures=data.min_signatures,
        sequential=data.sequential,
        officers=await _validated_officers(session, data.officers, data.min_signatures),
    )
    session.add(template)
    await session.flush()
    return template


async def update_template(
    session: AsyncSession, actor: Actor, /, *, template_id: int, data: TemplateUpdate
) -> ApprovalTemplate:
    """Change a template; running flows keep the officers they were created with.

    Raises: TemplateNotFound, InvalidOfficers, TemplateExists.
    """
    # Queue behind other writers before reading: the trail then records the true "before".
    await audit_service.lock_chain(session)
    template = await get_template(session, template_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    min_signatures = changes.get("min_signatures", template.min_signatures)
    if data.officers is not None:
        changes["officers"] = await _validated_officers(session, data.officers, min_signatures)
    elif "min_signatures" in changes:
        policy.validate_officers(policy.officers_from(template.officers), min_signatures)
    if changes.get("is_active") is True and not template.is_active:
        await _ensure_sole_active(session, template.object_type, template.stage, template_id=template.id)
    for key, value in changes.items():
        setattr(template, key, value)
    await session.flush()
    return template


async def _ensure_sole_active(session: AsyncSession, object_type: str, stage: str, *, template_id: int | None) -> None:
    active = await approval_repo.find_active_template(session, object_type, stage)
    if active is not None and active.id != template_id:
        raise TemplateExists(
            f"Template {active.id} is already the active one for {object_type}/{stage or '-'}; deactivate it first.",
            details={"template_id": active.id},
        )


async def retire_template(session: AsyncSession, actor: Actor, /, *, template_id: int) -> bool:
    """Delete an unused template; one that flows came from is only deactivated. True when deleted.

    Raises: TemplateNotFound.
    """
    # Queue behind other writers (a flow being started from this template) before reading.
    await audit_service.lock_chain(session)
    template = await get_template(session, template_id)
    if await approval_repo.template_in_use(session, template.id):
        template.is_active = False
        await session.flush()
        return False
    await session.delete(template)
    await session.flush()
    return True
