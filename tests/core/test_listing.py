"""Listing through the native API: limits, offsets, whitelisted sorting, stable pages and escaped search."""

from pathlib import Path

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.domains.identity.models import User
from depotflow.main import create_app
from tests.conftest import make_settings, system_context
from tests.factories.audit import entry_count
from tests.factories.identity import MadeUser, make_admin
from tests.web.support import serve

pytestmark = pytest.mark.anyio


async def _users(db: Database, *rows: tuple[str, str]) -> dict[str, int]:
    """Users (username, first_name) without passwords; returns their ids by username."""
    async with db.unit_of_work(system_context()) as session:
        users = [User(username=u, first_name=f, last_name="Same", auth_source="local") for u, f in rows]
        session.add_all(users)
        await session.flush()
        return {u.username: u.id for u in users}


async def _list(
    client: httpx.AsyncClient, admin: MadeUser, path: str = "/api/users/", **params: object
) -> httpx.Response:
    return await client.get(path, params=params, headers=admin.headers)


async def test_the_default_page_uses_the_default_limit(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    await _users(database, *((f"user{i:02d}", "Same") for i in range(55)))

    response = await _list(client, admin)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["offset"], body["limit"], len(body["items"])) == (56, 0, 50, 50)
    assert [u["username"] for u in body["items"]] == sorted(["root", *(f"user{i:02d}" for i in range(55))])[:50]


async def test_a_limit_above_the_maximum_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    count = await entry_count(database)

    at_max = await _list(client, admin, limit=500)
    over = await _list(client, admin, limit=501)

    assert at_max.status_code == 200
    assert over.status_code == 422
    assert over.headers["content-type"] == "application/problem+json"
    assert over.json()["code"] == "listing.invalid_limit"
    assert over.json()["errors"] == [{"loc": ["query", "limit"], "code": "less_than_equal", "msg": "must be <= 500"}]
    assert await entry_count(database) == count


async def test_the_maximum_limit_is_a_setting(tmp_path: Path, db_url: str, database: Database) -> None:
    admin = await make_admin(database)
    await _users(database, *((f"user{i}", "Same") for i in range(5)))
    app = create_app(make_settings(tmp_path, db_url, listing={"default_limit": 2, "max_limit": 3}), database=database)

    async with serve(app) as client:
        default = await _list(client, admin)
        at_max = await _list(client, admin, limit=3)
        over = await _list(client, admin, limit=4)

    assert (default.json()["limit"], len(default.json()["items"])) == (2, 2)
    assert len(at_max.json()["items"]) == 3
    assert over.status_code == 422


@pytest.mark.parametrize(
    ("_case", "params", "loc"),
    [
        ("zero limit", {"limit": 0}, ["query", "limit"]),
        ("negative limit", {"limit": -5}, ["query", "limit"]),
        ("text limit", {"limit": "ten"}, ["query", "limit"]),
        ("negative offset", {"offset": -1}, ["query", "offset"]),
        ("text offset", {"offset": "x"}, ["query", "offset"]),
        ("long search", {"search": "s" * 201}, ["query", "search"]),
    ],
)
async def test_bad_paging_parameters_are_a_422(
    client: httpx.AsyncClient, database: Database, _case: str, params: dict[str, object], loc: list[str]
) -> None:
    admin = await make_admin(database)

    response = await _list(client, admin, **params)

    assert response.status_code == 422, response.text
    assert response.json()["code"] == "request.validation_failed"
    assert [e["loc"] for e in response.json()["errors"]] == [loc]


async def test_an_offset_past_the_end_is_an_empty_page(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await _list(client, admin, offset=100)

    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 1, "offset": 100, "limit": 50}


async def test_an_unknown_sort_field_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await _list(client, admin, sort="-password_hash")

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "listing.invalid_sort"
    assert body["details"] == {"allowed": ["created_at", "first_name", "last_login_at", "last_name", "username"]}
    assert body["errors"][0]["loc"] == ["query", "sort", 0]


async def test_a_repeated_sort_field_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await _list(client, admin, sort="username,-username")

    assert response.status_code == 422
    assert response.json()["code"] == "listing.invalid_sort"
    assert response.json()["errors"][0]["loc"] == ["query", "sort", 1]


async def test_an_unknown_role_sort_field_is_refused(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await _list(client, admin, "/api/roles/", sort="permissions")

    assert response.status_code == 422
    assert response.json()["code"] == "listing.invalid_sort"


async def test_sorting_by_several_fields(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    await _users(database, ("ann", "B"), ("bob", "A"), ("cat", "B"), ("dan", "A"))

    response = await _list(client, admin, sort="first_name,-username", search="Same")

    assert [u["username"] for u in response.json()["items"]] == ["dan", "bob", "cat", "ann"]


async def test_pages_sorted_by_a_tied_field_have_no_gaps_or_duplicates(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    ids = await _users(database, *((f"tied{i:02d}", "Same") for i in range(23)))

    for sort, expected in (("first_name", sorted(ids.values())), ("-first_name", sorted(ids.values(), reverse=True))):
        seen: list[int] = []
        for offset in range(0, 30, 4):
            response = await _list(client, admin, sort=sort, search="tied", limit=4, offset=offset)
            assert response.status_code == 200, response.text
            assert response.json()["total"] == 23
            seen.extend(u["id"] for u in response.json()["items"])
        assert seen == expected, sort


async def test_search_is_case_insensitive_over_several_columns(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    await _users(database, ("marta", "Ioana"), ("ioanna", "Dora"), ("zed", "Zed"))

    response = await _list(client, admin, search="IOAN")

    assert [u["username"] for u in response.json()["items"]] == ["ioanna", "marta"]
    assert response.json()["total"] == 2


@pytest.mark.parametrize(
    ("_case", "term", "expected"),
    [
        ("percent", "%", ["pct"]),
        ("underscore", "_", ["und"]),
        ("percent inside", "0%", ["pct"]),
        ("slash", "a/b", ["slash"]),
        ("backslash", "a\\b", ["backslash"]),
        ("padded", "  100%  ", ["pct"]),
        ("blank", "   ", ["backslash", "pct", "plain", "root", "slash", "und"]),
    ],
)
async def test_search_treats_wildcards_literally(
    client: httpx.AsyncClient, database: Database, _case: str, term: str, expected: list[str]
) -> None:
    admin = await make_admin(database)
    await _users(
        database,
        ("pct", "100%"),
        ("und", "a_b"),
        ("plain", "100x axb"),
        ("slash", "a/b"),
        ("backslash", "a\\b"),
    )

    response = await _list(client, admin, search=term)

    assert response.status_code == 200, response.text
    assert [u["username"] for u in response.json()["items"]] == expected
    assert response.json()["total"] == len(expected)


async def test_filters_and_search_combine_in_the_total(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    ids = await _users(database, *((f"worker{i}", "Same") for i in range(6)))
    async with database.unit_of_work(system_context()) as session:
        for name in ("worker0", "worker1"):
            user = await session.get(User, ids[name])
            assert user is not None
            user.is_active = False

    response = await _list(client, admin, is_active="false", search="worker", limit=1)

    assert response.json()["total"] == 2
    assert [u["username"] for u in response.json()["items"]] == ["worker0"]
