"""List endpoints run a constant number of queries, whatever the number of rows (no N+1)."""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event

from depotflow.core.db import Database
from tests.factories.identity import make_admin, make_user

pytestmark = pytest.mark.anyio

LISTS = [
    "/api/users/",
    "/api/roles/",
    "/api/audit/",
    "/api/approvals/templates",
    "/api/approvals/flows",
    "/api/files",
    "/modules/inventory/api/parts",
    "/modules/inventory/api/categories",
]


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)


async def _grow(
    client: httpx.AsyncClient, database: Database, admin_headers: dict[str, str], prefix: str, n: int
) -> None:
    """Add `n` users, each with an approval template naming them, a flow on a role of their own and a file,
    and as many part categories with a part in each."""
    for i in range(n):
        user = await make_user(database, username=f"{prefix}{i}", permissions=["approval.sign"])
        template = await client.post(
            "/api/approvals/templates",
            json={
                "object_type": "identity.role",
                "stage": f"{prefix}{i}",
                "name": f"{prefix} {i}",
                "officers": [
                    {"kind": "user", "user_id": user.id, "action": "must_sign"},
                    {"kind": "role", "role_id": user.role_id, "action": "can_sign"},
                ],
                "min_signatures": 1,
            },
            headers=admin_headers,
        )
        assert template.status_code == 201, template.text
        flow = await client.post(
            "/api/approvals/flows",
            json={"object_type": "identity.role", "object_id": user.role_id, "stage": f"{prefix}{i}"},
            headers=admin_headers,
        )
        assert flow.status_code == 201, flow.text
        upload = await client.post(
            "/api/files",
            files={"file": (f"{prefix}{i}.txt", f"note {prefix} {i}\n".encode(), "text/plain")},
            data={"entity_type": "identity.role", "entity_id": str(user.role_id)},
            headers=admin_headers,
        )
        assert upload.status_code == 201, upload.text
        category = await client.post(
            "/modules/inventory/api/categories", json={"name": f"{prefix} {i}"}, headers=admin_headers
        )
        assert category.status_code == 201, category.text
        part = await client.post(
            "/modules/inventory/api/parts",
            json={"ipn": f"{prefix}-{i}", "name": f"{prefix} {i}", "unit_id": 1, "category_id": category.json()["id"]},
            headers=admin_headers,
        )
        assert part.status_code == 201, part.text


async def _queries(client: httpx.AsyncClient, database: Database, headers: dict[str, str]) -> dict[str, int]:
    counts = {}
    for url in LISTS:
        with counting(database) as statements:
            response = await client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        counts[url] = len(statements)
    return counts


async def test_list_endpoints_query_the_same_for_one_row_and_for_many(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    await _grow(client, database, admin.headers, "first", 1)
    few = await _queries(client, database, admin.headers)

    await _grow(client, database, admin.headers, "more", 5)
    many = await _queries(client, database, admin.headers)

    assert many == few
    assert max(few.values()) <= 6
