"""Electronic signatures: signing, withdrawal, and verification of their seals."""

import hashlib
import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core import events
from depotflow.core.canonical import canonical_json
from depotflow.core.clock import utcnow
from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import policy
from depotflow.domains.approval import repository as approval_repo
from depotflow.domains.approval.enums import CLOSED, Decision, FlowStatus
from depotflow.domains.approval.errors import (
    AlreadySigned,
    ContentChanged,
    FlowClosed,
    ReasonRequired,
    SignatureNotFound,
    SigningRefused,
    WithdrawalRefused,
)
from depotflow.domains.approval.events import SignatureWithdrawn
from depotflow.domains.approval.models import ApprovalFlow, ApprovalSignature
from depotflow.domains.approval.schemas import (
    FlowFilter,
    FlowVerification,
    SignatureCheck,
)
from depotflow.domains.approval.service.flows import _apply_status, _facts, _lock_flow, get_flow, list_flows
from depotflow.domains.approval.service.registry import _describe, _object_types, content_digest
from depotflow.domains.identity import service as identity_service

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


WITHDRAWN_FIELDS = ("withdrawn_at", "withdrawn_by_id", "withdrawn_reason")


def _seal(secret: str, flow: ApprovalFlow, signature: ApprovalSignature) -> str:
    """HMAC-SHA256, keyed by the server secret, over everything the signature asserts.

    Once withdrawn, the withdrawal (when, by whom, why) is sealed too, so clearing it in the
    database cannot silently bring the signature back.
    """
    values = {
        "flow_id": flow.id,
        "object_type": flow.object_type,
        "object_id": flow.object_id,
        "stage": flow.stage,
        **{name: getattr(signature, name) for name in SIGNED_FIELDS[4:]},
    }
    if signature.withdrawn_at is not None:
        values.update({name: getattr(signature, name) for name in WITHDRAWN_FIELDS})
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
    expected_digest: str | None = None,
) -> ApprovalFlow:
    """Record the actor's electronic signature (their password was confirmed by the caller).

    `expected_digest` is the content digest the signer was shown; when given and the object's
    content differs now, nothing is signed.

    The signature fills one officer slot, binds a digest of the object's current content and is
    sealed with an HMAC; the flow's status is recomputed and the owner's hooks run.

    Raises: ReasonRequired, FlowNotFound, FlowClosed, AlreadySigned, NotAnOfficer, NoOpenSlot, NotYourTurn,
    RejectionNeedsMustSign, ContentChanged.
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
    owner = _object_types.get(flow.object_type)
    if owner is not None and owner.can_sign is not None:
        refusal = await owner.can_sign(session, flow)
        if refusal is not None:
            raise SigningRefused(refusal)
    description = await _describe(session, flow.object_type, flow.object_id)
    digest = content_digest(description.content)
    if expected_digest is not None and expected_digest != digest:
        raise ContentChanged(
            f"{flow.object_type} {flow.object_id} changed since it was shown; review it again before signing.",
            details={"expected_digest": expected_digest, "current_digest": digest},
        )
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
        content_digest=digest,
        hmac="",
    )
    signature.hmac = _seal(secret, flow, signature)
    session.add(signature)
    await session.flush()
    facts.append(policy.Signed(user_id=signer.id, slot=officer.slot, decision=decision))
    await _apply_status(session, actor, flow, facts)
    return flow


async def withdraw_signature(
    session: AsyncSession, actor: Actor, /, *, flow_id: int, user_id: int, reason: str, secret: str
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
        signature.hmac = _seal(secret, flow, signature)
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
    """Recompute every signature's seal, compare its content digest with the object today, and check
    that the stored status is the one the signatures give.

    `ok` means every seal holds and the status agrees; a changed object is reported per signature
    (`content_unchanged`: false, also when the object no longer exists) without breaking `ok`.

    Raises: FlowNotFound.
    """
    flow = await get_flow(session, flow_id)
    signatures = (await approval_repo.signatures_of(session, [flow.id]))[flow.id]
    current: str | None = None
    owner = _object_types.get(flow.object_type)
    known = owner is not None
    if owner is not None:
        description = await owner.describe(session, flow.object_id)
        current = content_digest(description.content) if description is not None else None
    checks = [
        SignatureCheck(
            signature_id=s.id,
            user_id=s.user_id,
            valid=hmac.compare_digest(_seal(secret, flow, s), s.hmac),
            content_unchanged=(s.content_digest == current) if known else None,
        )
        for s in signatures
    ]
    derived = policy.derive_status(policy.officers_from(flow.officers), _facts(signatures), flow.min_signatures)
    consistent = flow.status == derived.value or (
        flow.status == FlowStatus.CANCELLED.value and derived is not FlowStatus.APPROVED
    )
    return FlowVerification(
        flow_id=flow.id,
        ok=consistent and all(c.valid for c in checks),
        status=flow.status,
        status_consistent=consistent,
        signatures=checks,
    )


async def all_flow_ids(session: AsyncSession, /) -> list[int]:
    """Every flow id, for the verification command."""
    page = await list_flows(
        session, filters=FlowFilter(), page=PageRequest(offset=0, limit=None), sort="created_at", search=None
    )
    return [f.id for f in page.items]
