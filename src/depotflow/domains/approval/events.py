"""Events the approval domain publishes (delivery to people belongs to the notification domain)."""

from dataclasses import dataclass

from depotflow.core.events import Event


@dataclass(frozen=True, slots=True)
class FlowWaiting(Event):
    """A flow can be signed now by the officers in `slots` (user and role ids given per slot)."""

    flow_id: int
    object_type: str
    object_id: int
    slots: tuple[int, ...]
    user_ids: tuple[int, ...]
    role_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlowCompleted(Event):
    """A flow reached `approved`, `rejected` or `cancelled`."""

    flow_id: int
    object_type: str
    object_id: int
    stage: str
    status: str


@dataclass(frozen=True, slots=True)
class SignatureWithdrawn(Event):
    flow_id: int
    object_type: str
    object_id: int
    user_id: int
    status: str
