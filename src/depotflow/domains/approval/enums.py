"""Slugs of the approval domain shared by models, schemas and policy."""

from enum import StrEnum


class FlowStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


CLOSED = frozenset({FlowStatus.APPROVED, FlowStatus.REJECTED, FlowStatus.CANCELLED})


class OfficerKind(StrEnum):
    USER = "user"
    ROLE = "role"


class OfficerAction(StrEnum):
    MUST_SIGN = "must_sign"
    CAN_SIGN = "can_sign"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
