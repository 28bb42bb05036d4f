"""Approval tables: templates, flows (with their officer snapshot) and signatures."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.orm import Base, IdFK, IdPK, TimestampMixin, UTCDateTime


class ApprovalTemplate(TimestampMixin, Base):
    """Who must or may sign objects of one type (and stage); officers are a list of slots."""

    __tablename__ = "approval_template"
    __table_args__ = (Index("ix_approval_template_object_type", "object_type", "stage"),)

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(50), default="")
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    min_signatures: Mapped[int] = mapped_column(Integer, default=0)
    sequential: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"kind": "user"|"role", "user_id": int|None, "role_id": int|None, "action": "must_sign"|"can_sign"}]
    officers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class ApprovalFlow(TimestampMixin, Base):
    """One approval of one object at one stage; officers are copied from the template at creation."""

    __tablename__ = "approval_flow"
    __table_args__ = (
        UniqueConstraint("object_type", "object_id", "stage"),
        Index("ix_approval_flow_status", "status"),
    )

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[str] = mapped_column(String(50), default="")
    template_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("approval_template.id"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    link: Mapped[str | None] = mapped_column(String(500))
    officers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    min_signatures: Mapped[int] = mapped_column(Integer, default=0)
    sequential: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_reason: Mapped[str | None] = mapped_column(Text)


class ApprovalSignature(Base):
    """An electronic signature: who, when, what it means, over which content, sealed with an HMAC.

    Withdrawn signatures stay (with who withdrew them, when and why); they no longer count.
    """

    __tablename__ = "approval_signature"
    # The seal is not copied into the trail: with it, someone editing the database could restore a
    # withdrawn signature together with its earlier seal.
    __audit_redact__: ClassVar[frozenset[str]] = frozenset({"hmac"})
    __table_args__ = (Index("ix_approval_signature_flow_user", "flow_id", "user_id"),)

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    flow_id: Mapped[int] = mapped_column(IdFK, ForeignKey("approval_flow.id"))
    user_id: Mapped[int] = mapped_column(IdFK, ForeignKey("identity_user.id"), index=True)
    username: Mapped[str] = mapped_column(String(150))
    full_name: Mapped[str] = mapped_column(String(300))
    slot: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(20))
    meaning: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    content_digest: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
