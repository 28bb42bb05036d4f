"""The list-page macros (macros/list.html) and the htmx partial protocol: for every paged list page, a
request with `HX-Target: results` answers exactly what the full page holds inside `#results` (htmx swaps
that element's content with the answer), and nothing of the page around it."""

import re
from html.parser import HTMLParser

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.company import make_company
from tests.factories.identity import make_admin
from tests.factories.stock import make_location, make_lot, make_part
from tests.ui.conftest import sign_in

pytestmark = pytest.mark.anyio

LIST_PAGES = ("/web/admin/users", "/web/admin/roles", "/web/inventory/parts", "/web/inventory/companies", "/web/stock")


class _ResultsContent(HTMLParser):
    """The markup inside the element with id="results" (start and end offsets in the source)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.depth = 0
        self.start: int | None = None
        self.end: int | None = None
        self.count = 0

    def _offset(self) -> int:
        line, col = self.getpos()
        return sum(len(x) for x in self.rawdata.splitlines(keepends=True)[: line - 1]) + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if ("id", "results") in attrs:
            self.count += 1
            self.depth = 1
            self.start = self._offset() + len(self.get_starttag_text() or "")
        elif self.depth and tag == "div":
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "div":
            self.depth -= 1
            if self.depth == 0:
                self.end = self._offset()


def results_content(page: str) -> str:
    parser = _ResultsContent()
    parser.feed(page)
    assert parser.count == 1, "a list page has exactly one #results"
    assert parser.start is not None
    assert parser.end is not None
    return page[parser.start : parser.end]


def squash(markup: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", markup)).strip()


async def test_the_results_fragment_is_the_full_pages_results_content(
    client: httpx.AsyncClient, database: Database
) -> None:
    part = await make_part(database, "API-001", name="Paracetamol")
    where = await make_location(database, "WH", name="Warehouse")
    await make_lot(database, part_id=part, location_id=where, quantity="5", batch_code="B-1")
    await make_company(database, code="SUP-1", name="Supplier One", is_supplier=True)
    web = await sign_in(client, await make_admin(database))

    for path in LIST_PAGES:
        for params in ({}, {"sort": "-name"}, {"q": "no-such-thing"}, {"page": "2"}):
            full = await web.get(path, params=params)
            fragment = await web.get(path, params=params, target="results")
            assert full.status_code == fragment.status_code == 200, (path, params)
            assert "<h1" not in fragment.text, (path, params)
            assert 'role="search"' not in fragment.text, (path, params)
            assert 'role="status"' in fragment.text, (path, params)  # the result count
            assert squash(fragment.text) == squash(results_content(full.text)), (path, params)
        listed = await web.get(path, target="results")
        assert "<table" in listed.text, path  # each list has a row here, so the table (not the empty state) shows
