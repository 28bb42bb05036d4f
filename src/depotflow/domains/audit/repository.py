"""SQL of the audit domain."""

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from depotflow.core.listing import ColumnLike, Listing, SortField
from depotflow.domains.audit.models import AuditEntry, AuditHead

HEAD_ID = 1

_ENTRY = cast(Table, AuditEntry.__table__)
_HEAD = cast(Table, AuditHead.__table__)

SORTABLE: dict[str, ColumnLike] = {
    "occurred_at": AuditEntry.occurred_at,
    "seq": AuditEntry.seq,
    "action": AuditEntry.action,
    "actor_username": AuditEntry.actor_username,
}
SEARCHABLE: Sequence[ColumnLike] = (AuditEntry.action, AuditEntry.actor_username, AuditEntry.entity_type)
LISTING = Listing(
    sortable=SORTABLE, pk=AuditEntry.seq, default_sort=[SortField("seq", descending=True)], searchable=SEARCHABLE
)


def select_entries(
    *,
    action: str | None = None,
    username: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    request_id: str | None = None,
) -> Select[AuditEntry]:
    stmt = select(AuditEntry)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if username is not None:
        stmt = stmt.where(AuditEntry.actor_username == username)
    if entity_type is not None:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.occurred_at < until)
    if request_id is not None:
        stmt = stmt.where(AuditEntry.request_id == request_id)
    return stmt


async def list_actions(session: AsyncSession) -> list[str]:
    rows = await session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(rows.scalars())


_HEAD_KEY = "depotflow.audit_head"


def lock_head_sync(session: Session) -> tuple[int, str]:
    """Lock the chain head for the rest of the transaction and return (seq, hash).

    Once locked, the head cannot change under this transaction, so it is read once per transaction
    and then kept in the session (keyed by the transaction, so a new one reads it again).
    """
    transaction = session.get_transaction()
    held = session.info.get(_HEAD_KEY)
    if held is not None and transaction is not None and held[0] is transaction:
        return held[1], held[2]
    row = session.connection().execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    )
    seq, digest = row.one()
    session.info[_HEAD_KEY] = (session.get_transaction(), int(seq), str(digest))
    return int(seq), str(digest)


def append_sync(session: Session, rows: list[dict[str, Any]], *, seq: int, digest: str) -> None:
    conn = session.connection()
    conn.execute(insert(_ENTRY), rows)
    conn.execute(update(_HEAD).where(AuditHead.id == HEAD_ID).values(seq=seq, hash=digest))
    session.info[_HEAD_KEY] = (session.get_transaction(), seq, digest)


async def find_head(session: AsyncSession) -> tuple[int, str]:
    seq, digest = (await session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID))).one()
    return int(seq), str(digest)


async def stream_entries(session: AsyncSession, *, batch: int = 1000) -> AsyncIterator[AuditEntry]:
    """Every entry in insertion order (by id), fetched in batches."""
    last_id = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield row
        last_id = rows[-1].id


async def stream_filtered(
    session: AsyncSession, stmt: Select[AuditEntry], *, batch: int = 500
) -> AsyncIterator[AuditEntry]:
    """The entries `stmt` selects, oldest first (by sequence number), fetched in batches."""
    last_seq = 0
    while True:
        rows = (
            (await session.execute(stmt.where(AuditEntry.seq > last_seq).order_by(AuditEntry.seq).limit(batch)))
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield row
        last_seq = rows[-1].seq
