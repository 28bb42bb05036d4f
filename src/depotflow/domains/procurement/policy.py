"""The purchase order state machine (pure: no I/O).

Explicit transitions (`PATCH .../state`) each need their own permission (cancelling also by the
order's creator) and a reason. The others happen as consequences: pending → issued when the
approval flow completes (→ refused when an officer rejects), issued → receiving at the first
receipt, receiving → finished when every line is fully received, and back when a signature is
withdrawn or a receipt reversed.
"""

from dataclasses import dataclass

from depotflow.core.security import Actor
from depotflow.domains.procurement import permissions
from depotflow.domains.procurement.enums import OrderState


@dataclass(frozen=True, slots=True)
class Transition:
    source: frozenset[OrderState]
    permission: str
    creator_may: bool = False


EXPLICIT: dict[OrderState, Transition] = {
    OrderState.CANCELLED: Transition(frozenset({OrderState.PENDING}), permissions.CANCEL, creator_may=True),
    OrderState.REFUSED: Transition(frozenset({OrderState.PENDING, OrderState.ISSUED}), permissions.REFUSE),
    OrderState.FINISHED: Transition(frozenset({OrderState.ISSUED, OrderState.RECEIVING}), permissions.FINISH),
}

# Names the original used for the same states (PATCH .../state?state_name=Canceled).
ALIASES = {"canceled": OrderState.CANCELLED, "processing": OrderState.RECEIVING}


def parse_state(raw: str) -> OrderState | None:
    key = raw.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    try:
        return OrderState(key)
    except ValueError:
        return None


def may_take(actor: Actor, transition: Transition, *, is_creator: bool) -> bool:
    return actor.has(transition.permission) or (transition.creator_may and is_creator)


def allowed_targets(state: OrderState, actor: Actor, *, is_creator: bool) -> list[OrderState]:
    """The explicit transitions this actor may take from `state` now."""
    return [
        target
        for target, transition in EXPLICIT.items()
        if state in transition.source and may_take(actor, transition, is_creator=is_creator)
    ]


def editable(state: OrderState, *, signed: bool) -> bool:
    return state is OrderState.PENDING and not signed
