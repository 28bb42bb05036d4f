"""In-process events: frozen dataclasses published synchronously inside the caller's transaction."""

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession


class Event:
    """Base class of every published event (subclass as a frozen dataclass)."""


E = TypeVar("E", bound=Event)
Handler = Callable[[AsyncSession, Any], Awaitable[None]]

_handlers: dict[type[Event], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[AsyncSession, E], Awaitable[None]]) -> None:
    """Register `handler` (wired in `wiring.py`); registering the same handler twice is a no-op."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


async def publish(session: AsyncSession, event: Event) -> None:
    """Run every handler of the event's type, in order, in the caller's transaction."""
    for handler in list(_handlers.get(type(event), ())):
        await handler(session, event)


def recorded(session: AsyncSession) -> list[Event]:
    """Events published through `publish` in this session (kept for later delivery and tests)."""
    events: list[Event] = session.info.setdefault("depotflow.events", [])
    return events


async def publish_and_record(session: AsyncSession, event: Event) -> None:
    recorded(session).append(event)
    await publish(session, event)
