"""File tables: content-addressed blobs (one per distinct SHA-256) and the records that use them."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from depotflow.core.clock import utcnow
from depotflow.core.orm import Base, IdFK, IdPK, UTCDateTime


class FileBlob(Base):
    """Bytes stored once, named by their SHA-256; `ref_count` counts the live records using them.

    At zero the bytes are removed from the store (after the commit); the row stays, because deleted
    records still refer to it, and is reused when the same bytes are uploaded again.
    """

    __tablename__ = "file_blob"

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255))
    ref_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FileRecord(Base):
    """One uploaded file: its name and type, who uploaded it, what it is attached to.

    Records are never erased: deleting one sets `deleted_at` / `deleted_by_id`.
    """

    __tablename__ = "file_record"
    __table_args__ = (Index("ix_file_record_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(IdPK, primary_key=True)
    blob_id: Mapped[int] = mapped_column(IdFK, ForeignKey("file_blob.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Null for files stored by the system itself (a job), never for uploads over HTTP.
    uploaded_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    entity_type: Mapped[str | None] = mapped_column(String(100))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by_id: Mapped[int | None] = mapped_column(IdFK, ForeignKey("identity_user.id"))
