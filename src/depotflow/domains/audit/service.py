"""The audit trail: automatic entries for every ORM change, explicit events, listing, verification."""

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from depotflow.core.clock import utcnow
from depotflow.core.context import ChangeContext, get_change_context
from depotflow.core.listing import Page, PageRequest, SortField, paginate
from depotflow.core.orm import Base
from depotflow.domains.audit import chain
from depotflow.domains.audit import repository as audit_repo
from depotflow.domains.audit.errors import UnattributedChange
from depotflow.domains.audit.models import GENESIS_HASH, AuditEntry
from depotflow.domains.audit.schemas import AuditFilter, VerifyProblem, VerifyReport

_installed = False


def install() -> None:
    """Audit every ORM flush of every session in this process (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _refuse_bulk_writes)
    _installed = True


def _auditable(obj: object) -> bool:
    return isinstance(obj, Base) and getattr(type(obj), "__audit__", True)


def _entity_id(obj: Base) -> str:
    # The identity key is assigned only after the flush completes; read the primary key columns.
    values = inspect(type(obj)).primary_key_from_instance(obj)
    return ",".join("" if part is None else str(part) for part in values)


def _column_keys(obj: Base) -> list[str]:
    return [attr.key for attr in inspect(type(obj)).column_attrs]


def _display(obj: Base, key: str, value: Any) -> Any:
    redact = getattr(type(obj), "__audit_redact__", frozenset())
    if key in redact and value is not None:
        return chain.REDACTED
    return chain.to_jsonable(value)


def _snapshot(obj: Base) -> dict[str, Any]:
    state = inspect(obj)
    return {key: _display(obj, key, state.dict.get(key)) for key in _column_keys(obj)}


def _changes_of(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _column_keys(obj):
        history = get_history(obj, key)
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[key] = _display(obj, key, old)
        after[key] = _display(obj, key, new)
    return before, after


def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    entries: list[dict[str, Any]] = []
    for obj in list(session.new):
        if _auditable(obj):
            entries.append(_entry_for(obj, "create", {"after": _snapshot(obj)}))
    for obj in list(session.dirty):
        if _auditable(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes_of(obj)
            if after:
                entries.append(_entry_for(obj, "update", {"before": before, "after": after}))
    for obj in list(session.deleted):
        if _auditable(obj):
            entries.append(_entry_for(obj, "delete", {"before": _snapshot(obj)}))
    if entries:
        _append(session, entries)


def _refuse_bulk_writes(orm_execute_state: Any) -> None:
    # ORM-enabled bulk UPDATE/DELETE skips the flush and would escape the trail.
    mapper = orm_execute_state.bind_mapper
    if (
        (orm_execute_state.is_update or orm_execute_state.is_delete)
        and mapper is not None
        and getattr(mapper.class_, "__audit__", True)
    ):
        raise UnattributedChange(
            "Bulk UPDATE/DELETE on audited tables is not allowed; change objects through the session."
        )


def _entry_for(obj: Base, verb: str, changes: dict[str, Any]) -> dict[str, Any]:
    table = type(obj).__tablename__
    return {
        "action": f"{table}.{verb}",
        "entity_type": table,
        "entity_id": _entity_id(obj),
        "changes": changes,
        "details": {},
    }


def _append(session: Session, entries: list[dict[str, Any]]) -> None:
    context = get_change_context(session)
    if context is None:
        raise UnattributedChange("A change was flushed without a change context (who, where from, why).")
    seq, prev = audit_repo.lock_head_sync(session)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for entry in entries:
        seq += 1
        row = _row(context, entry, seq=seq, prev=prev, now=now)
        row["hash"] = chain.entry_hash(row)
        prev = row["hash"]
        rows.append(row)
    audit_repo.append_sync(session, rows, seq=seq, digest=prev)


def _row(context: ChangeContext, entry: Mapping[str, Any], *, seq: int, prev: str, now: Any) -> dict[str, Any]:
    actor = context.actor
    return {
        "seq": seq,
        "occurred_at": now,
        "actor_user_id": actor.user_id,
        "actor_username": actor.username,
        "actor_kind": actor.kind,
        "action": entry["action"],
        "entity_type": entry.get("entity_type"),
        "entity_id": entry.get("entity_id"),
        "changes": chain.canonical_json(entry.get("changes") or {}),
        "details": chain.canonical_json(entry.get("details") or {}),
        "ip_address": context.ip_address,
        "user_agent": (context.user_agent or None) and context.user_agent[:512],
        "request_id": context.request_id,
        "reason": context.reason,
        "prev_hash": prev,
    }


async def record(
    session: AsyncSession,
    *,
    action: str,
    entity_type: str | None = None,
    entity_id: object = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append an explicit event (a login attempt, a logout) to the trail in the caller's transaction.

    Raises: UnattributedChange (the session carries no change context).
    """
    entry = {
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "changes": {},
        "details": dict(details or {}),
    }
    await session.run_sync(_append, [entry])


async def list_entries(
    session: AsyncSession, /, *, filters: AuditFilter, page: PageRequest, sort: str | None, search: str | None
) -> Page[AuditEntry]:
    """The trail, newest first unless another sort is asked for."""
    stmt = audit_repo.select_entries(**filters.model_dump())
    return await paginate(
        session,
        stmt,
        page,
        sort=sort,
        sortable=audit_repo.SORTABLE,
        pk=AuditEntry.seq,
        default_sort=[SortField("seq", descending=True)],
        search=search,
        searchable=audit_repo.SEARCHABLE,
    )


async def list_actions(session: AsyncSession, /) -> list[str]:
    """Every action that occurs in the trail, sorted."""
    return await audit_repo.list_actions(session)


def entry_as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry with its JSON text columns decoded."""
    data = {c: getattr(entry, c) for c in chain.HASHED_FIELDS}
    data.update(id=entry.id, hash=entry.hash, changes=json.loads(entry.changes), details=json.loads(entry.details))
    return data


async def verify(session: AsyncSession, /) -> VerifyReport:
    """Walk the whole chain and report the first entry that was altered, removed or reordered."""
    head_seq, head_hash = await audit_repo.find_head(session)
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    async for entry in audit_repo.stream_entries(session):
        checked += 1
        fields = {name: getattr(entry, name) for name in chain.HASHED_FIELDS}
        problem: VerifyProblem | None = None
        if entry.seq != expected_seq:
            kind = "missing" if entry.seq > expected_seq else "out_of_order"
            problem = VerifyProblem(
                entry_id=entry.id,
                seq=entry.seq,
                problem=kind,
                message=f"expected entry #{expected_seq}, found #{entry.seq}"
                + (" (entries were removed)" if kind == "missing" else " (entry inserted out of order)"),
            )
        elif chain.entry_hash(fields) != entry.hash:
            problem = VerifyProblem(
                entry_id=entry.id, seq=entry.seq, problem="altered", message=f"entry #{entry.seq} was altered"
            )
        elif entry.prev_hash != prev:
            problem = VerifyProblem(
                entry_id=entry.id,
                seq=entry.seq,
                problem="broken_link",
                message=f"entry #{entry.seq} does not follow entry #{entry.seq - 1}",
            )
        if problem is not None:
            return VerifyReport(ok=False, entries_checked=checked, head_seq=head_seq, first_problem=problem)
        prev = entry.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if last_seq != head_seq or prev != head_hash:
        return VerifyReport(
            ok=False,
            entries_checked=checked,
            head_seq=head_seq,
            first_problem=VerifyProblem(
                entry_id=None,
                seq=last_seq + 1 if last_seq < head_seq else last_seq,
                problem="head_mismatch" if last_seq >= head_seq else "missing",
                message=f"the chain ends at #{last_seq} but its head records #{head_seq}",
            ),
        )
    return VerifyReport(ok=True, entries_checked=checked, head_seq=head_seq)
