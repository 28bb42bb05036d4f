"""Config use cases: public branding and the organisation settings."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.security import Actor
from depotflow.domains.audit import service as audit_service
from depotflow.domains.config import repository as config_repo
from depotflow.domains.config.models import ConfigEntry
from depotflow.domains.config.schemas import BRANDING_KEYS, DEFAULTS, Branding, ConfigRead, ConfigUpdate


async def get_branding(session: AsyncSession, /) -> Branding:
    """Branding only: safe for anonymous callers."""
    entries = await config_repo.find_entries(session, BRANDING_KEYS)
    return Branding(**{key: entries[key].value if key in entries else DEFAULTS[key] for key in BRANDING_KEYS})


async def get_config(session: AsyncSession, /) -> ConfigRead:
    """Every known setting, defaults filled in."""
    entries = await config_repo.find_entries(session, list(ConfigRead.model_fields))
    values: dict[str, Any] = {
        key: entries[key].value if key in entries else DEFAULTS.get(key) for key in ConfigRead.model_fields
    }
    return ConfigRead(**values)


async def signature_requires_username(session: AsyncSession, /) -> bool:
    """Whether the first signature of a browser session also asks for the username (default on)."""
    entries = await config_repo.find_entries(session, ["signature_require_username"])
    entry = entries.get("signature_require_username")
    return entry.value is not False if entry is not None else bool(DEFAULTS["signature_require_username"])


async def update_config(session: AsyncSession, actor: Actor, /, *, data: ConfigUpdate) -> ConfigRead:
    """Set the given keys (null clears an optional key); unknown keys never reach here."""
    changes = data.model_dump(exclude_unset=True, mode="json")
    for key in ("company_name", "procurement_document_templates", "signature_require_username"):
        if key in changes and changes[key] is None:
            changes[key] = DEFAULTS[key]  # null restores the default of a setting that always has a value
    if not changes:
        return await get_config(session)
    # Queue behind other writers before reading: concurrent saves then neither insert the same key
    # twice nor record a stale "before" in the trail.
    await audit_service.lock_chain(session)
    entries = await config_repo.find_entries(session, list(changes))
    for key, value in changes.items():
        entry = entries.get(key)
        if entry is None:
            session.add(ConfigEntry(key=key, value=value))
        elif entry.value != value:
            entry.value = value
    await session.flush()
    return await get_config(session)
