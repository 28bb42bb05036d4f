"""Identity tables: permission catalogue, roles, users, API tokens and login throttles."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from depotflow.core.orm import Base, IdFK, IdPK, TimestampMixin, UTCDateTime


class Permission(Base):
    """The catalogue of permission slugs; seeded and extended by migrations."""

    __tablename__ = "identity_permission"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")


class Role(TimestampMixin, Base):
    __tablename__ = "identity_role"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"forms": [form slug, ...], "links": [{"label": ..., "url": ...}, ...]}
    dashboard: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class User(TimestampMixin, Base):
    __tablename__ = "identity_user"
    __audit_redact__: ClassVar[frozenset[str]] = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    # The user's UI language ("en", "ro"); None follows the browser and the plant default.
    locale: Mapped[str | None] = mapped_column(String(10))
    role_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_role.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_source: Mapped[str] = mapped_column(String(20), default="local")
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    role: Mapped[Role | None] = relationship(lazy="raise")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or self.username


class ApiToken(Base):
    """An opaque bearer token, stored only as its SHA-256."""

    __tablename__ = "identity_token"
    __audit_redact__: ClassVar[frozenset[str]] = frozenset({"token_hash", "upstream_sealed"})

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(IdFK, ForeignKey("identity_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "api": a bearer token; "web": a browser session (cookie only, sliding idle expiry). Neither is
    # accepted where the other is expected.
    kind: Mapped[str] = mapped_column(String(10), default="api", server_default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(50))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    # The identity server's own token (InvenTree mode), sealed with our token: only its holder can unlock it.
    upstream_sealed: Mapped[str | None] = mapped_column(String(1024))


class WebSessionActivity(Base):
    """When a browser session was last used, for its idle timeout.

    Kept beside the token and out of the audit trail: it changes on every minute of use, while the
    session's start, end and idle expiry are audited on the token itself.
    """

    __tablename__ = "identity_web_activity"
    __audit__ = False

    token_id: Mapped[int] = mapped_column(IdFK, ForeignKey("identity_token.id"), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Failed-login counters per account and per address; attempts themselves are audited."""

    __tablename__ = "identity_login_throttle"
    __audit__ = False
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_identity_login_throttle_locked", "locked_until"),
        Index("ix_identity_login_throttle_window", "window_started_at"),
    )

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(150))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
