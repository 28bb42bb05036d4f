"""I/O models of the config domain: the whitelisted keys and their types."""

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, EmailStr, Field, StrictBool, StringConstraints

from depotflow.core.schemas import InputSchema

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
LogoUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=500,
        pattern=r"^(/[^\s]*|https://[^\s]+|data:image/(png|svg\+xml|jpeg);base64,[A-Za-z0-9+/=]+)$",
    ),
]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


# ISO 3166-1 alpha-2, any case. (StringConstraints checks `pattern` before `to_upper`, so "ro" would fail.)
Country = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{2}$")]
TemplateCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]
Website = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^https?://[^\s]+$")]

BRANDING_KEYS = ("company_name", "company_logo")
DEFAULTS: dict[str, object] = {
    "company_name": "depotflow",
    "company_logo": None,
    "procurement_document_templates": {},
    "signature_require_username": True,
}


class Branding(BaseModel):
    """What anyone may read: no organisation data, no settings."""

    company_name: str
    company_logo: str | None


class ConfigUpdate(InputSchema):
    company_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    company_logo: LogoUrl | None = None
    legal_name: Text200 | None = None
    tax_id: Text100 | None = None
    registration_number: Text100 | None = None
    address: Text500 | None = None
    city: Text100 | None = None
    postal_code: Text100 | None = None
    country: Country | None = None
    phone: Text100 | None = None
    email: EmailStr | None = None
    website: Website | None = None
    # Document template codes offered for purchase orders: {code: display name}.
    procurement_document_templates: dict[TemplateCode, Text200] | None = Field(default=None, max_length=50)
    # 21 CFR Part 11 §11.200(a)(1): the first signature of a browser session also asks for the
    # username (both identification components), later ones the password only. Null restores on.
    signature_require_username: StrictBool | None = None


class ConfigRead(BaseModel):
    company_name: str
    company_logo: str | None
    legal_name: str | None = None
    tax_id: str | None = None
    registration_number: str | None = None
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    procurement_document_templates: dict[str, str] = Field(default_factory=dict)
    signature_require_username: bool = True
