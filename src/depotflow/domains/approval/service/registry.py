"""Object types registered by the owning domains: description, canonical content, hooks."""

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.canonical import canonical_json
from depotflow.core.security import Actor
from depotflow.domains.approval.errors import (
    ObjectNotFound,
    UnknownObjectType,
)
from depotflow.domains.approval.models import ApprovalFlow
from depotflow.domains.approval.schemas import (
    ObjectDescription,
)

Describe = Callable[[AsyncSession, int], Awaitable[ObjectDescription | None]]
FlowHook = Callable[[AsyncSession, Actor, ApprovalFlow], Awaitable[None]]
WithdrawCheck = Callable[[AsyncSession, ApprovalFlow], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class ObjectType:
    """What an owning domain tells the approval domain about one of its object types.

    `can_withdraw` returns None when a signature may still be withdrawn, else the reason it may not;
    `can_sign` likewise for new signatures (the object may be in a state that takes none).
    """

    describe: Describe
    on_approved: FlowHook | None = None
    on_rejected: FlowHook | None = None
    on_cancelled: FlowHook | None = None
    on_reopened: FlowHook | None = None
    can_withdraw: WithdrawCheck | None = None
    can_sign: WithdrawCheck | None = None


_object_types: dict[str, ObjectType] = {}


def register_object_type(name: str, object_type: ObjectType) -> None:
    """Make `name` approvable (called from `wiring.py`)."""
    _object_types[name] = object_type


def registered_object_types() -> list[str]:
    return sorted(_object_types)


def _object_type(name: str) -> ObjectType:
    found = _object_types.get(name)
    if found is None:
        raise UnknownObjectType(
            f"'{name}' is not an approvable object type.", details={"known": registered_object_types()}
        )
    return found


async def _describe(session: AsyncSession, object_type: str, object_id: int) -> ObjectDescription:
    description = await _object_type(object_type).describe(session, object_id)
    if description is None:
        raise ObjectNotFound(
            f"{object_type} {object_id} does not exist.", details={"object_type": object_type, "object_id": object_id}
        )
    return description


async def describe_object(session: AsyncSession, object_type: str, object_id: int) -> ObjectDescription:
    """What a signer of this object signs: its title, link and canonical content.

    Raises: UnknownObjectType, ObjectNotFound.
    """
    return await _describe(session, object_type, object_id)


def content_digest(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an object's content."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()
