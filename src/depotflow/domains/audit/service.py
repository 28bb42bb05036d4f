"""The audit trail: automatic entries for every ORM change, explicit events, listing, verification."""

import csv
import io
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from sqlalchemy import Table, and_, event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import NO_VALUE, Mapper, Session, UOWTransaction
from sqlalchemy.orm.attributes import get_history

from depotflow.core.canonical import canonical_json, to_jsonable
from depotflow.core.clock import utcnow
from depotflow.core.context import ChangeContext, get_change_context
from depotflow.core.listing import Page, PageRequest
from depotflow.core.orm import Base
from depotflow.domains.audit import chain
from depotflow.domains.audit import repository as audit_repo
from depotflow.domains.audit.errors import UnattributedChange
from depotflow.domains.audit.models import GENESIS_HASH, AuditEntry
from depotflow.domains.audit.schemas import AuditFilter, VerifyProblem, VerifyReport

_installed = False

# Values before the flush that the session had not loaded, read by `_before_flush`: {(class, pk): {key: value}}.
_PRIOR_KEY = "depotflow.audit.prior"


def install() -> None:
    """Audit every ORM flush of every session in this process (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
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
    redact: frozenset[str] = getattr(type(obj), "__audit_redact__", frozenset())
    if key in redact and value is not None:
        return chain.REDACTED
    return to_jsonable(value)


def _prior_key(obj: Base) -> tuple[type, tuple[Any, ...]]:
    return type(obj), tuple(inspect(type(obj)).primary_key_from_instance(obj))


def _unloaded_keys(obj: Base, *, deleting: bool) -> list[str]:
    """Columns whose value before this flush the session does not know (expired or never loaded)."""
    state = inspect(obj)
    if deleting:
        return [key for key in _column_keys(obj) if key not in state.dict]
    return [key for key in _column_keys(obj) if state.committed_state.get(key, None) is NO_VALUE]


def _has_audited_changes(session: Session) -> bool:
    return (
        any(_auditable(obj) for obj in session.new)
        or any(_auditable(obj) for obj in session.deleted)
        or any(_auditable(obj) and session.is_modified(obj, include_collections=False) for obj in session.dirty)
    )


def _before_flush(session: Session, _flush_context: UOWTransaction, _instances: object) -> None:
    if not _has_audited_changes(session):
        return
    if get_change_context(session) is None:
        raise UnattributedChange("A change was flushed without a change context (who, where from, why).")
    # Take the chain head before the flush writes (and locks) any row: a writer waiting for the head
    # then holds no row another writer needs, so concurrent flushes queue instead of deadlocking.
    audit_repo.lock_head_sync(session)
    # A changed attribute that was not loaded has no "before" in its history; read it now, while
    # the row still holds it, so the trail never records a made-up null.
    prior: dict[tuple[type, tuple[Any, ...]], dict[str, Any]] = {}
    for deleting, objects in ((False, session.dirty), (True, session.deleted)):
        for obj in list(objects):
            if not _auditable(obj) or inspect(obj).key is None:
                continue
            keys = _unloaded_keys(obj, deleting=deleting)
            if keys:
                values = _load_columns(session, obj, keys)
                if values is not None:
                    prior[_prior_key(obj)] = values
    session.info[_PRIOR_KEY] = prior


def _load_columns(session: Session, obj: Base, keys: list[str]) -> dict[str, Any] | None:
    mapper = inspect(type(obj))
    columns = [mapper.get_property(key).columns[0] for key in keys]
    key = inspect(obj).key
    assert key is not None  # only persistent objects reach here
    identity = key[1]
    where = and_(*(col == value for col, value in zip(mapper.primary_key, identity, strict=True)))
    row = session.connection().execute(select(*columns).where(where)).one_or_none()
    return None if row is None else dict(zip(keys, row, strict=True))


def _prior(session: Session, obj: Base) -> dict[str, Any]:
    prior: dict[tuple[type, tuple[Any, ...]], dict[str, Any]] = session.info.get(_PRIOR_KEY, {})
    return prior.get(_prior_key(obj), {})


def _snapshot(obj: Base, prior: dict[str, Any] | None = None) -> dict[str, Any]:
    state = inspect(obj)
    prior = prior or {}
    return {key: _display(obj, key, state.dict.get(key, prior.get(key))) for key in _column_keys(obj)}


def _changes_of(obj: Base, prior: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _column_keys(obj):
        history = get_history(obj, key)
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else prior.get(key)
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
            before, after = _changes_of(obj, _prior(session, obj))
            if after:
                entries.append(_entry_for(obj, "update", {"before": before, "after": after}))
    for obj in list(session.deleted):
        if _auditable(obj):
            entries.append(_entry_for(obj, "delete", {"before": _snapshot(obj, _prior(session, obj))}))
    session.info.pop(_PRIOR_KEY, None)
    if entries:
        _append(session, entries)


def _mapper_of_table(table: object) -> Mapper[Any] | None:
    if not isinstance(table, Table):
        return None
    for mapper in Base.registry.mappers:
        if table in mapper.tables:
            return mapper
    return None


def _refuse_bulk_writes(orm_execute_state: Any) -> None:
    # Bulk INSERT/UPDATE/DELETE through the session skips the flush and would escape the trail,
    # whether written against the mapped class or against its Table.
    if not (orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    mapper = orm_execute_state.bind_mapper or _mapper_of_table(getattr(orm_execute_state.statement, "table", None))
    if mapper is not None and getattr(mapper.class_, "__audit__", True):
        raise UnattributedChange(
            "Bulk INSERT/UPDATE/DELETE on audited tables is not allowed; change objects through the session."
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
        "changes": canonical_json(entry.get("changes") or {}),
        "details": canonical_json(entry.get("details") or {}),
        "ip_address": context.ip_address,
        "user_agent": (context.user_agent or None) and context.user_agent[:512],
        "request_id": context.request_id,
        "reason": context.reason,
        "prev_hash": prev,
    }


async def lock_chain(session: AsyncSession, /) -> None:
    """Take the audit chain's head lock now rather than at the first audited flush.

    Every audited flush takes the head before it writes. A use case that reads rows it will change
    (and might lock them) calls this first: it then runs serialised with every other audited writer,
    sees their committed work, and cannot deadlock with them (head first, rows after, everywhere).
    """
    await session.run_sync(audit_repo.lock_head_sync)


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
    return await audit_repo.LISTING.fetch(session, stmt, page, sort=sort, search=search)


async def list_actions(session: AsyncSession, /) -> list[str]:
    """Every action that occurs in the trail, sorted."""
    return await audit_repo.list_actions(session)


def entry_as_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry with its JSON text columns decoded."""
    data = {c: getattr(entry, c) for c in chain.HASHED_FIELDS}
    data.update(id=entry.id, hash=entry.hash, changes=json.loads(entry.changes), details=json.loads(entry.details))
    return data


async def verify(session: AsyncSession, /) -> VerifyReport:
    """Walk the whole chain and report the first entry that was altered, removed or reordered.

    The head and the entries are read in one snapshot, so writers committing meanwhile are not
    mistaken for tampering (SQLite read transactions are snapshots already).
    """
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    head_seq, head_hash = await audit_repo.find_head(session)
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    async for entry in audit_repo.stream_entries(session):
        checked += 1
        fields = {name: getattr(entry, name) for name in chain.HASHED_FIELDS}
        problem: VerifyProblem | None = None
        if entry.seq != expected_seq:
            kind = "missing" if entry.seq > expected_seq else "out_of_order"
            # `seq` names what is wrong: the first missing number, or the entry out of order.
            problem = VerifyProblem(
                entry_id=entry.id,
                seq=expected_seq if kind == "missing" else entry.seq,
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


CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_username",
    "actor_user_id",
    "actor_kind",
    "action",
    "entity_type",
    "entity_id",
    "reason",
    "ip_address",
    "user_agent",
    "request_id",
    "changes",
    "details",
    "prev_hash",
    "hash",
)
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UTF8_BOM = "\ufeff"


def csv_cell(value: Any) -> str:
    """A value as CSV text that a spreadsheet shows as typed: a leading formula character gets a quote."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


async def export_csv(session: AsyncSession, /, *, filters: AuditFilter, batch: int = 500) -> AsyncIterator[str]:
    """The entries the filters select as CSV, oldest first: a UTF-8 byte order mark and the header
    first (so spreadsheet programs read the text as UTF-8), then one chunk per batch of entries."""
    yield UTF8_BOM + _csv_line(list(CSV_COLUMNS))
    stmt = audit_repo.select_entries(**filters.model_dump())
    lines: list[str] = []
    async for entry in audit_repo.stream_filtered(session, stmt, batch=batch):
        lines.append(_csv_line([csv_cell(getattr(entry, column)) for column in CSV_COLUMNS]))
        if len(lines) >= batch:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)
