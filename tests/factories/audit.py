"""Readers and tamperers for the audit trail: counts, decoded entries, raw SQL edits around the triggers."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from depotflow.core.db import Database
from depotflow.domains.audit.models import AuditEntry, AuditHead


async def entry_count(db: Database) -> int:
    async with db.session(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one())


async def entries(db: Database, **where: Any) -> list[dict[str, Any]]:
    """Every entry matching `where` (column == value), oldest first, JSON columns decoded."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq)
    for column, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, column) == value)
    async with db.session(write=False) as session:
        rows = (await session.execute(stmt)).scalars().all()
    out = []
    for row in rows:
        data = {c.key: getattr(row, c.key) for c in AuditEntry.__table__.columns}
        data["changes"] = json.loads(row.changes)
        data["details"] = json.loads(row.details)
        out.append(data)
    return out


async def head(db: Database) -> tuple[int, str]:
    async with db.session(write=False) as session:
        seq, digest = (await session.execute(select(AuditHead.seq, AuditHead.hash))).one()
    return int(seq), str(digest)


async def _disable_triggers(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    else:
        await conn.execute(text("DROP TRIGGER audit_entry_no_update"))
        await conn.execute(text("DROP TRIGGER audit_entry_no_delete"))


@asynccontextmanager
async def tampering(db: Database) -> AsyncIterator[AsyncConnection]:
    """A raw connection on which the append-only triggers are off; they stay off afterwards."""
    async with db.engine.begin() as conn:
        await _disable_triggers(conn)
        yield conn
