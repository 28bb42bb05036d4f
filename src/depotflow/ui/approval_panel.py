"""The approval panel (ui.md §5.8) and the signature dialog's view model (§5.6).

Everything an officer is shown comes from the approval domain's own rules: who may sign now is
`policy.choose_slot` (the function `approval_service.sign` applies), the effect of a signature is
`policy.derive_status` over the signatures plus the one about to be given, and the content and its
digest come from `approval_service.describe_object` / `content_digest`, the very values `sign`
compares with `expected_digest`. Templates only draw these.
"""

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.canonical import to_jsonable
from depotflow.core.errors import DepotflowError
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import permissions as approval_perms
from depotflow.domains.approval import policy
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import CLOSED, Decision, FlowStatus, OfficerAction
from depotflow.domains.approval.errors import (
    NoOpenSlot,
    NotAnOfficer,
    NotYourTurn,
    RejectionNeedsMustSign,
    SignatureNotFound,
)
from depotflow.domains.approval.models import ApprovalFlow
from depotflow.domains.approval.schemas import FlowFilter, FlowRead, SignatureRead
from depotflow.domains.approval.service.registry import _object_types
from depotflow.domains.company import service as company_service
from depotflow.domains.identity import service as identity_service
from depotflow.domains.part import service as part_service
from depotflow.domains.stock import service as stock_service


def _(message: str) -> str:  # marks msgids for extraction; translated at render time
    return message


# Reasons a user cannot sign (shown next to the absent Sign button and in the dialog).
NO_PERMISSION = _("You do not have permission to sign approvals.")
NOT_OFFICER = _("You are not an officer of this flow")
ALREADY_SIGNED = _("Already signed by you")
FLOW_CLOSED = _("The flow is closed")
NO_OPEN_SLOT = _("Every slot you could fill is already signed by someone else")
NOT_YOUR_TURN = _("This flow is signed in order; earlier officers have not signed yet")
FLOW_CANCELLED = _("The flow was cancelled; its signatures stay as they are")

# What the owning object becomes when a flow completes (the owners' on_approved / on_rejected
# hooks), as (state kind, slug) for `state_label`. Object types not listed have no state effect.
OBJECT_EFFECTS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "purchase_order": {"approved": ("purchase_order", "issued"), "rejected": ("purchase_order", "refused")},
}

# Readable names of content keys (the canonical content itself is shown verbatim below them).
CONTENT_LABELS: Mapping[str, str] = {
    "reference": _("Reference"),
    "supplier_id": _("Supplier"),
    "currency": _("Currency"),
    "issue_date": _("Issue date"),
    "target_date": _("Target date"),
    "destination_id": _("Destination"),
    "description": _("Description"),
    "supplier_reference": _("Supplier reference"),
    "lines": _("Lines"),
    "qc_record_id": _("QC record (id)"),
    "lot_id": _("Lot"),
    "part_id": _("Part"),
    "batch_code": _("Batch"),
    "sampled_quantity": _("Sampled quantity"),
    "analysis_number": _("Analysis number"),
    "analysis_date": _("Analysis date"),
    "result": _("Result"),
    "comment": _("Comment"),
    "name": _("Name"),
    "slug": _("Slug"),
    "permissions": _("Permissions"),
}


def web_link(object_type: str, object_id: int, content: Mapping[str, Any] | None = None) -> str | None:
    """The UI page of an approvable object (the domains' `link` is their API address)."""
    if object_type == "purchase_order":
        return f"/web/procurement/{object_id}"
    if object_type == "stock.qc_record" and content and isinstance(content.get("lot_id"), int):
        return f"/web/stock/lots/{content['lot_id']}/quality"
    if object_type == "identity.role":
        return f"/web/admin/roles/{object_id}"
    return None


async def object_link(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    """The UI page of the flow's object (a QC record's page is its lot's, named in its content)."""
    link = web_link(flow.object_type, flow.object_id)
    if link is None and flow.object_type == "stock.qc_record":
        try:
            description = await approval_service.describe_object(session, flow.object_type, flow.object_id)
            link = web_link(flow.object_type, flow.object_id, description.content)
        except DepotflowError:
            link = None
    return link


def panel_dom_id(object_type: str, object_id: int) -> str:
    return f"approval-panel-{object_type.replace('.', '-')}-{object_id}"


# --- Eligibility and effect: the domain's rules, applied to this actor ---------------------------


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether the actor may sign the flow now, with which decisions, and why not."""

    decisions: tuple[Decision, ...]
    why_not: str | None
    slots: Mapping[Decision, policy.Officer]

    @property
    def can_sign(self) -> bool:
        return bool(self.decisions)


def _facts(signatures: Sequence[SignatureRead]) -> list[policy.Signed]:
    return [
        policy.Signed(user_id=s.user_id, slot=s.slot, decision=Decision(s.decision))
        for s in signatures
        if s.withdrawn_at is None
    ]


async def _owner_refusal(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    """The owning domain's `can_sign` answer (the same check `sign` makes)."""
    # The registry has no public accessor for the hook yet (see the report); read-only use.
    owner = _object_types.get(flow.object_type)
    if owner is None or owner.can_sign is None:
        return None
    return await owner.can_sign(session, flow)


async def withdraw_refusal(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    """Why no signature of the flow may be withdrawn now, or None: the checks
    `approval_service.withdraw_signature` makes (cancelled flow, the owning domain's `can_withdraw`)."""
    if flow.status == FlowStatus.CANCELLED.value:
        return FLOW_CANCELLED
    owner = _object_types.get(flow.object_type)  # read-only use, as `_owner_refusal`
    if owner is None or owner.can_withdraw is None:
        return None
    return await owner.can_withdraw(session, flow)


async def eligibility(
    session: AsyncSession, actor: Actor, flow: ApprovalFlow, signatures: Sequence[SignatureRead]
) -> Eligibility:
    """What `approval_service.sign` would do with this actor now, without signing."""
    if actor.user_id is None or not actor.has(approval_perms.SIGN):
        return Eligibility((), NO_PERMISSION, {})
    if flow.status in CLOSED:
        return Eligibility((), FLOW_CLOSED, {})
    facts = _facts(signatures)
    if any(s.user_id == actor.user_id for s in facts):
        return Eligibility((), ALREADY_SIGNED, {})
    role_id = (await identity_service.get_user(session, actor.user_id)).role_id
    officers = policy.officers_from(flow.officers)
    slots: dict[Decision, policy.Officer] = {}
    why_not: str | None = None
    for decision in (Decision.APPROVE, Decision.REJECT):
        try:
            slots[decision] = policy.choose_slot(
                officers, facts, user_id=actor.user_id, role_id=role_id, decision=decision, sequential=flow.sequential
            )
        except NotAnOfficer:
            why_not = why_not or NOT_OFFICER
        except NoOpenSlot:
            why_not = why_not or NO_OPEN_SLOT
        except NotYourTurn:
            why_not = why_not or NOT_YOUR_TURN
        except RejectionNeedsMustSign:
            pass  # can_sign officers approve or abstain
    if not slots:
        return Eligibility((), why_not or NO_OPEN_SLOT, {})
    refusal = await _owner_refusal(session, flow)
    if refusal is not None:
        return Eligibility((), refusal, {})
    return Eligibility(tuple(slots), None, slots)


@dataclass(frozen=True, slots=True)
class Progress:
    required_done: int
    required_total: int
    optional_done: int
    optional_total: int
    min_signatures: int


def progress_of(officers: Sequence[policy.Officer], facts: Sequence[policy.Signed], min_signatures: int) -> Progress:
    filled = {s.slot for s in facts}
    must = [o for o in officers if o.action is OfficerAction.MUST_SIGN]
    can = [o for o in officers if o.action is OfficerAction.CAN_SIGN]
    return Progress(
        required_done=sum(1 for o in must if o.slot in filled),
        required_total=len(must),
        optional_done=sum(1 for o in can if o.slot in filled),
        optional_total=len(can),
        min_signatures=min_signatures,
    )


@dataclass(frozen=True, slots=True)
class Effect:
    """What one decision would do: the status the flow takes, and the object's resulting state."""

    decision: Decision
    status_after: FlowStatus
    closes: bool
    before: Progress
    after: Progress
    object_state: tuple[str, str] | None  # (state kind, slug) when the flow closes


def effect_of(
    flow: ApprovalFlow, signatures: Sequence[SignatureRead], actor_id: int, slot: policy.Officer, decision: Decision
) -> Effect:
    officers = policy.officers_from(flow.officers)
    facts = _facts(signatures)
    after_facts = [*facts, policy.Signed(user_id=actor_id, slot=slot.slot, decision=decision)]
    status_after = policy.derive_status(officers, after_facts, flow.min_signatures)
    closes = status_after in CLOSED
    state = OBJECT_EFFECTS.get(flow.object_type, {}).get(status_after.value) if closes else None
    return Effect(
        decision=decision,
        status_after=status_after,
        closes=closes,
        before=progress_of(officers, facts, flow.min_signatures),
        after=progress_of(officers, after_facts, flow.min_signatures),
        object_state=state,
    )


# --- The panel ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfficerRow:
    slot: int
    order: int  # 1-based position (meaningful when the flow is sequential)
    kind: str  # "user" | "role"
    action: str  # "must_sign" | "can_sign"
    label: str  # the user's or role's name
    satisfied: bool
    signed_by: str | None  # full name of who filled the slot
    decision: str | None
    open_now: bool


@dataclass(frozen=True, slots=True)
class SignatureRow:
    id: int
    user_id: int
    full_name: str
    username: str
    signed_at: datetime
    decision: str
    meaning: str
    reason: str | None
    content_digest: str
    valid: bool  # the HMAC seal holds
    content_unchanged: bool | None
    withdrawn: bool
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    withdrawn_by: str | None = None  # username of who withdrew it
    remove_url: str | None = None  # the removal dialog, when the actor may remove this signature at all


@dataclass(slots=True)
class ApprovalPanel:
    flow: FlowRead
    object_type: str
    object_id: int
    status: str
    officers: list[OfficerRow]
    signatures: list[SignatureRow]
    progress: Progress
    can_sign: bool
    why_not: str | None
    sign_url: str
    can_withdraw: bool  # the actor may remove signatures here now (permission, and the object allows it)
    verified: bool  # every seal holds and the status agrees with the signatures
    decisions: tuple[str, ...] = ()  # "approve", "reject": what the actor may sign now
    link: str | None = None
    withdraw_refusal: str | None = None  # why removal buttons are disabled (shown as text)
    dom_id: str = field(default="")

    def __post_init__(self) -> None:
        self.dom_id = panel_dom_id(self.object_type, self.object_id)


async def _find_flow(session: AsyncSession, object_type: str, object_id: int, stage: str | None) -> ApprovalFlow | None:
    if stage is not None:
        return await approval_service.find_flow(session, object_type=object_type, object_id=object_id, stage=stage)
    page = await approval_service.list_flows(
        session,
        filters=FlowFilter(object_type=object_type, object_id=object_id),
        page=PageRequest(offset=0, limit=None),
        sort="-created_at",
        search=None,
    )
    flows = list(page.items)
    open_flows = [f for f in flows if f.status not in CLOSED]
    chosen = open_flows or flows
    return chosen[0] if chosen else None


async def approval_panel(
    session: AsyncSession,
    actor: Actor,
    *,
    object_type: str,
    object_id: int,
    secret: str,
    stage: str | None = None,
) -> ApprovalPanel | None:
    """The approval panel of an object (its open flow, else its latest), or None without a flow."""
    flow = await _find_flow(session, object_type, object_id, stage)
    if flow is None:
        return None
    return await panel_for_flow(session, actor, flow, secret=secret)


async def panel_for_flow(session: AsyncSession, actor: Actor, flow: ApprovalFlow, *, secret: str) -> ApprovalPanel:
    read = (await approval_service.flow_reads(session, [flow]))[0]
    verification = await approval_service.verify_flow(session, flow_id=flow.id, secret=secret)
    checks = {c.signature_id: c for c in verification.signatures}
    active = [s for s in read.signatures if s.withdrawn_at is None]
    by_slot = {s.slot: s for s in active}
    waiting = set(read.waiting_for)
    officers = [
        OfficerRow(
            slot=o.slot,
            order=o.slot + 1,
            kind=o.kind.value,
            action=o.action.value,
            label=o.label,
            satisfied=o.slot in by_slot,
            signed_by=by_slot[o.slot].full_name if o.slot in by_slot else None,
            decision=by_slot[o.slot].decision if o.slot in by_slot else None,
            open_now=o.slot in waiting,
        )
        for o in read.officers
    ]
    may_withdraw = actor.has(approval_perms.WITHDRAW) and bool(active)
    refusal = await withdraw_refusal(session, flow) if may_withdraw else None
    withdrawers, _roles = await identity_service.display_names(
        session, user_ids=sorted({s.withdrawn_by_id for s in read.signatures if s.withdrawn_by_id}), role_ids=[]
    )
    signatures = [
        SignatureRow(
            id=s.id,
            user_id=s.user_id,
            full_name=s.full_name,
            username=s.username,
            signed_at=s.signed_at,
            decision=s.decision,
            meaning=s.meaning,
            reason=s.reason,
            content_digest=s.content_digest,
            valid=checks[s.id].valid if s.id in checks else False,
            content_unchanged=checks[s.id].content_unchanged if s.id in checks else None,
            withdrawn=s.withdrawn_at is not None,
            withdrawn_at=s.withdrawn_at,
            withdrawn_reason=s.withdrawn_reason,
            withdrawn_by=withdrawers.get(s.withdrawn_by_id) if s.withdrawn_by_id else None,
            remove_url=(
                remove_url(flow.id, s.user_id)
                if may_withdraw and s.withdrawn_at is None and flow.status != FlowStatus.CANCELLED.value
                else None
            ),
        )
        for s in read.signatures
    ]
    allowed = await eligibility(session, actor, flow, read.signatures)
    if allowed.can_sign and not actor.has(approval_perms.VIEW):  # the dialog shows the content: approval.view
        allowed = Eligibility((), NO_PERMISSION, {})
    link = await object_link(session, flow)
    return ApprovalPanel(
        flow=read,
        object_type=flow.object_type,
        object_id=flow.object_id,
        status=read.status,
        officers=officers,
        signatures=signatures,
        progress=progress_of(policy.officers_from(flow.officers), _facts(read.signatures), flow.min_signatures),
        can_sign=allowed.can_sign,
        why_not=allowed.why_not,
        sign_url=f"/web/approvals/flows/{flow.id}/sign",
        can_withdraw=may_withdraw and refusal is None,
        verified=verification.ok,
        decisions=tuple(d.value for d in allowed.decisions),
        link=link,
        withdraw_refusal=refusal,
    )


def remove_url(flow_id: int, user_id: int) -> str:
    return f"/web/approvals/flows/{flow_id}/signatures/{user_id}/remove"


# --- The signature dialog ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContentView:
    """The signed content: key facts, tables of its lists, the canonical text and its digest."""

    title: str
    link: str | None
    facts: list[tuple[str, str]]  # (label msgid, value)
    tables: list[tuple[str, list[str], list[list[str]]]]  # (label msgid, columns, rows)
    canonical: str
    digest: str

    @property
    def short_digest(self) -> str:
        return self.digest[:12]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True)
    return str(value)


# Content keys that hold ids, and how to name what they point to. The signed content keeps the ids
# (stable under renames); the dialog shows the names beside them.
async def _company_name(session: AsyncSession, company_id: int) -> str:
    company = await company_service.get_company(session, company_id)
    return f"{company.name} ({company.code})"


async def _location_name(session: AsyncSession, location_id: int) -> str:
    location = await stock_service.get_location(session, location_id)
    return f"{location.code} · {location.name}"


async def _part_name(session: AsyncSession, part_id: int) -> str:
    part = await part_service.get_part(session, part_id)
    return f"{part.ipn} · {part.name}"


async def _lot_name(session: AsyncSession, lot_id: int) -> str:
    return (await stock_service.get_lot(session, lot_id)).batch_code


NAMERS: Mapping[str, Callable[[AsyncSession, int], Awaitable[str]]] = {
    "supplier_id": _company_name,
    "destination_id": _location_name,
    "part_id": _part_name,
    "lot_id": _lot_name,
}


async def content_names(session: AsyncSession, content: Mapping[str, Any]) -> dict[tuple[str, int], str]:
    """Names of the objects the content refers to by id (top level and in lists of rows)."""
    rows = [content, *(r for v in content.values() if isinstance(v, list) for r in v if isinstance(r, dict))]
    names: dict[tuple[str, int], str] = {}
    for row in rows:
        for key, namer in NAMERS.items():
            value = row.get(key)
            if isinstance(value, int) and (key, value) not in names:
                try:
                    names[(key, value)] = await namer(session, value)
                except DepotflowError:  # gone or not visible: the id alone is shown
                    continue
    return names


def _shown(key: str, value: Any, names: Mapping[tuple[str, int], str]) -> str:
    if isinstance(value, int) and (key, value) in names:
        return f"{names[(key, value)]} (#{value})"
    return _text(value)


def content_view(
    object_type: str,
    object_id: int,
    title: str,
    content: Mapping[str, Any],
    names: Mapping[tuple[str, int], str] | None = None,
) -> ContentView:
    names = names or {}
    facts: list[tuple[str, str]] = []
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    for key in sorted(content):
        value = content[key]
        label = CONTENT_LABELS.get(key, key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = sorted({k for row in value for k in row})
            tables.append((label, columns, [[_shown(c, row.get(c), names) for c in columns] for row in value]))
            facts.append((label, str(len(value))))
        else:
            facts.append((label, _shown(key, value, names)))
    return ContentView(
        title=title,
        link=web_link(object_type, object_id, content),
        facts=facts,
        tables=tables,
        canonical=json.dumps(to_jsonable(dict(content)), ensure_ascii=False, sort_keys=True, indent=2),
        digest=approval_service.content_digest(dict(content)),
    )


@dataclass(frozen=True, slots=True)
class SignatureDialog:
    flow: FlowRead
    content: ContentView
    eligibility: Eligibility
    effects: list[Effect]
    signer_name: str
    signer_username: str
    post_url: str
    ask_username: bool = False  # Part 11 §11.200(a)(1): the first signature of the session


async def signature_dialog(
    session: AsyncSession, actor: Actor, *, flow_id: int, ask_username: bool = False
) -> SignatureDialog:
    """What the dialog shows: the object's current content and digest, and each allowed decision's
    effect. Raises: FlowNotFound, UnknownObjectType, ObjectNotFound."""
    flow = await approval_service.get_flow(session, flow_id)
    read = (await approval_service.flow_reads(session, [flow]))[0]
    description = await approval_service.describe_object(session, flow.object_type, flow.object_id)
    allowed = await eligibility(session, actor, flow, read.signatures)
    effects = [effect_of(flow, read.signatures, actor.user_id or 0, allowed.slots[d], d) for d in allowed.decisions]
    signer = await identity_service.get_user(session, actor.user_id) if actor.user_id is not None else None
    return SignatureDialog(
        flow=read,
        content=content_view(
            flow.object_type,
            flow.object_id,
            description.title,
            description.content,
            await content_names(session, description.content),
        ),
        eligibility=allowed,
        effects=effects,
        signer_name=signer.full_name if signer is not None else actor.display_name,
        signer_username=actor.username,
        post_url=f"/web/approvals/flows/{flow.id}/sign",
        ask_username=ask_username,
    )


# --- The removal dialog ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemovalDialog:
    """Removing (withdrawing) one user's signature: whose, what it said, and what the flow becomes."""

    flow: FlowRead
    signature: SignatureRead  # the active one; the latest withdrawn one when none is active
    active: bool
    refusal: str | None  # why it cannot be removed now (cancelled flow, the owning object says no)
    status_after: FlowStatus | None  # the flow's status once removed (the domain's completion rule)
    link: str | None
    signer_name: str
    signer_username: str
    post_url: str

    @property
    def can_remove(self) -> bool:
        return self.active and self.refusal is None


async def removal_dialog(session: AsyncSession, actor: Actor, *, flow_id: int, user_id: int) -> RemovalDialog:
    """Raises: FlowNotFound, SignatureNotFound (the user never signed the flow)."""
    flow = await approval_service.get_flow(session, flow_id)
    read = (await approval_service.flow_reads(session, [flow]))[0]
    mine = [s for s in read.signatures if s.user_id == user_id]
    if not mine:
        raise SignatureNotFound(f"User {user_id} has no signature on flow {flow_id}.", details={"user_id": user_id})
    active = [s for s in mine if s.withdrawn_at is None]
    status_after: FlowStatus | None = None
    if active:
        remaining = [s for s in read.signatures if s.user_id != user_id]
        status_after = policy.derive_status(policy.officers_from(flow.officers), _facts(remaining), flow.min_signatures)
    signer = await identity_service.get_user(session, actor.user_id) if actor.user_id is not None else None
    return RemovalDialog(
        flow=read,
        signature=active[-1] if active else mine[-1],
        active=bool(active),
        refusal=await withdraw_refusal(session, flow) if active else None,
        status_after=status_after,
        link=await object_link(session, flow),
        signer_name=signer.full_name if signer is not None else actor.display_name,
        signer_username=actor.username,
        post_url=remove_url(flow.id, user_id),
    )
