"""Approval flows: starting, listing, status derivation, owner hooks and cancellation."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core import events
from depotflow.core.clock import utcnow
from depotflow.core.listing import Page, PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import policy
from depotflow.domains.approval import repository as approval_repo
from depotflow.domains.approval.enums import CLOSED, Decision, FlowStatus
from depotflow.domains.approval.errors import (
    FlowClosed,
    FlowExists,
    FlowNotFound,
    NoOpenSlot,
    NotAnOfficer,
    NotYourTurn,
    TemplateInactive,
    TemplateMismatch,
    TemplateNotFound,
)
from depotflow.domains.approval.events import FlowCompleted, FlowWaiting
from depotflow.domains.approval.models import ApprovalFlow, ApprovalSignature
from depotflow.domains.approval.schemas import (
    FlowFilter,
    FlowRead,
    SignatureRead,
)
from depotflow.domains.approval.service.registry import FlowHook, _describe, _object_types
from depotflow.domains.approval.service.templates import get_template, officer_labels
from depotflow.domains.audit import service as audit_service
from depotflow.domains.identity import service as identity_service


def _facts(signatures: Sequence[ApprovalSignature]) -> list[policy.Signed]:
    return [
        policy.Signed(user_id=s.user_id, slot=s.slot, decision=Decision(s.decision))
        for s in signatures
        if s.withdrawn_at is None
    ]


async def flow_reads(session: AsyncSession, flows: Sequence[ApprovalFlow]) -> list[FlowRead]:
    signatures = await approval_repo.signatures_of(session, [f.id for f in flows])
    labels = await officer_labels(session, [f.officers for f in flows])
    out = []
    for flow, officers in zip(flows, labels, strict=True):
        mine = signatures[flow.id]
        waiting = policy.waiting_for(policy.officers_from(flow.officers), _facts(mine), sequential=flow.sequential)
        out.append(
            FlowRead(
                id=flow.id,
                object_type=flow.object_type,
                object_id=flow.object_id,
                stage=flow.stage,
                template_id=flow.template_id,
                title=flow.title,
                link=flow.link,
                status=flow.status,
                min_signatures=flow.min_signatures,
                sequential=flow.sequential,
                officers=officers,
                signatures=[SignatureRead.model_validate(s, from_attributes=True) for s in mine],
                waiting_for=[] if flow.status in CLOSED else [o.slot for o in waiting],
                completed_at=flow.completed_at,
                cancelled_reason=flow.cancelled_reason,
                created_at=flow.created_at,
                updated_at=flow.updated_at,
            )
        )
    return out


async def get_flow(session: AsyncSession, flow_id: int) -> ApprovalFlow:
    """Raises: FlowNotFound."""
    flow = await approval_repo.find_flow(session, flow_id)
    if flow is None:
        raise FlowNotFound(f"Approval flow {flow_id} does not exist.", details={"flow_id": flow_id})
    return flow


async def find_flow(
    session: AsyncSession, /, *, object_type: str, object_id: int, stage: str = ""
) -> ApprovalFlow | None:
    """The flow of an object at a stage, if one was started."""
    return await approval_repo.find_flow_for(session, object_type, object_id, stage)


async def flows_for_objects(
    session: AsyncSession, /, *, object_type: str, object_ids: Sequence[int], stage: str = ""
) -> dict[int, ApprovalFlow]:
    """The flows of many objects at one stage, by object id, in one query."""
    flows = await approval_repo.flows_for(session, object_type, object_ids, stage)
    return {flow.object_id: flow for flow in flows}


async def list_flows(
    session: AsyncSession, /, *, filters: FlowFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[ApprovalFlow]:
    """Flows, newest first unless sorted otherwise."""
    return await approval_repo.FLOW_LISTING.fetch(
        session, approval_repo.select_flows(filters), page, sort=sort, search=search
    )


async def list_waiting_for(session: AsyncSession, actor: Actor, /) -> list[ApprovalFlow]:
    """Open flows in which the actor could sign a slot now."""
    if actor.user_id is None:
        return []
    role_id = (await identity_service.get_user(session, actor.user_id)).role_id
    flows = list((await session.execute(approval_repo.select_open_flows().order_by(ApprovalFlow.id))).scalars())
    signatures = await approval_repo.signatures_of(session, [f.id for f in flows])
    waiting = []
    for flow in flows:
        facts = _facts(signatures[flow.id])
        if any(s.user_id == actor.user_id for s in facts):
            continue
        # The slot `sign` would give them: an open slot they must not take (their own must_sign slot
        # comes later in a sequential flow) is no invitation.
        try:
            policy.choose_slot(
                policy.officers_from(flow.officers),
                facts,
                user_id=actor.user_id,
                role_id=role_id,
                decision=Decision.APPROVE,
                sequential=flow.sequential,
            )
        except (NotAnOfficer, NoOpenSlot, NotYourTurn):
            continue
        waiting.append(flow)
    return waiting


async def start_flow(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    object_type: str,
    object_id: int,
    stage: str = "",
    template_id: int | None = None,
    officers: Sequence[policy.Officer] | None = None,
    min_signatures: int = 0,
) -> ApprovalFlow:
    """Start the approval of an object: officers are copied from the template (the active one for the
    object type and stage unless one is named), or given by the owning domain (`officers`, for
    signatures it asks of one person, such as a QC release).

    Raises: UnknownObjectType, ObjectNotFound, TemplateNotFound, TemplateInactive, TemplateMismatch, FlowExists,
    InvalidOfficers.
    """
    # Queue behind other writers before reading: a template retired meanwhile is then not found, and a
    # flow started meanwhile is seen.
    await audit_service.lock_chain(session)
    description = await _describe(session, object_type, object_id)
    if officers is not None:
        policy.validate_officers(officers, min_signatures)
        return await _insert_flow(
            session,
            object_type=object_type,
            object_id=object_id,
            stage=stage,
            template_id=None,
            title=description.title,
            link=description.link,
            officers=[policy.officer_as_dict(o) for o in officers],
            min_signatures=min_signatures,
            sequential=False,
        )
    if template_id is not None:
        template = await get_template(session, template_id)
        if not template.is_active:
            raise TemplateInactive(f"Approval template {template_id} is not active.")
        if (template.object_type, template.stage) != (object_type, stage):
            raise TemplateMismatch(
                f"Template {template_id} is for {template.object_type}/{template.stage or '-'}, "
                f"not {object_type}/{stage or '-'}."
            )
    else:
        found = await approval_repo.find_active_template(session, object_type, stage)
        if found is None:
            raise TemplateNotFound(f"No active approval template for {object_type}/{stage or '-'}.")
        template = found
    return await _insert_flow(
        session,
        object_type=object_type,
        object_id=object_id,
        stage=stage,
        template_id=template.id,
        title=description.title,
        link=description.link,
        officers=[dict(o) for o in template.officers],
        min_signatures=template.min_signatures,
        sequential=template.sequential,
    )


async def _insert_flow(
    session: AsyncSession,
    *,
    object_type: str,
    object_id: int,
    stage: str,
    template_id: int | None,
    title: str,
    link: str | None,
    officers: list[dict[str, Any]],
    min_signatures: int,
    sequential: bool,
) -> ApprovalFlow:
    if await approval_repo.find_flow_for(session, object_type, object_id, stage) is not None:
        raise FlowExists(f"{object_type} {object_id} already has an approval flow at stage '{stage}'.")
    flow = ApprovalFlow(
        object_type=object_type,
        object_id=object_id,
        stage=stage,
        template_id=template_id,
        title=title[:300],
        link=link,
        officers=officers,
        min_signatures=min_signatures,
        sequential=sequential,
        status=FlowStatus.PENDING.value,
    )
    session.add(flow)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise FlowExists(f"{object_type} {object_id} already has an approval flow at stage '{stage}'.") from exc
    await _announce_waiting(session, flow, [])
    return flow


async def _announce_waiting(session: AsyncSession, flow: ApprovalFlow, facts: Sequence[policy.Signed]) -> None:
    open_slots = policy.waiting_for(policy.officers_from(flow.officers), facts, sequential=flow.sequential)
    await events.publish_and_record(
        session,
        FlowWaiting(
            flow_id=flow.id,
            object_type=flow.object_type,
            object_id=flow.object_id,
            slots=tuple(o.slot for o in open_slots),
            user_ids=tuple(o.user_id for o in open_slots if o.user_id is not None),
            role_ids=tuple(o.role_id for o in open_slots if o.role_id is not None),
        ),
    )


async def _apply_status(
    session: AsyncSession, actor: Actor, flow: ApprovalFlow, facts: Sequence[policy.Signed]
) -> None:
    """Store the status the signatures give and run the owner's hooks when it changes."""
    before = FlowStatus(flow.status)
    after = policy.derive_status(policy.officers_from(flow.officers), facts, flow.min_signatures)
    if after == before:
        if after not in CLOSED:
            await _announce_waiting(session, flow, facts)
        return
    flow.status = after.value
    flow.completed_at = utcnow() if after in CLOSED else None
    await session.flush()
    owner = _object_types.get(flow.object_type)
    hook: FlowHook | None = None
    if after is FlowStatus.APPROVED:
        hook = owner.on_approved if owner else None
    elif after is FlowStatus.REJECTED:
        hook = owner.on_rejected if owner else None
    elif before in CLOSED:
        hook = owner.on_reopened if owner else None
    if hook is not None:
        await hook(session, actor, flow)
    if after in CLOSED:
        await _announce_completed(session, flow)
    else:
        await _announce_waiting(session, flow, facts)


async def _announce_completed(session: AsyncSession, flow: ApprovalFlow) -> None:
    completed = FlowCompleted(
        flow_id=flow.id, object_type=flow.object_type, object_id=flow.object_id, stage=flow.stage, status=flow.status
    )
    await events.publish_and_record(session, completed)


async def _lock_flow(session: AsyncSession, flow_id: int) -> ApprovalFlow:
    """The flow, locked until the transaction ends, taken after the audit chain's head.

    Every audited writer takes the head before its rows, and owners cancel a flow after writing their
    own objects: locking the flow first and the head at the flush would deadlock with them.

    Raises: FlowNotFound.
    """
    await audit_service.lock_chain(session)
    flow = await approval_repo.lock_flow(session, flow_id)
    if flow is None:
        raise FlowNotFound(f"Approval flow {flow_id} does not exist.", details={"flow_id": flow_id})
    return flow


async def cancel_flow(session: AsyncSession, actor: Actor, /, *, flow_id: int, reason: str) -> ApprovalFlow:
    """The owning object was cancelled: the flow closes as `cancelled` (for the owning domains).

    Raises: FlowNotFound, FlowClosed.
    """
    flow = await _lock_flow(session, flow_id)
    if flow.status in CLOSED:
        raise FlowClosed(f"Approval flow {flow_id} is already {flow.status}.")
    flow.status = FlowStatus.CANCELLED.value
    flow.completed_at = utcnow()
    flow.cancelled_reason = reason
    await session.flush()
    owner = _object_types.get(flow.object_type)
    if owner is not None and owner.on_cancelled is not None:
        await owner.on_cancelled(session, actor, flow)
    await _announce_completed(session, flow)
    return flow
