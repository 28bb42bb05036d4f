"""Listing shared by every list endpoint: pagination, whitelisted sorting, search and counting."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from depotflow.core.errors import FieldError, InvalidSort

T = TypeVar("T")

MAX_SEARCH_LENGTH = 200

# What repositories list as sortable, searchable or primary key: a column or a mapped attribute.
ColumnLike = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True, slots=True)
class PageRequest:
    offset: int = 0
    limit: int | None = 50  # None = unpaginated (InvenTree compatibility only, capped by settings)


@dataclass(frozen=True, slots=True)
class SortField:
    name: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    offset: int
    limit: int | None


def parse_sort(raw: str | None, allowed: Collection[str], *, strict: bool) -> list[SortField]:
    """Parse `-created_at,name`; unknown fields raise (strict) or are dropped (DRF-compatible).

    Raises: InvalidSort (strict mode, unknown or repeated field).
    """
    if not raw:
        return []
    fields: list[SortField] = []
    seen: set[str] = set()
    for position, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-+")
        if name not in allowed or name in seen:
            if strict:
                problem = "is repeated" if name in seen else f"is not sortable; use one of {sorted(allowed)}"
                raise InvalidSort(
                    f"Sort field '{name}' {problem}.",
                    fields=[FieldError(("query", "sort", position), "invalid_sort", problem)],
                    details={"allowed": sorted(allowed)},
                )
            continue
        seen.add(name)
        fields.append(SortField(name, descending))
    return fields


def apply_search(stmt: Select[Any], term: str | None, searchable: Sequence[ColumnLike]) -> Select[Any]:
    """Case-insensitive substring search over `searchable`, with LIKE wildcards escaped."""
    if not term or not searchable:
        return stmt
    term = term.strip()[:MAX_SEARCH_LENGTH]
    if not term:
        return stmt
    return stmt.where(or_(*(col.icontains(term, autoescape=True) for col in searchable)))


def apply_sort(
    stmt: Select[Any],
    sort: Sequence[SortField],
    sortable: Mapping[str, ColumnLike],
    pk: ColumnLike,
) -> Select[Any]:
    """Order by the requested fields and always by the primary key last, so pages are stable."""
    # Empty values sort last in both directions, on both databases (their defaults differ). A column
    # that cannot be null gets no NULLS LAST, so that its plain index serves the order.
    clauses = []
    for f in sort:
        column = sortable[f.name]
        clause = column.desc() if f.descending else column.asc()
        clauses.append(clause if _not_nullable(column) else clause.nulls_last())
    last_descending = sort[-1].descending if sort else False
    clauses.append(pk.desc() if last_descending else pk.asc())
    return stmt.order_by(None).order_by(*clauses)


def _not_nullable(column: ColumnLike) -> bool:
    inner = getattr(column, "expression", column)
    return getattr(inner, "nullable", True) is False


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    """Count the rows of `stmt` without loading them."""
    inner = stmt.order_by(None).with_only_columns(literal(1), maintain_column_froms=True).subquery()
    return int((await session.execute(select(func.count()).select_from(inner))).scalar_one())


async def paginate(
    session: AsyncSession,
    stmt: Select[T],
    page: PageRequest,
    *,
    sort: str | Sequence[SortField] | None,
    sortable: Mapping[str, ColumnLike],
    pk: ColumnLike,
    default_sort: Sequence[SortField] = (),
    strict_sort: bool = True,
    search: str | None = None,
    searchable: Sequence[ColumnLike] = (),
) -> Page[T]:
    """Search, count, sort and slice `stmt`; two queries whatever the page size.

    Raises: InvalidSort (strict mode).
    """
    fields = (
        parse_sort(sort, sortable.keys(), strict=strict_sort) if isinstance(sort, str) or sort is None else list(sort)
    )
    stmt = apply_search(stmt, search, searchable)
    total = await count(session, stmt)
    ordered = apply_sort(stmt, fields or default_sort, sortable, pk).offset(page.offset)
    if page.limit is not None:
        ordered = ordered.limit(page.limit)
    items = (await session.execute(ordered)).scalars().all()
    return Page(items=items, total=total, offset=page.offset, limit=page.limit)


@dataclass(frozen=True, slots=True)
class Listing:
    """How one repository's rows are listed: sortable keys, search columns and the default order.

    Declared once next to the queries; `fetch` is `paginate` with those settings.
    """

    sortable: Mapping[str, ColumnLike]
    pk: ColumnLike
    default_sort: Sequence[SortField]
    searchable: Sequence[ColumnLike] = ()

    async def fetch(
        self, session: AsyncSession, stmt: Select[T], page: PageRequest, *, sort: str | None, search: str | None
    ) -> Page[T]:
        return await paginate(
            session,
            stmt,
            page,
            sort=sort,
            sortable=self.sortable,
            pk=self.pk,
            default_sort=self.default_sort,
            search=search,
            searchable=self.searchable,
        )
