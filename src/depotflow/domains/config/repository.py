"""SQL of the config domain."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.domains.config.models import ConfigEntry


async def find_entries(session: AsyncSession, keys: Sequence[str] | None = None) -> dict[str, ConfigEntry]:
    stmt = select(ConfigEntry)
    if keys is not None:
        stmt = stmt.where(ConfigEntry.key.in_(keys))
    return {e.key: e for e in (await session.execute(stmt)).scalars()}
