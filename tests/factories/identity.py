"""Builders for identity data: users with roles and permissions, and ready-made tokens."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from sqlalchemy import select

from depotflow.core.clock import utcnow
from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor, new_token, token_digest
from depotflow.domains.identity.models import ApiToken, Role, User

DEFAULT_PASSWORD = "correct-horse-battery"


@lru_cache(maxsize=8)
def password_hash(password: str) -> str:
    """Hash once per password per session: argon2id is deliberately slow."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash(password)


@dataclass(frozen=True)
class MadeUser:
    id: int
    username: str
    password: str
    token: str
    role_id: int | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _context() -> ChangeContext:
    return ChangeContext(actor=Actor.system("test"), reason="test setup")


async def make_role(db: Database, *, slug: str, permissions: list[str], name: str | None = None) -> int:
    async with db.unit_of_work(_context()) as session:
        role = Role(name=name or slug.title(), slug=slug, description="", permissions=sorted(permissions), dashboard={})
        session.add(role)
        await session.flush()
        return role.id


async def role_id(db: Database, slug: str) -> int:
    async with db.session(write=False) as session:
        return int((await session.execute(select(Role.id).where(Role.slug == slug))).scalar_one())


async def make_user(
    db: Database,
    *,
    username: str,
    permissions: list[str] | None = None,
    role_slug: str | None = None,
    password: str = DEFAULT_PASSWORD,
    is_active: bool = True,
    with_token: bool = True,
    email: str | None = None,
    last_login_at: datetime | None = None,
    auth_source: str = "local",
) -> MadeUser:
    """A local user; `permissions` gives them a fresh role holding exactly those permissions."""
    rid: int | None = None
    if permissions is not None:
        rid = await make_role(db, slug=f"role-{username}".lower(), permissions=permissions)
    elif role_slug is not None:
        rid = await role_id(db, role_slug)
    async with db.unit_of_work(_context()) as session:
        user = User(
            username=username,
            password_hash=password_hash(password),
            first_name=username.title(),
            last_name="Tester",
            email=email,
            role_id=rid,
            is_active=is_active,
            auth_source=auth_source,
            last_login_at=last_login_at,
        )
        session.add(user)
        await session.flush()
        token = ""
        if with_token:
            token = new_token()
            now = utcnow()
            session.add(
                ApiToken(
                    user_id=user.id, token_hash=token_digest(token), created_at=now, expires_at=now + timedelta(hours=1)
                )
            )
        await session.flush()
        return MadeUser(id=user.id, username=username, password=password, token=token, role_id=rid)


async def make_admin(db: Database, username: str = "root") -> MadeUser:
    return await make_user(db, username=username, role_slug="admin")


async def make_token(db: Database, user_id: int, *, expires_in: timedelta = timedelta(hours=1)) -> str:
    """Another bearer token for `user_id`; a negative `expires_in` makes one that has already expired."""
    token = new_token()
    now = utcnow()
    async with db.unit_of_work(_context()) as session:
        session.add(
            ApiToken(user_id=user_id, token_hash=token_digest(token), created_at=now, expires_at=now + expires_in)
        )
    return token


def auth(token: str, scheme: str = "Bearer") -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"{scheme} {token}"}
