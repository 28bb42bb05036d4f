"""I/O models of the approval domain."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from depotflow.core.schemas import InputSchema
from depotflow.domains.approval.enums import Decision, FlowStatus, OfficerAction, OfficerKind

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]
ObjectType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_.]*$")
]
Stage = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50, pattern=r"^[a-z0-9_]*$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Meaning = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[a-z_]+$")]


class OfficerIn(InputSchema):
    kind: OfficerKind
    user_id: Id | None = None
    role_id: Id | None = None
    action: OfficerAction

    @model_validator(mode="after")
    def _one_reference(self) -> "OfficerIn":
        if self.kind is OfficerKind.USER and (self.user_id is None or self.role_id is not None):
            raise ValueError("a user officer names user_id (and no role_id)")
        if self.kind is OfficerKind.ROLE and (self.role_id is None or self.user_id is not None):
            raise ValueError("a role officer names role_id (and no user_id)")
        return self


class OfficerRead(BaseModel):
    slot: int
    kind: OfficerKind
    action: OfficerAction
    user_id: int | None
    role_id: int | None
    label: str


class TemplateCreate(InputSchema):
    object_type: ObjectType
    stage: Stage = ""
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    officers: list[OfficerIn] = Field(min_length=1, max_length=50)
    min_signatures: int = Field(default=0, strict=True, ge=0, le=50)
    sequential: bool = Field(default=False, strict=True)
    is_active: bool = Field(default=True, strict=True)


class TemplateUpdate(InputSchema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    officers: list[OfficerIn] | None = Field(default=None, min_length=1, max_length=50)
    min_signatures: int | None = Field(default=None, strict=True, ge=0, le=50)
    sequential: bool | None = Field(default=None, strict=True)
    is_active: bool | None = Field(default=None, strict=True)


class TemplateRead(BaseModel):
    id: int
    object_type: str
    stage: str
    name: str
    description: str
    is_active: bool
    min_signatures: int
    sequential: bool
    officers: list[OfficerRead]
    created_at: datetime
    updated_at: datetime


class TemplateFilter(BaseModel):
    object_type: str | None = None
    stage: str | None = None
    is_active: bool | None = None


class FlowCreate(InputSchema):
    object_type: ObjectType
    object_id: Id
    stage: Stage = ""
    template_id: Id | None = None


class SignRequest(InputSchema):
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024, strip_whitespace=False)]
    decision: Decision = Decision.APPROVE
    meaning: Meaning | None = None
    reason: Reason | None = None
    # The content digest the signer reviewed (GET .../content); refused with 409 if it changed since.
    expected_digest: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> "SignRequest":
        if self.decision is Decision.REJECT and not self.reason:
            raise ValueError("a rejection needs a reason")
        # The meaning is what the signature says it stands for: a rejection "approved" (or the
        # reverse) would be a record contradicting itself.
        opposite = "approved" if self.decision is Decision.REJECT else "rejected"
        if self.meaning == opposite:
            raise ValueError(f"the meaning '{opposite}' contradicts the decision '{self.decision.value}'")
        return self


class WithdrawRequest(InputSchema):
    reason: Reason


class SignatureRead(BaseModel):
    id: int
    user_id: int
    username: str
    full_name: str
    slot: int
    decision: str
    meaning: str
    reason: str | None
    signed_at: datetime
    ip_address: str | None
    user_agent: str | None
    content_digest: str
    withdrawn_at: datetime | None
    withdrawn_by_id: int | None
    withdrawn_reason: str | None


class FlowRead(BaseModel):
    id: int
    object_type: str
    object_id: int
    stage: str
    template_id: int | None
    title: str
    link: str | None
    status: str
    min_signatures: int
    sequential: bool
    officers: list[OfficerRead]
    signatures: list[SignatureRead]
    waiting_for: list[int]
    completed_at: datetime | None
    cancelled_reason: str | None
    created_at: datetime
    updated_at: datetime


class FlowFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object_type: str | None = None
    object_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    stage: str | None = None
    # An enum, so that a mistyped status is refused (422) instead of silently matching nothing.
    status: FlowStatus | None = None


class SignatureCheck(BaseModel):
    signature_id: int
    user_id: int
    valid: bool
    content_unchanged: bool | None


class FlowVerification(BaseModel):
    flow_id: int
    ok: bool
    status: str
    status_consistent: bool
    signatures: list[SignatureCheck]


class ObjectDescription(BaseModel):
    """What an owning domain says about one of its objects."""

    title: str
    link: str | None = None
    content: dict[str, Any]


class FlowContent(ObjectDescription):
    """What a signature on the flow would sign now, and its digest (pass it back as expected_digest)."""

    content_digest: str
