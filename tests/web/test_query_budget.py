"""List endpoints run a constant number of queries, whatever the number of rows (no N+1)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from depotflow.core.db import Database
from depotflow.domains.identity import service as identity_service
from tests.factories.identity import MadeUser, make_admin, make_user

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
    "/modules/inventory/api/companies",
    "/modules/inventory/api/supplier-parts",
    "/modules/inventory/api/locations",
    "/modules/inventory/api/stock-statuses",
    "/modules/inventory/api/stock-lots",
    "/modules/inventory/api/stock-movements",
    "/modules/depo_procurement/api/purchase-orders",
    "/modules/depo_procurement/api/purchase-orders/1/items",  # pending: gains a line per round
    "/modules/depo_procurement/api/purchase-orders/2/received-items",  # issued: gains a receipt per round
]

PROCUREMENT = "/modules/depo_procurement/api"
BUDGET = 6
# Lists above the default budget, still constant: a purchase order brings its state, supplier,
# destination, line totals and approval flow; received lots are listed after the order is checked.
BUDGETS = {f"{PROCUREMENT}/purchase-orders": 9, f"{PROCUREMENT}/purchase-orders/2/received-items": 7}


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
    and as many part categories with a part in each, each part sold by a supplier of its own."""
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
        supplier = await client.post(
            "/modules/inventory/api/companies",
            json={"code": f"{prefix}-{i}", "name": f"{prefix} supplier {i}", "is_supplier": True},
            headers=admin_headers,
        )
        assert supplier.status_code == 201, supplier.text
        supplier_part = await client.post(
            "/modules/inventory/api/supplier-parts",
            json={"supplier_id": supplier.json()["id"], "part_id": part.json()["id"], "supplier_code": f"{prefix}-{i}"},
            headers=admin_headers,
        )
        assert supplier_part.status_code == 201, supplier_part.text
        await _order_round(client, admin_headers, f"{prefix}{i}")


async def _post(client: httpx.AsyncClient, headers: dict[str, str], url: str, body: dict[str, Any]) -> Any:
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code in (200, 201), (url, response.text)
    return response.json()


async def _open_orders(client: httpx.AsyncClient, admin: MadeUser) -> None:
    """Purchase orders 1 and 2 (the admin signs purchase orders): 1 stays pending and gains a line per
    round, 2 is issued and gains a receipt per round."""
    h = admin.headers
    officers = [{"kind": "user", "user_id": admin.id, "action": "must_sign"}]
    await _post(
        client, h, "/api/approvals/templates", {"object_type": "purchase_order", "name": "PO", "officers": officers}
    )
    supplier = await _post(
        client, h, "/modules/inventory/api/companies", {"code": "PO-S", "name": "S", "is_supplier": True}
    )
    part = await _post(
        client, h, "/modules/inventory/api/parts", {"ipn": "PO-P", "name": "P", "unit_id": 1, "is_purchaseable": True}
    )
    for expected_id in (1, 2):
        order = await _post(client, h, f"{PROCUREMENT}/purchase-orders", {"supplier_id": supplier["id"]})
        assert order["id"] == expected_id
        line = {"part_id": part["id"], "quantity": "1000", "purchase_price": "2.5"}
        await _post(client, h, f"{PROCUREMENT}/purchase-orders/{order['id']}/items", line)
    signed = await _post(client, h, f"{PROCUREMENT}/purchase-orders/2/sign", {"password": admin.password})
    assert signed["status"] == "approved"


async def _order_round(client: httpx.AsyncClient, h: dict[str, str], tag: str) -> None:
    """An order with two lines from a supplier, of a part and into a warehouse of its own; a line more on
    order 1 and a receipt more on order 2 (into the new warehouse)."""
    supplier = await _post(
        client, h, "/modules/inventory/api/companies", {"code": f"{tag}-PO", "name": tag, "is_supplier": True}
    )
    part = await _post(
        client,
        h,
        "/modules/inventory/api/parts",
        {"ipn": f"{tag}-PO", "name": tag, "unit_id": 1, "is_purchaseable": True},
    )
    store = await _post(
        client, h, "/modules/inventory/api/locations", {"code": f"{tag}-WH", "name": tag, "type": "warehouse"}
    )
    order = await _post(
        client, h, f"{PROCUREMENT}/purchase-orders", {"supplier_id": supplier["id"], "destination_id": store["id"]}
    )
    for quantity in ("10", "20"):
        await _post(
            client,
            h,
            f"{PROCUREMENT}/purchase-orders/{order['id']}/items",
            {"part_id": part["id"], "quantity": quantity},
        )
    await _post(client, h, f"{PROCUREMENT}/purchase-orders/1/items", {"part_id": part["id"], "quantity": "5"})
    lines = await client.get(f"{PROCUREMENT}/purchase-orders/2/items", headers=h)
    receipt = {
        "line_id": lines.json()["items"][0]["id"],
        "quantity": "1",
        "batch_code": tag,
        "location_id": store["id"],
        "expiry_date": "2030-01-01",
    }
    await _post(client, h, f"{PROCUREMENT}/purchase-orders/2/receive-stock", receipt)


async def _queries(client: httpx.AsyncClient, database: Database, headers: dict[str, str]) -> dict[str, int]:
    counts = {}
    # Authenticate afresh first: the token cache (5 s) then covers the whole pass, so no list pays for
    # a token lookup because the cached one happened to expire during it.
    identity_service.clear_token_cache()
    assert (await client.get(LISTS[0], headers=headers)).status_code == 200
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
    await _open_orders(client, admin)
    await _grow(client, database, admin.headers, "first", 1)
    few = await _queries(client, database, admin.headers)

    await _grow(client, database, admin.headers, "more", 5)
    many = await _queries(client, database, admin.headers)

    assert many == few
    assert {url: count for url, count in few.items() if count > BUDGETS.get(url, BUDGET)} == {}
