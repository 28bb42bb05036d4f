"""Approval use cases: templates, flows, electronic signatures and their verification.

Business domains register their object types (`register_object_type`, wired in `wiring.py`): how to
describe an object and its canonical content, and what to do when a flow completes. This domain never
imports them.
"""

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core import events
from depotflow.core.canonical import canonical_json
from depotflow.core.clock import utcnow
from depotflow.core.listing import Page, PageRequest, SortField, paginate
from depotflow.core.security import Actor
from depotflow.domains.approval import policy
from depotflow.domains.approval import repository as approval_repo
from depotflow.domains.approval.enums import CLOSED, Decision, FlowStatus, OfficerAction, OfficerKind
from depotflow.domains.approval.errors import (
    AlreadySigned,
    FlowClosed,
    FlowExists,
    FlowNotFound,
    InvalidOfficers,
    NoOpenSlot,
    NotAnOfficer,
    NotYourTurn,
    ObjectNotFound,
    ReasonRequired,
    SignatureNotFound,
    TemplateInactive,
    TemplateMismatch,
    TemplateNotFound,
    UnknownObjectType,
    WithdrawalRefused,
)
from depotflow.domains.approval.events import FlowCompleted, FlowWaiting, SignatureWithdrawn
from depotflow.domains.approval.models import ApprovalFlow, ApprovalSignature, ApprovalTemplate
from depotflow.domains.approval.schemas import (
    FlowFilter,
    FlowRead,
    FlowVerification,
    ObjectDescription,
    OfficerIn,
    OfficerRead,
    SignatureCheck,
    SignatureRead,
    TemplateCreate,
    TemplateFilter,
    TemplateRead,
    TemplateUpdate,
)
from depotflow.domains.audit import service as audit_service
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.errors import RoleNotFound, UserNotFound

# --------------------------------------------------------------------------------------------
# Object types registered by the owning domains
# --------------------------------------------------------------------------------------------

Describe = Callable[[AsyncSession, int], Awaitable[ObjectDescription | None]]
FlowHook = Callable[[AsyncSession, Actor, ApprovalFlow], Awaitable[None]]
WithdrawCheck = Callable[[AsyncSession, ApprovalFlow], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class ObjectType:
    """What an owning domain tells the approval domain about one of its object types.

    `can_withdraw` returns None when a signature may still be withdrawn, else the reason it may not.
    """

    describe: Describe
    on_approved: FlowHook | None = None
    on_rejected: FlowHook | None = None
    on_cancelled: FlowHook | None = None
    on_reopened: FlowHook | None = None
    can_withdraw: WithdrawCheck | None = None


_object_types: dict[str, ObjectType] = {}


def register_object_type(name: str, object_type: ObjectType) -> None:
    """Make `name` approvable (called from `wiring.py`)."""
    _object_types[name] = object_type


def registered_object_types() -> list[str]:
    return sorted(_object_types)


def _object_type(name: str) -> ObjectType:
    found = _object_types.get(name)
    if found is None:
        raise UnknownObjectType(
            f"'{name}' is not an approvable object type.", details={"known": registered_object_types()}
        )
    return found


async def _describe(session: AsyncSession, object_type: str, object_id: int) -> ObjectDescription:
    description = await _object_type(object_type).describe(session, object_id)
    if description is None:
        raise ObjectNotFound(
            f"{object_type} {object_id} does not exist.", details={"object_type": object_type, "object_id": object_id}
        )
    return description


def content_digest(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an object's content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


async def _officer_labels(session: AsyncSession, officers: Sequence[dict[str, Any]]) -> list[OfficerRead]:
    out = []
    for slot, raw in enumerate(officers):
        kind = OfficerKind(raw["kind"])
        try:
            if kind is OfficerKind.USER:
                label = (await identity_service.get_user(session, raw["user_id"])).username
            else:
                label = (await identity_service.get_role(session, raw["role_id"])).name
        except (UserNotFound, RoleNotFound):
            label = "(removed)"
        out.append(
            OfficerRead(
                slot=slot,
                kind=kind,
                action=OfficerAction(raw["action"]),
                user_id=raw.get("user_id"),
                role_id=raw.get("role_id"),
                label=label,
            )
        )
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


async def template_read(session: AsyncSession, template: ApprovalTemplate) -> TemplateRead:
    return TemplateRead(
        id=template.id,
        object_type=template.object_type,
        stage=template.stage,
        name=template.name,
        description=template.description,
        is_active=template.is_active,
        min_signatures=template.min_signatures,
        sequential=template.sequential,
        officers=await _officer_labels(session, template.officers),
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


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
    return await paginate(
        session,
        approval_repo.select_templates(filters),
        page,
        sort=sort,
        sortable=approval_repo.TEMPLATE_SORTABLE,
        pk=ApprovalTemplate.id,
        default_sort=[SortField("name")],
        search=search,
        searchable=approval_repo.TEMPLATE_SEARCHABLE,
    )


async def create_template(session: AsyncSession, actor: Actor, /, *, data: TemplateCreate) -> ApprovalTemplate:
    """Raises: UnknownObjectType, InvalidOfficers."""
    _object_type(data.object_type)
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

    Raises: TemplateNotFound, InvalidOfficers.
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
    for key, value in changes.items():
        setattr(template, key, value)
    await session.flush()
    return template


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


# --------------------------------------------------------------------------------------------
# Flows
# --------------------------------------------------------------------------------------------


def _facts(signatures: Sequence[ApprovalSignature]) -> list[policy.Signed]:
    return [
        policy.Signed(user_id=s.user_id, slot=s.slot, decision=Decision(s.decision))
        for s in signatures
        if s.withdrawn_at is None
    ]


async def flow_reads(session: AsyncSession, flows: Sequence[ApprovalFlow]) -> list[FlowRead]:
    signatures = await approval_repo.signatures_of(session, [f.id for f in flows])
    out = []
    for flow in flows:
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
                officers=await _officer_labels(session, flow.officers),
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


async def list_flows(
    session: AsyncSession, /, *, filters: FlowFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[ApprovalFlow]:
    """Flows, newest first unless sorted otherwise."""
    return await paginate(
        session,
        approval_repo.select_flows(filters),
        page,
        sort=sort,
        sortable=approval_repo.FLOW_SORTABLE,
        pk=ApprovalFlow.id,
        default_sort=[SortField("created_at", descending=True)],
        search=search,
        searchable=approval_repo.FLOW_SEARCHABLE,
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
) -> ApprovalFlow:
    """Start the approval of an object: officers are copied from the template (the active one for the
    object type and stage unless one is named).

    Raises: UnknownObjectType, ObjectNotFound, TemplateNotFound, TemplateInactive, TemplateMismatch, FlowExists.
    """
    # Queue behind other writers before reading: a template retired meanwhile is then not found, and a
    # flow started meanwhile is seen.
    await audit_service.lock_chain(session)
    description = await _describe(session, object_type, object_id)
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
    if await approval_repo.find_flow_for(session, object_type, object_id, stage) is not None:
        raise FlowExists(f"{object_type} {object_id} already has an approval flow at stage '{stage}'.")
    flow = ApprovalFlow(
        object_type=object_type,
        object_id=object_id,
        stage=stage,
        template_id=template.id,
        title=description.title[:300],
        link=description.link,
        officers=[dict(o) for o in template.officers],
        min_signatures=template.min_signatures,
        sequential=template.sequential,
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
        await events.publish_and_record(
            session,
            FlowCompleted(
                flow_id=flow.id,
                object_type=flow.object_type,
                object_id=flow.object_id,
                stage=flow.stage,
                status=after.value,
            ),
        )
    else:
        await _announce_waiting(session, flow, facts)


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
    await events.publish_and_record(
        session,
        FlowCompleted(
            flow_id=flow.id,
            object_type=flow.object_type,
            object_id=flow.object_id,
            stage=flow.stage,
            status=flow.status,
        ),
    )
    return flow


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------

SIGNED_FIELDS = (
    "flow_id",
    "object_type",
    "object_id",
    "stage",
    "user_id",
    "username",
    "full_name",
    "slot",
    "decision",
    "meaning",
    "reason",
    "signed_at",
    "ip_address",
    "user_agent",
    "content_digest",
)


def _seal(secret: str, flow: ApprovalFlow, signature: ApprovalSignature) -> str:
    """HMAC-SHA256, keyed by the server secret, over everything the signature asserts."""
    values = {
        "flow_id": flow.id,
        "object_type": flow.object_type,
        "object_id": flow.object_id,
        "stage": flow.stage,
        **{name: getattr(signature, name) for name in SIGNED_FIELDS[4:]},
    }
    key = hashlib.sha256(b"depotflow-signature\x00" + secret.encode()).digest()
    return hmac.new(key, canonical_json(values).encode(), hashlib.sha256).hexdigest()


async def sign(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    flow_id: int,
    decision: Decision,
    meaning: str | None,
    reason: str | None,
    ip_address: str | None,
    user_agent: str | None,
    secret: str,
) -> ApprovalFlow:
    """Record the actor's electronic signature (their password was confirmed by the caller).

    The signature fills one officer slot, binds a digest of the object's current content and is
    sealed with an HMAC; the flow's status is recomputed and the owner's hooks run.

    Raises: ReasonRequired, FlowNotFound, FlowClosed, AlreadySigned, NotAnOfficer, NoOpenSlot, NotYourTurn,
    RejectionNeedsMustSign.
    """
    if decision is Decision.REJECT and not (reason and reason.strip()):
        raise ReasonRequired("A rejection needs a reason.")
    flow = await _lock_flow(session, flow_id)
    if flow.status in CLOSED:
        raise FlowClosed(f"Approval flow {flow_id} is {flow.status}; it takes no more signatures.")
    assert actor.user_id is not None
    signer = await identity_service.get_user(session, actor.user_id)
    existing = (await approval_repo.signatures_of(session, [flow.id]))[flow.id]
    facts = _facts(existing)
    if any(s.user_id == signer.id for s in facts):
        raise AlreadySigned("You have already signed this flow.")
    officer = policy.choose_slot(
        policy.officers_from(flow.officers),
        facts,
        user_id=signer.id,
        role_id=signer.role_id,
        decision=decision,
        sequential=flow.sequential,
    )
    description = await _describe(session, flow.object_type, flow.object_id)
    signature = ApprovalSignature(
        flow_id=flow.id,
        user_id=signer.id,
        username=signer.username,
        full_name=signer.full_name,
        slot=officer.slot,
        decision=decision.value,
        meaning=meaning or ("rejected" if decision is Decision.REJECT else "approved"),
        reason=reason,
        signed_at=utcnow(),
        ip_address=ip_address,
        user_agent=(user_agent or None) and user_agent[:512],
        content_digest=content_digest(description.content),
        hmac="",
    )
    signature.hmac = _seal(secret, flow, signature)
    session.add(signature)
    await session.flush()
    facts.append(policy.Signed(user_id=signer.id, slot=officer.slot, decision=decision))
    await _apply_status(session, actor, flow, facts)
    return flow


async def withdraw_signature(
    session: AsyncSession, actor: Actor, /, *, flow_id: int, user_id: int, reason: str
) -> ApprovalFlow:
    """Withdraw a user's signature (kept, marked withdrawn) and recompute the flow's status.

    Raises: FlowNotFound, SignatureNotFound, FlowClosed (cancelled flows), WithdrawalRefused.
    """
    flow = await _lock_flow(session, flow_id)
    if flow.status == FlowStatus.CANCELLED.value:
        raise FlowClosed(f"Approval flow {flow_id} was cancelled; its signatures stay as they are.")
    signatures = (await approval_repo.signatures_of(session, [flow.id]))[flow.id]
    active = [s for s in signatures if s.user_id == user_id and s.withdrawn_at is None]
    if not active:
        raise SignatureNotFound(f"User {user_id} has no signature on flow {flow_id}.", details={"user_id": user_id})
    owner = _object_types.get(flow.object_type)
    if owner is not None and owner.can_withdraw is not None:
        refusal = await owner.can_withdraw(session, flow)
        if refusal is not None:
            raise WithdrawalRefused(refusal)
    now = utcnow()
    for signature in active:
        signature.withdrawn_at = now
        signature.withdrawn_by_id = actor.user_id
        signature.withdrawn_reason = reason
    await session.flush()
    await _apply_status(session, actor, flow, _facts(signatures))
    await events.publish_and_record(
        session,
        SignatureWithdrawn(
            flow_id=flow.id, object_type=flow.object_type, object_id=flow.object_id, user_id=user_id, status=flow.status
        ),
    )
    return flow


async def verify_flow(session: AsyncSession, /, *, flow_id: int, secret: str) -> FlowVerification:
    """Recompute every signature's HMAC, and compare its content digest with the object today.

    Raises: FlowNotFound.
    """
    flow = await get_flow(session, flow_id)
    signatures = (await approval_repo.signatures_of(session, [flow.id]))[flow.id]
    current: str | None = None
    owner = _object_types.get(flow.object_type)
    if owner is not None:
        description = await owner.describe(session, flow.object_id)
        current = content_digest(description.content) if description is not None else None
    checks = [
        SignatureCheck(
            signature_id=s.id,
            user_id=s.user_id,
            valid=hmac.compare_digest(_seal(secret, flow, s), s.hmac),
            content_unchanged=None if current is None else s.content_digest == current,
        )
        for s in signatures
    ]
    return FlowVerification(flow_id=flow.id, ok=all(c.valid for c in checks), signatures=checks)


async def all_flow_ids(session: AsyncSession, /) -> list[int]:
    """Every flow id, for the verification command."""
    page = await list_flows(
        session, filters=FlowFilter(), page=PageRequest(offset=0, limit=None), sort="created_at", search=None
    )
    return [f.id for f in page.items]
