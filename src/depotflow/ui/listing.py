"""List pages (ui.md §5.1): filters, sort, search and page held in the URL, read into the same
`PageRequest` the API uses, and a `ListView` the pagination macros draw."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from fastapi import Request

from depotflow.core.errors import InvalidSort
from depotflow.core.listing import Page, PageRequest

T = TypeVar("T")

PAGE_SIZES = (25, 50, 100)
MAX_PAGE = 100_000


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What the URL asks for: page number (1-based), size, sort key (`-key` descending), search."""

    number: int = 1
    size: int = PAGE_SIZES[0]
    sort: str | None = None
    q: str | None = None

    @property
    def page_request(self) -> PageRequest:
        return PageRequest(offset=(self.number - 1) * self.size, limit=self.size)


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return min(max(value, low), high)


def list_query(request: Request, *, default_sort: str | None = None) -> ListQuery:
    """The list parameters of this request; out-of-range or malformed values fall back to defaults
    (a hand-edited URL shows a page, never an error)."""
    params = request.query_params
    size = _int(params.get("size"), PAGE_SIZES[0], 1, PAGE_SIZES[-1])
    if size not in PAGE_SIZES:
        size = PAGE_SIZES[0]
    q = (params.get("q") or "").strip()[:200] or None
    sort = (params.get("sort") or "").strip()[:64] or default_sort
    return ListQuery(number=_int(params.get("page"), 1, 1, MAX_PAGE), size=size, sort=sort, q=q)


@dataclass(frozen=True, slots=True)
class ListView(Generic[T]):
    """One page of rows and what the pagination macros need."""

    items: Sequence[T]
    total: int
    number: int
    size: int
    sort: str | None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.number - 1) * self.size + 1

    @property
    def last(self) -> int:
        return min(self.total, self.number * self.size)

    @property
    def window(self) -> list[int]:
        """Up to seven page numbers around the current one."""
        start = max(1, min(self.number - 3, self.pages - 6))
        return list(range(start, min(self.pages, start + 6) + 1))


async def fetch_list(query: ListQuery, fetch: Callable[[PageRequest, str | None], Awaitable[Page[T]]]) -> ListView[T]:
    """Call a service's list function; an unknown sort key falls back to the default order."""
    sort = query.sort
    try:
        page = await fetch(query.page_request, sort)
    except InvalidSort:
        sort = None
        page = await fetch(query.page_request, None)
    return ListView(items=page.items, total=page.total, number=query.number, size=query.size, sort=sort)
