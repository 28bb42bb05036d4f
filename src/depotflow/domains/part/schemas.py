"""I/O models of the part domain."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from depotflow.core.schemas import InputSchema

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]
Flag = Annotated[bool, Field(strict=True)]
IPN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$"
Ipn = Annotated[str, StringConstraints(strip_whitespace=True, pattern=IPN_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
CategoryName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^/]*$")
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
UnitCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, pattern=r"^\S+$")]
UnitName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class UnitCreate(InputSchema):
    code: UnitCode
    name: UnitName
    is_active: Flag = True


class UnitUpdate(InputSchema):
    code: UnitCode | None = None
    name: UnitName | None = None
    is_active: Flag | None = None


class UnitRead(BaseModel):
    id: int
    code: str
    name: str
    is_active: bool


class UnitFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    is_active: bool | None = None


class CategoryCreate(InputSchema):
    name: CategoryName
    parent_id: Id | None = None
    description: Description = ""


class CategoryUpdate(InputSchema):
    """Fields left out stay; `parent_id: null` moves the category to the top level."""

    name: CategoryName | None = None
    parent_id: Id | None = None
    description: Description | None = None


class CategoryRead(BaseModel):
    id: int
    name: str
    parent_id: int | None
    description: str
    path: str


class CategoryFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    parent_id: int | None = Field(default=None, gt=0, le=MAX_ID)


class PartCreate(InputSchema):
    ipn: Ipn
    name: Name
    description: Description = ""
    category_id: Id | None = None
    unit_id: Id
    is_active: Flag = True
    is_purchaseable: Flag = False
    is_salable: Flag = False
    is_component: Flag = False
    is_assembly: Flag = False
    requires_qc_release: Flag = True
    tracks_batch: Flag = True
    tracks_expiry: Flag = True
    default_location_id: Id | None = None


class PartUpdate(InputSchema):
    """Fields left out stay; nullable references (`category_id`, `default_location_id`) accept null."""

    ipn: Ipn | None = None
    name: Name | None = None
    description: Description | None = None
    category_id: Id | None = None
    unit_id: Id | None = None
    is_active: Flag | None = None
    is_purchaseable: Flag | None = None
    is_salable: Flag | None = None
    is_component: Flag | None = None
    is_assembly: Flag | None = None
    requires_qc_release: Flag | None = None
    tracks_batch: Flag | None = None
    tracks_expiry: Flag | None = None
    default_location_id: Id | None = None


class PartRead(BaseModel):
    id: int
    ipn: str
    name: str
    description: str
    category_id: int | None
    category_path: str | None
    unit_id: int
    unit_code: str
    is_active: bool
    is_purchaseable: bool
    is_salable: bool
    is_component: bool
    is_assembly: bool
    requires_qc_release: bool
    tracks_batch: bool
    tracks_expiry: bool
    default_location_id: int | None
    created_at: datetime
    updated_at: datetime


class PartFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    category_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    unit_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    is_active: bool | None = None
    is_purchaseable: bool | None = None
