"""I/O models of the company domain: companies (with addresses and contacts) and supplier parts."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from depotflow.core.schemas import InputSchema

MAX_ID = 2**63 - 1
MAX_ADDRESSES = 20
MAX_CONTACTS = 50
MAX_LEAD_TIME_DAYS = 3650
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"

Id = Annotated[int, Field(strict=True, gt=0, le=MAX_ID)]
Flag = Annotated[bool, Field(strict=True)]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _normal(value: Decimal) -> Decimal:
    """The value as the database gives it back: no trailing zeros, no exponent ("25.0" is 25)."""
    return value.normalize() + Decimal(0)


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


CompanyCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# ISO 4217 and ISO 3166-1 alpha-2, any case in, upper case stored. (StringConstraints checks `pattern`
# before `to_upper`, so the upper-casing happens in a before-validator.)
Currency = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{3}$")]
Country = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")]
# An e-mail address, or "" for none.
OptionalEmail = Annotated[EmailStr | Literal[""], BeforeValidator(_strip)]
Website = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^(https?://[^\s]+)?$")]
Text20 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)]
Text50 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Text64 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
ContactName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
SupplierCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# Exact decimals: at most 6 places and 12 integer digits (well inside the column's range).
PackQuantity = Annotated[
    Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False), AfterValidator(_normal)
]
Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False), AfterValidator(_normal)]
LeadTimeDays = Annotated[int, Field(strict=True, ge=0, le=MAX_LEAD_TIME_DAYS)]


# --- addresses and contacts --------------------------------------------------------------------


class Address(InputSchema):
    name: Text100 = ""
    country: Country
    city: Text100 = ""
    postal_code: Text20 = ""
    address: Text500 = ""
    contact: Text100 = ""
    email: OptionalEmail = ""
    is_primary: Flag = False


class Contact(InputSchema):
    name: ContactName
    role: Text100 = ""
    phone: Text50 = ""
    email: OptionalEmail = ""


Addresses = Annotated[list[Address], Field(max_length=MAX_ADDRESSES)]
Contacts = Annotated[list[Contact], Field(max_length=MAX_CONTACTS)]


def _one_primary(addresses: list[Address] | None) -> list[Address] | None:
    if addresses is not None and sum(a.is_primary for a in addresses) > 1:
        raise ValueError("at most one address may be primary")
    return addresses


class AddressRead(BaseModel):
    name: str = ""
    country: str = ""
    city: str = ""
    postal_code: str = ""
    address: str = ""
    contact: str = ""
    email: str = ""
    is_primary: bool = False


class ContactRead(BaseModel):
    name: str = ""
    role: str = ""
    phone: str = ""
    email: str = ""


# --- companies ---------------------------------------------------------------------------------


class CompanyCreate(InputSchema):
    code: CompanyCode
    name: Name
    is_supplier: Flag = False
    is_manufacturer: Flag = False
    is_customer: Flag = False
    is_active: Flag = True
    tax_id: Text50 = ""
    registration_number: Text50 = ""
    currency: Currency = "EUR"
    payment_terms: Text200 = ""
    delivery_terms: Text200 = ""
    bank_account: Text64 = ""
    email: OptionalEmail = ""
    phone: Text50 = ""
    website: Website = ""
    notes: Notes = ""
    addresses: Addresses = Field(default_factory=list)
    contacts: Contacts = Field(default_factory=list)

    @field_validator("addresses")
    @classmethod
    def _one_primary_address(cls, addresses: list[Address] | None) -> list[Address] | None:
        return _one_primary(addresses)


class CompanyUpdate(InputSchema):
    """Fields left out (or null) stay; `addresses` and `contacts` replace the whole list when sent."""

    code: CompanyCode | None = None
    name: Name | None = None
    is_supplier: Flag | None = None
    is_manufacturer: Flag | None = None
    is_customer: Flag | None = None
    is_active: Flag | None = None
    tax_id: Text50 | None = None
    registration_number: Text50 | None = None
    currency: Currency | None = None
    payment_terms: Text200 | None = None
    delivery_terms: Text200 | None = None
    bank_account: Text64 | None = None
    email: OptionalEmail | None = None
    phone: Text50 | None = None
    website: Website | None = None
    notes: Notes | None = None
    addresses: Addresses | None = None
    contacts: Contacts | None = None

    @field_validator("addresses")
    @classmethod
    def _one_primary_address(cls, addresses: list[Address] | None) -> list[Address] | None:
        return _one_primary(addresses)


class CompanyRead(BaseModel):
    id: int
    code: str
    name: str
    is_supplier: bool
    is_manufacturer: bool
    is_customer: bool
    is_active: bool
    tax_id: str
    registration_number: str
    currency: str
    payment_terms: str
    delivery_terms: str
    bank_account: str
    email: str
    phone: str
    website: str
    notes: str
    addresses: list[AddressRead]
    contacts: list[ContactRead]
    created_at: datetime
    updated_at: datetime


class CompanyFilter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    is_supplier: bool | None = None
    is_manufacturer: bool | None = None
    is_customer: bool | None = None
    is_active: bool | None = None


# --- supplier parts ----------------------------------------------------------------------------


class SupplierPartCreate(InputSchema):
    """`currency` defaults to the supplier's."""

    supplier_id: Id
    part_id: Id
    supplier_code: SupplierCode
    description: Notes = ""
    supplier_unit: Text20 = ""
    pack_quantity: PackQuantity = Decimal(1)
    price: Price | None = None
    currency: Currency | None = None
    lead_time_days: LeadTimeDays | None = None
    is_active: Flag = True
    notes: Notes = ""


class SupplierPartUpdate(InputSchema):
    """Fields left out stay; `price` and `lead_time_days` accept null. The supplier and the part of a
    supplier part never change (orders point at it): create another one instead."""

    supplier_code: SupplierCode | None = None
    description: Notes | None = None
    supplier_unit: Text20 | None = None
    pack_quantity: PackQuantity | None = None
    price: Price | None = None
    currency: Currency | None = None
    lead_time_days: LeadTimeDays | None = None
    is_active: Flag | None = None
    notes: Notes | None = None


class SupplierPartRead(BaseModel):
    """`supplier_company_code` and `supplier_name` are the supplier's; `supplier_code` is the code the
    supplier sells the part under."""

    id: int
    supplier_id: int
    supplier_company_code: str
    supplier_name: str
    part_id: int
    part_ipn: str
    part_name: str
    supplier_code: str
    description: str
    supplier_unit: str
    pack_quantity: Decimal
    price: Decimal | None
    currency: str
    lead_time_days: int | None
    is_active: bool
    notes: str
    created_at: datetime
    updated_at: datetime


class CompanySupplierPartFilter(BaseModel):
    """Filters of one company's supplier parts."""

    model_config = ConfigDict(extra="ignore")

    part_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    is_active: bool | None = None


class SupplierPartFilter(CompanySupplierPartFilter):
    supplier_id: int | None = Field(default=None, gt=0, le=MAX_ID)
