"""I/O models of the audit domain."""

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_username: str
    actor_kind: str
    action: str
    entity_type: str | None
    entity_id: str | None
    changes: dict[str, Any]
    details: dict[str, Any]
    ip_address: str | None
    user_agent: str | None
    request_id: str | None
    reason: str | None
    hash: str


class AuditFilter(BaseModel):
    action: str | None = None
    username: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    # Times without a zone are ambiguous (and the trail stores aware UTC): refused with 422.
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    request_id: str | None = None


class VerifyProblem(BaseModel):
    """The first problem found. `seq` is the first missing number for `missing`, else the entry's own;
    `entry_id` is the row where the walk stopped (None when only the head disagrees)."""

    entry_id: int | None
    seq: int | None
    problem: Literal["altered", "missing", "out_of_order", "broken_link", "head_mismatch"]
    message: str


class VerifyReport(BaseModel):
    ok: bool
    entries_checked: int
    head_seq: int
    first_problem: VerifyProblem | None = None
