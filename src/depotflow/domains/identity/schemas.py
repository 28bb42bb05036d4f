"""I/O models of the identity domain."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from depotflow.core.schemas import InputSchema, NonEmptyStr

# Ids are BIGINT: a larger number names nothing and would overflow the database driver (a 500).
MAX_ID = 2**63 - 1

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.@+-]+$")
]
# Never stripped (InputSchema strips strings): a password is checked and hashed exactly as typed.
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1024)]
Slug = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]
PermissionSlug = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
FormSlug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class LoginRequest(InputSchema):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150)]
    password: Password


class LoginResponse(BaseModel):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    username: str
    name: str
    is_staff: bool
    must_change_password: bool
    message: str = "Login successful"


class PasswordChange(InputSchema):
    current_password: Password
    new_password: Password


class RoleRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str


class Me(BaseModel):
    id: int
    username: str
    name: str
    first_name: str
    last_name: str
    email: str | None
    is_staff: bool
    staff: bool
    role: RoleRef | None
    permissions: list[str]
    must_change_password: bool
    auth_source: str


class VerifyResponse(BaseModel):
    valid: bool
    username: str
    name: str
    is_staff: bool


class StaffStatus(BaseModel):
    username: str
    is_staff: bool
    source: str
    message: str


class DashboardLink(InputSchema):
    label: NonEmptyStr
    url: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^(/|https?://)")
    ]


class Dashboard(InputSchema):
    forms: list[FormSlug] = Field(default_factory=list, max_length=100)
    links: list[DashboardLink] = Field(default_factory=list, max_length=100)


class ShortcutForm(BaseModel):
    slug: str
    title: str | None = None
    description: str | None = None


class Shortcuts(BaseModel):
    forms: list[ShortcutForm]
    links: list[DashboardLink]


class PermissionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    description: str


class RoleCreate(InputSchema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    slug: Slug
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    permissions: list[PermissionSlug] = Field(default_factory=list, max_length=500)
    dashboard: Dashboard | None = None


class RoleUpdate(InputSchema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    slug: Slug | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    permissions: list[PermissionSlug] | None = Field(default=None, max_length=500)
    dashboard: Dashboard | None = None


class RoleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    slug: str
    description: str
    permissions: list[str]
    dashboard: Dashboard
    user_count: int
    created_at: datetime
    updated_at: datetime


class UserCreate(InputSchema):
    username: Username
    password: Password
    first_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=150)] = ""
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=150)] = ""
    email: EmailStr | None = None
    phone: Phone | None = None
    role_id: int | None = Field(default=None, strict=True, gt=0, le=MAX_ID)
    is_active: bool = Field(default=True, strict=True)
    must_change_password: bool = Field(default=False, strict=True)


class UserUpdate(InputSchema):
    first_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=150)] | None = None
    last_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=150)] | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    role_id: int | None = Field(default=None, strict=True, gt=0, le=MAX_ID)
    is_active: bool | None = Field(default=None, strict=True)
    password: Password | None = None
    must_change_password: bool | None = Field(default=None, strict=True)


class UserRead(BaseModel):
    id: int
    username: str
    name: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    role: RoleRef | None
    is_active: bool
    is_staff: bool
    auth_source: str
    must_change_password: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class UserFilter(BaseModel):
    is_active: bool | None = None
    role_id: int | None = Field(default=None, gt=0, le=MAX_ID)


Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class UnlockRequest(InputSchema):
    reason: Reason


class PasswordReset(InputSchema):
    temporary_password: Password
    reason: Reason


class SessionsRevoke(InputSchema):
    reason: Reason


class LoginLockRead(BaseModel):
    user_id: int
    username: str
    locked: bool
    locked_until: datetime | None


class SessionRead(BaseModel):
    """A live sign-in of a user: a browser session ("web") or a bearer token ("api")."""

    id: int
    kind: str
    created_at: datetime
    expires_at: datetime
    # Recorded for browser sessions only (at most once a minute); None for bearer tokens.
    last_seen_at: datetime | None
    ip_address: str | None
    user_agent: str | None
    current: bool


class SessionsRevoked(BaseModel):
    revoked: int
