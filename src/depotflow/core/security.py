"""Security primitives: the Actor, password hashing and opaque token helpers."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

ADMIN_PERMISSION = "admin"

# OWASP's argon2id profile (m=19 MiB, t=2, p=1).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: resolved once per request or job and passed to every service call."""

    user_id: int | None
    username: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    kind: Literal["user", "system", "anonymous"] = "user"
    token_id: int | None = None
    display_name: str = ""
    role_id: int | None = None
    # A one-time or reset password: only the routes that need no permission are open until changed.
    password_change_required: bool = False

    @property
    def is_admin(self) -> bool:
        return ADMIN_PERMISSION in self.permissions or self.kind == "system"

    def has(self, permission: str) -> bool:
        return self.is_admin or permission in self.permissions

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(user_id=None, username=name, kind="system")

    @classmethod
    def anonymous(cls) -> "Actor":
        return cls(user_id=None, username="anonymous", kind="anonymous")


async def hash_password(password: str) -> str:
    """Argon2id hash, computed off the event loop."""
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time verification off the event loop; a missing or malformed hash never matches."""
    if not password_hash:
        # Spend comparable time so unknown users cannot be told apart by timing.
        await anyio.to_thread.run_sync(_hasher.hash, password)
        return False

    def _verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token() -> str:
    """An opaque bearer token: 256 bits from the OS CSPRNG."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256, so a database leak yields no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def seal(secret: str, plaintext: str) -> str:
    """Encrypt a short value with a keystream derived from `secret` (one value per secret).

    Used to keep an upstream credential that only the holder of our own token can unlock.
    """
    data = plaintext.encode()
    stream = hashlib.shake_256(b"depotflow-seal\x00" + secret.encode()).digest(len(data))
    tag = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()[:16]
    return tag + bytes(a ^ b for a, b in zip(data, stream, strict=True)).hex()


def unseal(secret: str, sealed: str) -> str | None:
    """Reverse `seal`; None when the secret does not match."""
    tag, body = sealed[:16], bytes.fromhex(sealed[16:])
    stream = hashlib.shake_256(b"depotflow-seal\x00" + secret.encode()).digest(len(body))
    data = bytes(a ^ b for a, b in zip(body, stream, strict=True))
    expected = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()[:16]
    return data.decode() if hmac.compare_digest(tag, expected) else None
