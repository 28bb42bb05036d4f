"""Who, where from and why: the change context every unit of work carries for the audit trail."""

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from depotflow.core.security import Actor

request_id_var: ContextVar[str | None] = ContextVar("depotflow_request_id", default=None)

_KEY = "depotflow.change_context"


@dataclass(frozen=True, slots=True)
class ChangeContext:
    actor: Actor
    ip_address: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    reason: str | None = None


def set_change_context(session: Session, context: ChangeContext | Callable[[], ChangeContext]) -> None:
    """Attach the context; a callable is resolved at each flush (the actor may be known only later)."""
    session.info[_KEY] = context


def get_change_context(session: Session) -> ChangeContext | None:
    value = session.info.get(_KEY)
    if callable(value):
        value = value()
    return value if isinstance(value, ChangeContext) else None


def set_actor(session: Session, actor: Actor) -> None:
    """Attribute further changes in this unit of work to `actor`."""
    current = get_change_context(session) or ChangeContext(actor=actor)
    session.info[_KEY] = replace(current, actor=actor)


def set_reason(session: Session, reason: str | None) -> None:
    """Record why the following changes of this unit of work are made (kept in their audit entries)."""
    current = get_change_context(session)
    if current is not None:
        session.info[_KEY] = replace(current, reason=reason[:1000] if reason else None)
