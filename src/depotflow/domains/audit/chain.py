"""Pure rules of the hash chain: canonical serialisation and the entry hash."""

import hashlib
import json
from typing import Any

from depotflow.core.canonical import to_jsonable

REDACTED = "[redacted]"

HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_user_id",
    "actor_username",
    "actor_kind",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "details",
    "ip_address",
    "user_agent",
    "request_id",
    "reason",
    "prev_hash",
)


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the entry's content and the previous entry's hash."""
    material = [to_jsonable(fields[name]) for name in HASHED_FIELDS]
    return hashlib.sha256(json.dumps(material, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
