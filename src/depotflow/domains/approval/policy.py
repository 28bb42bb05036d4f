"""Pure rules of approvals: which officer slot a signer fills, and the status the signatures give.

No I/O here: everything is decided from the flow's officer snapshot and its active signatures.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from depotflow.domains.approval.enums import Decision, FlowStatus, OfficerAction, OfficerKind
from depotflow.domains.approval.errors import (
    InvalidOfficers,
    NoOpenSlot,
    NotAnOfficer,
    NotYourTurn,
    RejectionNeedsMustSign,
)


@dataclass(frozen=True, slots=True)
class Officer:
    slot: int
    kind: OfficerKind
    action: OfficerAction
    user_id: int | None = None
    role_id: int | None = None

    def matches(self, user_id: int, role_id: int | None) -> bool:
        if self.kind is OfficerKind.USER:
            return self.user_id == user_id
        return role_id is not None and self.role_id == role_id


@dataclass(frozen=True, slots=True)
class Signed:
    """An active (not withdrawn) signature, reduced to what the rules need."""

    user_id: int
    slot: int
    decision: Decision


def officers_from(raw: Sequence[dict[str, Any]]) -> list[Officer]:
    return [
        Officer(
            slot=i,
            kind=OfficerKind(o["kind"]),
            action=OfficerAction(o["action"]),
            user_id=o.get("user_id"),
            role_id=o.get("role_id"),
        )
        for i, o in enumerate(raw)
    ]


def officer_as_dict(officer: Officer) -> dict[str, Any]:
    """The stored form of an officer slot (the inverse of `officers_from`)."""
    return {
        "kind": officer.kind.value,
        "action": officer.action.value,
        "user_id": officer.user_id,
        "role_id": officer.role_id,
    }


def validate_officers(officers: Sequence[Officer], min_signatures: int) -> None:
    """Raises: InvalidOfficers (empty, duplicated, or a minimum no one can reach)."""
    problems: list[str] = []
    if not officers:
        problems.append("at least one officer is needed")
    seen: set[tuple[OfficerKind, int | None]] = set()
    for officer in officers:
        ref = officer.user_id if officer.kind is OfficerKind.USER else officer.role_id
        if ref is None:
            problems.append(f"officer {officer.slot} names no {officer.kind.value}")
        elif (officer.kind, ref) in seen:
            problems.append(f"officer {officer.slot} repeats {officer.kind.value} {ref}")
        seen.add((officer.kind, ref))
    can_sign = sum(1 for o in officers if o.action is OfficerAction.CAN_SIGN)
    must_sign = len(officers) - can_sign
    if min_signatures < 0:
        problems.append("min_signatures cannot be negative")
    if min_signatures > can_sign:
        problems.append(f"min_signatures ({min_signatures}) exceeds the {can_sign} can_sign officer(s)")
    if officers and must_sign == 0 and min_signatures == 0:
        problems.append("with no must_sign officer, min_signatures must be at least 1")
    if problems:
        raise InvalidOfficers("Invalid officers: " + "; ".join(problems) + ".", details={"problems": problems})


def is_officer(officers: Sequence[Officer], user_id: int, role_id: int | None) -> bool:
    return any(o.matches(user_id, role_id) for o in officers)


def _gate_open(officers: Sequence[Officer], filled: set[int], slot: int) -> bool:
    """Sequential flows: a slot opens once every earlier must_sign slot is filled."""
    return all(o.slot in filled for o in officers[:slot] if o.action is OfficerAction.MUST_SIGN)


def choose_slot(
    officers: Sequence[Officer],
    signatures: Sequence[Signed],
    *,
    user_id: int,
    role_id: int | None,
    decision: Decision,
    sequential: bool,
) -> Officer:
    """The officer slot this signer fills: their own must_sign slot first, then a role one, then can_sign.

    Raises: NotAnOfficer, NoOpenSlot, NotYourTurn, RejectionNeedsMustSign.
    """
    mine = [o for o in officers if o.matches(user_id, role_id)]
    if not mine:
        raise NotAnOfficer("You are not an officer of this approval flow.")
    filled = {s.slot for s in signatures}
    candidates = [o for o in mine if o.slot not in filled]
    if decision is Decision.REJECT:
        candidates = [o for o in candidates if o.action is OfficerAction.MUST_SIGN]
        if not candidates:
            raise RejectionNeedsMustSign("Only an open must_sign officer can reject; can_sign officers just abstain.")
    if not candidates:
        raise NoOpenSlot("Every officer slot you could fill is already signed by someone else.")

    def rank(o: Officer) -> tuple[int, int, int]:
        return (o.action is not OfficerAction.MUST_SIGN, o.kind is not OfficerKind.USER, o.slot)

    candidates.sort(key=rank)
    if sequential:
        own = candidates[0]
        if decision is Decision.APPROVE and own.kind is OfficerKind.USER and own.action is OfficerAction.MUST_SIGN:
            # Only this signer can fill their own must_sign slot and each person signs once: approving
            # through another slot now would leave that one unfillable for ever. They wait their turn.
            if not _gate_open(officers, filled, own.slot):
                raise NotYourTurn("This flow is signed in order; earlier officers have not signed yet.")
            return own
        open_now = [o for o in candidates if _gate_open(officers, filled, o.slot)]
        if not open_now:
            raise NotYourTurn("This flow is signed in order; earlier officers have not signed yet.")
        return open_now[0]
    return candidates[0]


def derive_status(officers: Sequence[Officer], signatures: Sequence[Signed], min_signatures: int) -> FlowStatus:
    """pending (no signature) → in_progress → approved; rejected as soon as a must_sign officer refuses."""
    if any(s.decision is Decision.REJECT for s in signatures):
        return FlowStatus.REJECTED
    if not signatures:
        return FlowStatus.PENDING
    filled = {s.slot for s in signatures}
    must = [o for o in officers if o.action is OfficerAction.MUST_SIGN]
    can_signed = sum(1 for o in officers if o.action is OfficerAction.CAN_SIGN and o.slot in filled)
    if all(o.slot in filled for o in must) and can_signed >= min_signatures:
        return FlowStatus.APPROVED
    return FlowStatus.IN_PROGRESS


def waiting_for(officers: Sequence[Officer], signatures: Sequence[Signed], *, sequential: bool) -> list[Officer]:
    """The officer slots that could be signed now."""
    filled = {s.slot for s in signatures}
    return [o for o in officers if o.slot not in filled and (not sequential or _gate_open(officers, filled, o.slot))]
