"""A small plant built through the HTTP API, for procurement tests: users, supplier, parts, locations,
an approval template for purchase orders; plus shortcuts for the order story."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from depotflow.core.db import Database
from tests.factories.identity import MadeUser, make_admin, make_user

INVENTORY = "/modules/inventory/api"
PROCUREMENT = "/modules/depo_procurement/api"

BUYER = ["procurement.view", "procurement.add", "procurement.change", "company.view", "part.view", "stock.view"]
APPROVER = ["procurement.view", "approval.view", "approval.sign"]
OPERATOR = ["procurement.view", "procurement.receive", "stock.view", "part.view"]
QC = ["procurement.view", "stock.view", "qc.record", "qc.release", "approval.view"]


@dataclass
class Plant:
    admin: MadeUser
    buyer: MadeUser
    approver1: MadeUser
    approver2: MadeUser
    operator: MadeUser
    qc: MadeUser
    supplier_id: int
    part_id: int
    untested_part_id: int
    warehouse_id: int
    lab_id: int
    template_id: int


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def make_plant(client: httpx.AsyncClient, database: Database, *, with_template: bool = True) -> Plant:
    admin = await make_admin(database)
    h = admin.headers
    buyer = await make_user(database, username="bea", permissions=BUYER)
    approver1 = await make_user(database, username="alex", permissions=APPROVER)
    approver2 = await make_user(database, username="ana", permissions=APPROVER)
    operator = await make_user(database, username="otto", permissions=OPERATOR)
    qc = await make_user(database, username="quinn", permissions=QC)
    supplier = ok(
        await client.post(
            f"{INVENTORY}/companies",
            json={"code": "SUP-1", "name": "Pharma Supplies SRL", "is_supplier": True, "currency": "RON"},
            headers=h,
        ),
        201,
    )
    units = ok(await client.get(f"{INVENTORY}/units", params={"search": "kg"}, headers=h))["items"]
    kg = next(u["id"] for u in units if u["code"] == "kg")
    part = ok(
        await client.post(
            f"{INVENTORY}/parts",
            json={"ipn": "API-001", "name": "Paracetamol API", "unit_id": kg, "is_purchaseable": True},
            headers=h,
        ),
        201,
    )
    untested = ok(
        await client.post(
            f"{INVENTORY}/parts",
            json={
                "ipn": "PKG-001",
                "name": "Carton box",
                "unit_id": kg,
                "is_purchaseable": True,
                "requires_qc_release": False,
                "tracks_expiry": False,
            },
            headers=h,
        ),
        201,
    )
    warehouse = ok(
        await client.post(
            f"{INVENTORY}/locations", json={"code": "WH-RM", "name": "Raw materials", "type": "warehouse"}, headers=h
        ),
        201,
    )
    lab = ok(
        await client.post(
            f"{INVENTORY}/locations", json={"code": "LAB", "name": "QC lab", "type": "laboratory"}, headers=h
        ),
        201,
    )
    template_id = 0
    if with_template:
        template = ok(
            await client.post(
                "/api/approvals/templates",
                json={
                    "object_type": "purchase_order",
                    "name": "Purchase orders",
                    "officers": [
                        {"kind": "user", "user_id": approver1.id, "action": "must_sign"},
                        {"kind": "user", "user_id": approver2.id, "action": "must_sign"},
                    ],
                },
                headers=h,
            ),
            201,
        )
        template_id = template["id"]
    return Plant(
        admin=admin,
        buyer=buyer,
        approver1=approver1,
        approver2=approver2,
        operator=operator,
        qc=qc,
        supplier_id=supplier["id"],
        part_id=part["id"],
        untested_part_id=untested["id"],
        warehouse_id=warehouse["id"],
        lab_id=lab["id"],
        template_id=template_id,
    )


async def make_order(client: httpx.AsyncClient, plant: Plant, *, lines: list[tuple[int, str]] | None = None) -> Any:
    """A pending order with lines [(part_id, quantity)] (default: 100 of the tested part)."""
    order = ok(
        await client.post(
            f"{PROCUREMENT}/purchase-orders",
            json={"supplier_id": plant.supplier_id, "destination_id": plant.warehouse_id, "issue_date": "2026-11-20"},
            headers=plant.buyer.headers,
        ),
        201,
    )
    for part_id, quantity in lines or [(plant.part_id, "100")]:
        ok(
            await client.post(
                f"{PROCUREMENT}/purchase-orders/{order['id']}/items",
                json={"part_id": part_id, "quantity": quantity, "purchase_price": "12.50"},
                headers=plant.buyer.headers,
            ),
            201,
        )
    return order


async def sign(client: httpx.AsyncClient, order_id: int, user: MadeUser, **body: Any) -> httpx.Response:
    return await client.post(
        f"{PROCUREMENT}/purchase-orders/{order_id}/sign",
        json={"password": user.password, **body},
        headers={**user.headers, "User-Agent": "pytest-story"},
    )


async def issue(client: httpx.AsyncClient, plant: Plant, order_id: int) -> None:
    ok(await sign(client, order_id, plant.approver1))
    ok(await sign(client, order_id, plant.approver2))


async def issued_order(client: httpx.AsyncClient, plant: Plant, **kwargs: Any) -> Any:
    order = await make_order(client, plant, **kwargs)
    await issue(client, plant, order["id"])
    return order


async def line_ids(client: httpx.AsyncClient, plant: Plant, order_id: int) -> list[int]:
    lines = ok(await client.get(f"{PROCUREMENT}/purchase-orders/{order_id}/items", headers=plant.buyer.headers))
    return [line["id"] for line in lines["items"]]


def receipt(line_id: int, quantity: str, **fields: Any) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "quantity": quantity,
        "supplier_batch_code": "SUP-LOT-7",
        "manufacturing_date": "2026-10-01",
        "expiry_date": "2028-10-01",
        "clean_transport": True,
        **fields,
    }


async def receive(client: httpx.AsyncClient, plant: Plant, order_id: int, body: dict[str, Any]) -> httpx.Response:
    return await client.post(
        f"{PROCUREMENT}/purchase-orders/{order_id}/receive-stock", json=body, headers=plant.operator.headers
    )


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


# --- more shortcuts for the procurement contract tests ---------------------------------------------

# Every table a procurement request may write: a refused request must leave all of them as they were.
TABLES = (
    "procurement_order",
    "procurement_order_line",
    "stock_lot",
    "stock_movement",
    "stock_balance",
    "stock_qc_record",
    "file_record",
    "approval_flow",
    "approval_signature",
    "audit_entry",
)


async def row_counts(database: Database) -> dict[str, int]:
    """Rows per table of `TABLES`."""
    async with database.session(write=False) as session:
        return {t: int((await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in TABLES}


def refused(response: httpx.Response, status: int, code: str) -> Any:
    """Assert a problem+json answer with `status` and the stable `code`; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["code"] == code, body
    return body


def order_url(order_id: int | str, suffix: str = "") -> str:
    return f"{PROCUREMENT}/purchase-orders/{order_id}{suffix}"


async def get_order(client: httpx.AsyncClient, user: MadeUser, order_id: int) -> Any:
    return ok(await client.get(order_url(order_id), headers=user.headers))


async def get_lines(client: httpx.AsyncClient, user: MadeUser, order_id: int) -> list[Any]:
    return list(ok(await client.get(order_url(order_id, "/items"), headers=user.headers))["items"])


async def snapshot(client: httpx.AsyncClient, database: Database, user: MadeUser, order_id: int) -> dict[str, Any]:
    """What a refused request must leave unchanged: the row counts, the order and its lines."""
    return {
        "rows": await row_counts(database),
        "order": await get_order(client, user, order_id),
        "lines": await get_lines(client, user, order_id),
    }


async def bare_order(client: httpx.AsyncClient, plant: Plant, **fields: Any) -> Any:
    """A pending order of the plant's supplier with no lines; `fields` go into the body."""
    body = {"supplier_id": plant.supplier_id, **fields}
    return ok(await client.post(f"{PROCUREMENT}/purchase-orders", json=body, headers=plant.buyer.headers), 201)


async def add_line(
    client: httpx.AsyncClient, plant: Plant, order_id: int, part_id: int, quantity: str, **fields: Any
) -> Any:
    body = {"part_id": part_id, "quantity": quantity, **fields}
    return ok(await client.post(order_url(order_id, "/items"), json=body, headers=plant.buyer.headers), 201)


async def received(client: httpx.AsyncClient, plant: Plant, order_id: int, body: dict[str, Any]) -> Any:
    """Receive `body` as the operator, which must succeed; returns the lot."""
    return ok(await receive(client, plant, order_id, body), 201)


async def movements(client: httpx.AsyncClient, user: MadeUser, lot_id: int) -> list[Any]:
    """The lot's movements through the inventory API (needs stock.view)."""
    response = await client.get(f"{INVENTORY}/stock-lots/{lot_id}/movements", headers=user.headers)
    return list(ok(response)["items"])


async def lot(client: httpx.AsyncClient, user: MadeUser, lot_id: int) -> Any:
    return ok(await client.get(f"{INVENTORY}/stock-lots/{lot_id}", headers=user.headers))


async def state_change(
    client: httpx.AsyncClient, user: MadeUser, order_id: int, state_name: str, reason: str | None = None
) -> httpx.Response:
    params = {"state_name": state_name} | ({"reason": reason} if reason is not None else {})
    return await client.patch(order_url(order_id, "/state"), params=params, headers=user.headers)


async def withdraw(
    client: httpx.AsyncClient, user: MadeUser, order_id: int, user_id: int, reason: str | None = "signed too early"
) -> httpx.Response:
    params = {"reason": reason} if reason is not None else {}
    return await client.delete(order_url(order_id, f"/signatures/{user_id}"), params=params, headers=user.headers)


async def reverse(
    client: httpx.AsyncClient, user: MadeUser, lot_id: int, reason: str | None = "wrong line"
) -> httpx.Response:
    params = {"reason": reason} if reason is not None else {}
    return await client.delete(f"{PROCUREMENT}/stock-items/{lot_id}", params=params, headers=user.headers)
