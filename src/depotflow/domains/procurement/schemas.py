"""I/O models of procurement."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from depotflow.core.schemas import InputSchema
from depotflow.domains.procurement.enums import OrderState

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]
Flag = Annotated[bool, Field(strict=True)]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


Currency = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{3}$")]
Text64 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]


def _dates_in_order(start: date | None, end: date | None, names: tuple[str, str]) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError(f"{names[1]} cannot be before {names[0]}")


# --- orders ------------------------------------------------------------------------------------


class OrderCreate(InputSchema):
    """A new order; the reference (PO-NNNN) and the state (pending) are the server's."""

    supplier_id: Id
    description: Text = ""
    supplier_reference: Text64 = ""
    currency: Currency | None = Field(default=None, description="Defaults to the supplier's currency")
    issue_date: date | None = None
    target_date: date | None = None
    destination_id: Id | None = None
    delivery_address: Text = ""
    notes: Text = ""

    @model_validator(mode="after")
    def _dates(self) -> "OrderCreate":
        _dates_in_order(self.issue_date, self.target_date, ("issue_date", "target_date"))
        return self


class OrderUpdate(InputSchema):
    """The header fields that may change while the order is pending and unsigned; left out = kept."""

    description: Text | None = None
    supplier_reference: Text64 | None = None
    currency: Currency | None = None
    issue_date: date | None = None
    target_date: date | None = None
    destination_id: Id | None = None
    delivery_address: Text | None = None
    notes: Text | None = None


NULLABLE_HEADER = frozenset({"issue_date", "target_date", "destination_id"})


class Ref(BaseModel):
    id: int
    code: str
    name: str


class StateRead(BaseModel):
    slug: OrderState
    name: str
    value: int
    color: str
    is_terminal: bool


class OrderRead(BaseModel):
    id: int
    reference: str
    supplier_id: int
    supplier: Ref
    state: OrderState
    state_detail: StateRead
    description: str
    supplier_reference: str
    currency: str
    issue_date: date | None
    target_date: date | None
    destination_id: int | None
    destination: Ref | None
    delivery_address: str
    notes: str
    documents: dict[str, Any]
    line_count: int
    fully_received_line_count: int
    total_price: Decimal
    approval_flow_id: int | None
    approval_status: str | None
    editable: bool
    allowed_transitions: list[OrderState]
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    issued_at: datetime | None
    closed_at: datetime | None
    closed_by_id: int | None
    close_reason: str | None


class OrderFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: OrderState | None = None
    supplier_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    date_from: date | None = None
    date_to: date | None = None


class DocumentsUpdate(InputSchema):
    documents: dict[str, Any]


class DocumentsRead(BaseModel):
    documents: dict[str, Any]


# --- lines -------------------------------------------------------------------------------------


class LineCreate(InputSchema):
    part_id: Id
    quantity: Quantity
    supplier_part_id: Id | None = None
    purchase_price: Price | None = None
    currency: Currency | None = Field(default=None, description="Defaults to the order's currency")
    reference: Text64 = ""
    destination_id: Id | None = None
    notes: Text = ""


class LineUpdate(InputSchema):
    quantity: Quantity | None = None
    supplier_part_id: Id | None = None
    purchase_price: Price | None = None
    currency: Currency | None = None
    reference: Text64 | None = None
    destination_id: Id | None = None
    notes: Text | None = None


NULLABLE_LINE = frozenset({"supplier_part_id", "purchase_price", "destination_id"})


class PartBrief(BaseModel):
    id: int
    ipn: str
    name: str
    unit: str


class LineRead(BaseModel):
    id: int
    order_id: int
    line_number: int
    part_id: int
    part: PartBrief
    supplier_part_id: int | None
    quantity: Decimal
    received_quantity: Decimal
    remaining_quantity: Decimal
    purchase_price: Decimal | None
    currency: str
    reference: str
    destination_id: int | None
    notes: str
    created_at: datetime
    updated_at: datetime


# --- receiving ---------------------------------------------------------------------------------


class Container(InputSchema):
    num_containers: Annotated[int, Field(strict=True, ge=1, le=100_000)]
    products_per_container: Quantity
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    is_damaged: Flag = False
    is_unsealed: Flag = False
    is_mislabeled: Flag = False


class ReceiveRequest(InputSchema):
    """One delivery for one order line: creates a lot and its receipt movement.

    The transport and container checks are recorded with the lot; any failed check keeps the lot in
    quarantine (not transferable) whatever the part's QC rule.
    """

    line_id: Id
    quantity: Quantity
    location_id: Id | None = Field(default=None, description="A warehouse; default: the line's or order's destination")
    batch_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    supplier_batch_code: Text64 = ""
    manufacturing_date: date | None = None
    expiry_date: date | None = None
    retest_date: date | None = None
    expected_quantity: Quantity | None = None
    transferable: Flag = False
    containers: list[Container] = Field(default_factory=list, max_length=200)
    containers_cleaned: Flag | None = None
    supplier_ba_no: Text64 = ""
    supplier_ba_date: date | None = None
    accord_ba: Flag | None = None
    is_list_supplier: Flag | None = None
    clean_transport: Flag | None = None
    temperature_control: Flag = False
    temperature_conditions_met: Flag | None = None
    notes: Text = ""

    @model_validator(mode="after")
    def _consistent(self) -> "ReceiveRequest":
        _dates_in_order(self.manufacturing_date, self.expiry_date, ("manufacturing_date", "expiry_date"))
        _dates_in_order(self.manufacturing_date, self.retest_date, ("manufacturing_date", "retest_date"))
        if self.expiry_date is not None and self.expiry_date == self.manufacturing_date:
            raise ValueError("expiry_date must be after manufacturing_date")
        if self.temperature_control and self.temperature_conditions_met is None:
            raise ValueError("temperature_conditions_met is required when the transport is temperature-controlled")
        if not self.temperature_control and self.temperature_conditions_met is not None:
            raise ValueError("temperature_conditions_met applies only to temperature-controlled transport")
        return self


# --- state, signatures -------------------------------------------------------------------------


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class TemplateCodeRead(BaseModel):
    code: str
    name: str
