"""I/O models of the stock domain."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from depotflow.core.schemas import InputSchema
from depotflow.domains.stock.enums import LocationType, MovementKind, QcResult

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]
Flag = Annotated[bool, Field(strict=True)]
LocationCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
]
LocationName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
# Quantities: exact decimals, at most 6 places and 12 integer digits (well inside the column's range).
PositiveQuantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
SignedQuantity = Annotated[Decimal, Field(max_digits=18, decimal_places=6, allow_inf_nan=False)]
NonNegativeQuantity = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]


# --- locations ---------------------------------------------------------------------------------


class LocationCreate(InputSchema):
    code: LocationCode
    name: LocationName
    type: LocationType
    parent_id: Id | None = None
    description: Description = ""
    is_active: Flag = True


class LocationUpdate(InputSchema):
    """Fields left out stay; `parent_id: null` moves the location to the top level."""

    code: LocationCode | None = None
    name: LocationName | None = None
    type: LocationType | None = None
    parent_id: Id | None = None
    description: Description | None = None
    is_active: Flag | None = None


class LocationRead(BaseModel):
    id: int
    code: str
    name: str
    type: LocationType
    parent_id: int | None
    description: str
    is_active: bool
    path: str
    created_at: datetime
    updated_at: datetime


class LocationFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    parent_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    type: LocationType | None = None
    is_active: bool | None = None


class LocationRef(BaseModel):
    id: int
    code: str
    name: str


# --- statuses ----------------------------------------------------------------------------------


class StatusRead(BaseModel):
    id: int
    slug: str
    name: str
    value: int
    color: str
    is_requestable: bool
    is_transferable: bool


# --- lots and movements ------------------------------------------------------------------------


class PartRef(BaseModel):
    id: int
    ipn: str
    name: str
    unit: str


class BalanceRead(BaseModel):
    location_id: int
    location_code: str
    quantity: Decimal


class LotRead(BaseModel):
    id: int
    part_id: int
    part: PartRef
    batch_code: str
    supplier_batch_code: str
    supplier_id: int | None
    manufacturing_date: date | None
    expiry_date: date | None
    retest_date: date | None
    received_quantity: Decimal
    expected_quantity: Decimal | None
    quantity: Decimal
    balances: list[BalanceRead]
    status: StatusRead
    origin_type: str
    origin_id: int | None
    origin_line_id: int | None
    origin_reference: str
    receipt: dict[str, Any]
    findings: list[str]
    notes: str
    received_by_id: int | None
    created_at: datetime
    status_changed_at: datetime
    reversed_at: datetime | None
    reversed_by_id: int | None
    reversal_reason: str | None


class LotFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    part_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    status: str | None = Field(default=None, max_length=40)
    location_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    origin_type: str | None = Field(default=None, max_length=40)
    origin_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    in_stock: bool | None = None
    include_reversed: bool = False


class MovementRead(BaseModel):
    id: int
    lot_id: int
    part_id: int
    location_id: int
    kind: MovementKind
    quantity: Decimal
    document_type: str
    document_id: int | None
    transfer_group: str | None
    notes: str
    created_by_id: int | None
    created_at: datetime


class MovementFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lot_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    part_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    location_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    kind: MovementKind | None = None


class ManualMovement(InputSchema):
    """A movement posted by hand: an adjustment (either sign), scrap (taken out) or a transfer."""

    lot_id: Id
    kind: Annotated[MovementKind, Field(description="adjustment, scrap or transfer_out (a transfer)")]
    location_id: Id
    quantity: SignedQuantity
    to_location_id: Id | None = None
    notes: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class MovementsPosted(BaseModel):
    """What one manual movement created: one movement, or the two halves of a transfer."""

    items: list[MovementRead]


class StatusChange(InputSchema):
    status: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ConsistencyProblem(BaseModel):
    kind: str
    lot_id: int | None
    location_id: int | None
    detail: str


class ConsistencyReport(BaseModel):
    ok: bool
    lots: int
    movements: int
    balances: int
    problems: list[ConsistencyProblem]


# --- quality control ---------------------------------------------------------------------------

AnalysisNumber = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Comment = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class QcRecordCreate(InputSchema):
    """A QC record about one lot. A sampled quantity above zero is taken out of the lot by a sampling
    movement at `location_id` (default: where the lot was received)."""

    lot_id: Id
    location_id: Id | None = None
    sampling_date: date | None = None
    sampled_quantity: NonNegativeQuantity = Decimal(0)
    analysis_number: AnalysisNumber = ""
    analysis_date: date | None = None
    result: QcResult = QcResult.PENDING
    comment: Comment = ""


class LotQcRecordCreate(InputSchema):
    """A QC record posted on the lot's own route: `lot_id` may be left out (the path names the lot);
    when given it must be the path's lot."""

    lot_id: Id | None = None
    location_id: Id | None = None
    sampling_date: date | None = None
    sampled_quantity: NonNegativeQuantity = Decimal(0)
    analysis_number: AnalysisNumber = ""
    analysis_date: date | None = None
    result: QcResult = QcResult.PENDING
    comment: Comment = ""


class QcRecordUpdate(InputSchema):
    """Change an unconfirmed record; `confirm: true` with the signer's `password` signs the result
    (needs `qc.release`): conform releases the lot to `ok`, non-conform moves it to `rejected`."""

    sampling_date: date | None = None
    analysis_number: AnalysisNumber | None = None
    analysis_date: date | None = None
    result: QcResult | None = None
    comment: Comment | None = None
    confirm: Flag = False
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024, strip_whitespace=False)] | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _password_to_confirm(self) -> "QcRecordUpdate":
        if self.confirm and not self.password:
            raise ValueError("confirming a QC result needs the signer's password")
        return self


class QcRecordRead(BaseModel):
    id: int
    lot_id: int
    order_id: int | None
    part_id: int
    batch_code: str
    sampling_date: date | None
    sampled_quantity: Decimal
    sampling_movement_id: int | None
    analysis_number: str
    analysis_date: date | None
    result: QcResult
    comment: str
    confirmed: bool
    confirmed_at: datetime | None
    confirmed_by_id: int | None
    flow_id: int | None
    lot_status: str
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
