"""Purchase orders over HTTP: a token and the permission on each of the 27 routes, creating and
changing the header (bad references, dates, unknown fields, audit), ids, listing with filters, the
transitions each user is offered, orders started without an approval template, and reference data."""

from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.company import make_company, make_part, make_supplier
from tests.factories.file import PDF
from tests.factories.identity import make_user
from tests.factories.procurement import (
    BUYER,
    PROCUREMENT,
    bare_order,
    get_order,
    issued_order,
    line_ids,
    make_order,
    make_plant,
    ok,
    order_url,
    receipt,
    received,
    refused,
    row_counts,
    snapshot,
    state_change,
)
from tests.factories.stock import make_location

pytestmark = pytest.mark.anyio

MAX_ID = 2**63 - 1


async def test_every_route_needs_a_token_and_its_own_permission(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    lot = await received(client, plant, oid, receipt(line, "10", batch_code="PERM-1"))
    qc = ok(await client.post(order_url(oid, "/qc-records"), json={"lot_id": lot["id"]}, headers=plant.qc.headers), 201)
    attachment = ok(
        await client.post(
            order_url(oid, "/attachments"),
            files={"file": ("coa.pdf", PDF, "application/pdf")},
            headers=plant.buyer.headers,
        ),
        201,
    )
    nobody = await make_user(database, username="nora", permissions=[])
    view, change = "procurement.view", "procurement.change"
    base = f"/purchase-orders/{oid}"
    routes: list[tuple[str, str, Any, str]] = [
        ("GET", "/document-templates", None, view),
        ("GET", "/order-statuses", None, view),
        ("GET", "/stock-statuses", None, view),
        ("GET", "/parts", None, view),
        ("GET", "/purchase-orders", None, view),
        ("POST", "/purchase-orders", {"supplier_id": plant.supplier_id}, "procurement.add"),
        ("GET", base, None, view),
        ("PATCH", base, {"notes": "x"}, change),
        ("PATCH", f"{base}/state?state_name=refused&reason=late", None, view),
        ("PATCH", f"{base}/documents", {"documents": {"a": 1}}, change),
        ("GET", f"{base}/approval-flow", None, view),
        ("POST", f"{base}/approval-flow", None, "approval.create"),
        ("POST", f"{base}/sign", {"password": "x"}, "approval.sign"),
        ("DELETE", f"{base}/signatures/{plant.approver1.id}?reason=x", None, "approval.withdraw"),
        ("GET", f"{base}/items", None, view),
        ("POST", f"{base}/items", {"part_id": plant.part_id, "quantity": "1"}, change),
        ("PUT", f"{base}/items/{line}", {"quantity": "5"}, change),
        ("DELETE", f"{base}/items/{line}", None, change),
        ("POST", f"{base}/receive-stock", receipt(line, "5"), "procurement.receive"),
        ("GET", f"{base}/received-items", None, view),
        ("DELETE", f"/stock-items/{lot['id']}?reason=x", None, "procurement.reverse_receipt"),
        ("GET", f"{base}/qc-records", None, view),
        ("POST", f"{base}/qc-records", {"lot_id": lot["id"]}, "qc.record"),
        ("PATCH", f"{base}/qc-records/{qc['id']}", {"result": "conform"}, "qc.record"),
        ("GET", f"{base}/attachments", None, view),
        ("POST", f"{base}/attachments", "upload", change),
        ("DELETE", f"{base}/attachments/{attachment['id']}", None, change),
    ]
    assert len(routes) == 27
    assert len({(method, path.split("?")[0]) for method, path, _, _ in routes}) == 27
    before = await snapshot(client, database, plant.admin, oid)

    for method, path, body, permission in routes:
        extra: dict[str, Any] = {}
        if body == "upload":
            extra["files"] = {"file": ("coa.pdf", PDF, "application/pdf")}
        elif body is not None:
            extra["json"] = body
        anonymous = await client.request(method, PROCUREMENT + path, **extra)
        refused(anonymous, 401, "auth.not_authenticated")
        denied = await client.request(method, PROCUREMENT + path, headers=nobody.headers, **extra)
        assert refused(denied, 403, "permission_denied")["details"] == {"required_permission": permission}, path

    assert await snapshot(client, database, plant.admin, oid) == before


async def test_users_without_the_permission_of_their_step_are_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    pending = await make_order(client, plant)
    [pending_line] = await line_ids(client, plant, pending["id"])
    order = await issued_order(client, plant)
    [line] = await line_ids(client, plant, order["id"])
    before = await snapshot(client, database, plant.admin, order["id"])
    attempts = [
        (plant.operator, "POST", "/purchase-orders", {"supplier_id": plant.supplier_id}, "procurement.add"),
        (
            plant.buyer,
            "POST",
            f"/purchase-orders/{order['id']}/receive-stock",
            receipt(line, "5"),
            "procurement.receive",
        ),
        (
            plant.approver1,
            "PUT",
            f"/purchase-orders/{pending['id']}/items/{pending_line}",
            {"quantity": "1"},
            "procurement.change",
        ),
        (
            plant.approver1,
            "POST",
            f"/purchase-orders/{pending['id']}/items",
            {"part_id": plant.part_id, "quantity": "1"},
            "procurement.change",
        ),
        (
            plant.approver1,
            "DELETE",
            f"/purchase-orders/{pending['id']}/items/{pending_line}",
            None,
            "procurement.change",
        ),
        (plant.approver1, "PATCH", f"/purchase-orders/{pending['id']}", {"notes": "mine now"}, "procurement.change"),
        (plant.operator, "DELETE", "/stock-items/1?reason=oops", None, "procurement.reverse_receipt"),
        (
            plant.buyer,
            "POST",
            f"/purchase-orders/{pending['id']}/sign",
            {"password": plant.buyer.password},
            "approval.sign",
        ),
        (plant.buyer, "POST", f"/purchase-orders/{order['id']}/qc-records", {"lot_id": 1}, "qc.record"),
    ]
    for user, method, path, body, permission in attempts:
        response = await client.request(method, PROCUREMENT + path, json=body, headers=user.headers)
        assert refused(response, 403, "permission_denied")["details"] == {"required_permission": permission}, path

    assert await snapshot(client, database, plant.admin, order["id"]) == before
    assert len(ok(await client.get(order_url(pending["id"], "/items"), headers=plant.buyer.headers))["items"]) == 1


async def test_an_order_is_created_pending_with_the_next_reference_and_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    body = {
        "supplier_id": plant.supplier_id,
        "description": "  Q4 paracetamol  ",
        "supplier_reference": "OF-2026-77",
        "currency": "eur",
        "issue_date": "2026-11-20",
        "target_date": "2026-12-15",
        "destination_id": plant.warehouse_id,
        "delivery_address": "Str. Fabricii 1, Cluj",
        "notes": "Ramp 2",
    }

    created = ok(await client.post(f"{PROCUREMENT}/purchase-orders", json=body, headers=plant.buyer.headers), 201)
    second = await bare_order(client, plant)

    assert created["reference"] == "PO-0001"
    assert second["reference"] == "PO-0002"
    assert created["state"] == "pending"
    assert created["state_detail"]["slug"] == "pending"
    assert created["description"] == "Q4 paracetamol"
    assert created["currency"] == "EUR"
    assert second["currency"] == "RON"  # the supplier's
    assert (created["issue_date"], created["target_date"]) == ("2026-11-20", "2026-12-15")
    assert created["destination"] == {"id": plant.warehouse_id, "code": "WH-RM", "name": "Raw materials"}
    assert created["supplier"]["code"] == "SUP-1"
    assert (created["line_count"], created["fully_received_line_count"], created["total_price"]) == (0, 0, "0")
    assert created["editable"] is True
    assert created["approval_status"] == "pending"
    assert created["created_by_id"] == plant.buyer.id
    assert created["documents"] == {}
    assert created["closed_at"] is None
    assert await get_order(client, plant.buyer, created["id"]) == created
    [entry] = await entries(database, action="procurement_order.create", entity_id=str(created["id"]))
    assert entry["actor_user_id"] == plant.buyer.id
    assert entry["changes"]["after"]["reference"] == "PO-0001"


async def test_creation_refuses_bad_suppliers_destinations_dates_and_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    customer = await make_company(database, code="CUS-1", is_customer=True)
    dormant = await make_supplier(database, code="SUP-OLD", is_active=False)
    closed = await make_location(database, "WH-OLD", is_active=False)
    supplier = plant.supplier_id
    before = await row_counts(database)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"supplier_id": 999_999}, "procurement.unknown_reference"),
        ({"supplier_id": customer}, "procurement.unknown_reference"),
        ({"supplier_id": dormant}, "procurement.unknown_reference"),
        ({"supplier_id": supplier, "destination_id": plant.lab_id}, "procurement.unknown_reference"),
        ({"supplier_id": supplier, "destination_id": closed}, "procurement.unknown_reference"),
        ({"supplier_id": supplier, "destination_id": 999_999}, "procurement.unknown_reference"),
        (
            {"supplier_id": supplier, "issue_date": "2026-11-20", "target_date": "2026-11-19"},
            "request.validation_failed",
        ),
        ({"supplier_id": supplier, "issue_date": "20.11.2026"}, "request.validation_failed"),
        ({"supplier_id": supplier, "issue_date": "2026-02-30"}, "request.validation_failed"),
        ({"supplier_id": supplier, "target_date": "soon"}, "request.validation_failed"),
        ({"supplier_id": supplier, "issue_date": 20261120}, "request.validation_failed"),
        ({"supplier_id": str(supplier)}, "request.validation_failed"),
        ({"supplier_id": 0}, "request.validation_failed"),
        ({"supplier_id": MAX_ID + 1}, "request.validation_failed"),
        ({"supplier_id": supplier, "destination_id": -1}, "request.validation_failed"),
        ({"supplier_id": supplier, "currency": "euro"}, "request.validation_failed"),
        ({"supplier_id": supplier, "supplier_reference": "x" * 65}, "request.validation_failed"),
        ({"supplier_id": supplier, "state": "issued"}, "request.validation_failed"),
        ({"supplier_id": supplier, "reference": "PO-9999"}, "request.validation_failed"),
        ({"supplier_id": supplier, "created_by_id": plant.admin.id}, "request.validation_failed"),
        ({}, "request.validation_failed"),
    ]

    for body, code in cases:
        response = await client.post(f"{PROCUREMENT}/purchase-orders", json=body, headers=plant.buyer.headers)
        refused(response, 422, code)

    assert await row_counts(database) == before
    # No number was used up by the refused requests.
    assert (await bare_order(client, plant))["reference"] == "PO-0001"


async def test_the_header_changes_while_pending_and_unsigned_and_each_change_is_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    other = await make_supplier(database, code="SUP-2")
    order = await make_order(client, plant)
    oid = order["id"]
    url = order_url(oid)

    changed = ok(
        await client.patch(
            url,
            json={"description": "Urgent", "target_date": "2026-12-01", "currency": "eur", "notes": "Ramp 3"},
            headers=plant.buyer.headers,
        )
    )

    assert (changed["description"], changed["target_date"], changed["currency"], changed["notes"]) == (
        "Urgent",
        "2026-12-01",
        "EUR",
        "Ramp 3",
    )
    assert (changed["reference"], changed["supplier_id"], changed["state"]) == (
        order["reference"],
        plant.supplier_id,
        "pending",
    )
    # (adding the line touched the order too: the header change is the last entry)
    update = (await entries(database, action="procurement_order.update", entity_id=str(oid)))[-1]
    assert update["actor_user_id"] == plant.buyer.id
    assert update["changes"]["before"]["description"] == ""
    assert update["changes"]["after"]["description"] == "Urgent"
    assert update["changes"]["before"]["target_date"] is None
    assert update["changes"]["after"]["target_date"] == "2026-12-01"
    assert "reference" not in update["changes"]["after"]

    # Nullable header fields accept null; a body that changes nothing writes nothing.
    cleared = ok(await client.patch(url, json={"destination_id": None}, headers=plant.buyer.headers))
    assert (cleared["destination_id"], cleared["destination"]) == (None, None)
    audit_before = len(await entries(database, action="procurement_order.update", entity_id=str(oid)))
    assert ok(await client.patch(url, json={}, headers=plant.buyer.headers))["destination_id"] is None
    assert ok(await client.patch(url, json={"notes": "Ramp 3"}, headers=plant.buyer.headers))["notes"] == "Ramp 3"
    assert len(await entries(database, action="procurement_order.update", entity_id=str(oid))) == audit_before

    before = await snapshot(client, database, plant.buyer, oid)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"state": "issued"}, "request.validation_failed"),
        ({"reference": "PO-0999"}, "request.validation_failed"),
        ({"supplier_id": other}, "request.validation_failed"),
        ({"received_quantity": "5"}, "request.validation_failed"),
        ({"created_by_id": plant.admin.id}, "request.validation_failed"),
        ({"documents": {"a": 1}}, "request.validation_failed"),
        ({"issue_date": "yesterday"}, "request.validation_failed"),
        ({"target_date": "2026-13-01"}, "request.validation_failed"),
        ({"destination_id": "1"}, "request.validation_failed"),
        ({"currency": "EURO"}, "request.validation_failed"),
        ({"target_date": "2026-11-19"}, "procurement.unknown_reference"),  # before the stored issue_date
        ({"issue_date": "2026-12-02"}, "procurement.unknown_reference"),  # after the stored target_date
        ({"destination_id": plant.lab_id}, "procurement.unknown_reference"),
        ({"destination_id": 999_999}, "procurement.unknown_reference"),
    ]
    for body, code in cases:
        refused(await client.patch(url, json=body, headers=plant.buyer.headers), 422, code)
    refused(
        await client.patch(order_url(999_999), json={"notes": "x"}, headers=plant.buyer.headers),
        404,
        "procurement.order_not_found",
    )

    assert await snapshot(client, database, plant.buyer, oid) == before


async def test_ids_are_positive_integers_and_unknown_orders_are_not_found(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await make_order(client, plant)
    h = plant.admin.headers
    suffixes = ["", "/items", "/received-items", "/qc-records", "/attachments", "/approval-flow"]

    for bad in ["0", "-1", "abc", "1.5", str(MAX_ID + 1)]:
        for suffix in suffixes:
            refused(await client.get(order_url(bad, suffix), headers=h), 422, "request.validation_failed")
        refused(
            await client.put(order_url(order["id"], f"/items/{bad}"), json={"quantity": "1"}, headers=h),
            422,
            "request.validation_failed",
        )
        refused(
            await client.delete(f"{PROCUREMENT}/stock-items/{bad}", params={"reason": "x"}, headers=h),
            422,
            "request.validation_failed",
        )
    for missing in [999_999, MAX_ID]:
        for suffix in suffixes:
            refused(await client.get(order_url(missing, suffix), headers=h), 404, "procurement.order_not_found")
        for method, suffix, body in [
            ("PATCH", "", {"notes": "x"}),
            ("PATCH", "/documents", {"documents": {}}),
            ("POST", "/items", {"part_id": plant.part_id, "quantity": "1"}),
            ("POST", "/receive-stock", receipt(1, "1")),
            ("POST", "/qc-records", {"lot_id": 1}),
            ("POST", "/approval-flow", None),
            ("POST", "/sign", {"password": plant.admin.password}),
        ]:
            response = await client.request(method, order_url(missing, suffix), json=body, headers=h)
            refused(response, 404, "procurement.order_not_found")
        refused(await state_change(client, plant.admin, missing, "cancelled", "x"), 404, "procurement.order_not_found")


async def test_orders_are_listed_with_filters_search_sorting_and_pages(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    other = await make_supplier(database, code="SUP-2", name="Boxes SRL")
    a = await bare_order(
        client, plant, issue_date="2026-11-20", description="Paracetamol API", supplier_reference="OF-77"
    )
    b = ok(
        await client.post(
            f"{PROCUREMENT}/purchase-orders",
            json={"supplier_id": other, "issue_date": "2026-12-05", "description": "Cartons"},
            headers=plant.buyer.headers,
        ),
        201,
    )
    ok(await state_change(client, plant.buyer, b["id"], "cancelled", "duplicate"))
    c = await bare_order(client, plant, description="Labels")
    url = f"{PROCUREMENT}/purchase-orders"

    async def refs(**params: Any) -> list[str]:
        body = ok(await client.get(url, params=params, headers=plant.buyer.headers))
        assert body["total"] == len(body["items"]) or "limit" in params
        return [o["reference"] for o in body["items"]]

    assert await refs() == [c["reference"], b["reference"], a["reference"]]  # newest first
    assert await refs(state="cancelled") == [b["reference"]]
    assert await refs(state="pending") == [c["reference"], a["reference"]]
    assert await refs(supplier_id=other) == [b["reference"]]
    assert await refs(supplier_id=plant.supplier_id, state="pending") == [c["reference"], a["reference"]]
    assert await refs(date_from="2026-12-01") == [b["reference"]]
    assert await refs(date_to="2026-11-30") == [a["reference"]]
    assert await refs(date_from="2026-11-20", date_to="2026-12-05") == [b["reference"], a["reference"]]
    assert await refs(date_from="2027-01-01") == []
    assert await refs(search="PARACET") == [a["reference"]]
    assert await refs(search="of-77") == [a["reference"]]
    assert await refs(search=b["reference"]) == [b["reference"]]
    assert await refs(sort="reference") == [a["reference"], b["reference"], c["reference"]]
    assert await refs(sort="-reference") == [c["reference"], b["reference"], a["reference"]]
    assert await refs(sort="state,reference") == [b["reference"], a["reference"], c["reference"]]
    page = ok(await client.get(url, params={"limit": 2, "sort": "reference"}, headers=plant.buyer.headers))
    assert (page["total"], page["offset"], page["limit"]) == (3, 0, 2)
    assert [o["reference"] for o in page["items"]] == [a["reference"], b["reference"]]
    rest = ok(await client.get(url, params={"limit": 2, "offset": 2, "sort": "reference"}, headers=plant.buyer.headers))
    assert (rest["total"], rest["offset"], [o["reference"] for o in rest["items"]]) == (3, 2, [c["reference"]])

    bad: list[tuple[dict[str, Any], str]] = [
        ({"state": "lost"}, "request.validation_failed"),
        ({"supplier_id": "x"}, "request.validation_failed"),
        ({"supplier_id": 0}, "request.validation_failed"),
        ({"date_from": "2026-11"}, "request.validation_failed"),
        ({"date_to": "tomorrow"}, "request.validation_failed"),
        ({"sort": "supplier_id"}, "listing.invalid_sort"),
        ({"limit": 0}, "request.validation_failed"),
        ({"limit": 100_000}, "listing.invalid_limit"),
        ({"offset": -1}, "request.validation_failed"),
    ]
    for params, code in bad:
        refused(await client.get(url, params=params, headers=plant.buyer.headers), 422, code)


async def test_allowed_transitions_depend_on_the_user_and_the_state(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    manager = await make_user(
        database, username="mara", permissions=["procurement.view", "procurement.refuse", "procurement.finish"]
    )
    canceller = await make_user(database, username="cid", permissions=["procurement.view", "procurement.cancel"])
    colleague = await make_user(database, username="bob", permissions=BUYER)
    pending = await make_order(client, plant)
    issued = await issued_order(client, plant)
    expected = {
        plant.buyer: (["cancelled"], []),  # the creator may cancel their own pending order
        colleague: ([], []),
        plant.approver1: ([], []),
        canceller: (["cancelled"], []),
        manager: (["refused"], ["refused", "finished"]),
        plant.admin: (["cancelled", "refused"], ["refused", "finished"]),
    }

    for user, (on_pending, on_issued) in expected.items():
        assert (await get_order(client, user, pending["id"]))["allowed_transitions"] == on_pending, user.username
        assert (await get_order(client, user, issued["id"]))["allowed_transitions"] == on_issued, user.username
        listed = ok(await client.get(f"{PROCUREMENT}/purchase-orders", headers=user.headers))["items"]
        by_id = {o["id"]: o["allowed_transitions"] for o in listed}
        assert by_id == {pending["id"]: on_pending, issued["id"]: on_issued}, user.username

    ok(await state_change(client, plant.buyer, pending["id"], "cancelled", "not needed"))
    assert (await get_order(client, plant.admin, pending["id"]))["allowed_transitions"] == []


async def test_an_order_made_without_a_template_gets_its_flow_later(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await make_order(client, plant)
    oid = order["id"]
    assert (order["approval_flow_id"], order["approval_status"]) == (None, None)
    assert order["editable"] is True
    before = await snapshot(client, database, plant.admin, oid)

    refused(
        await client.get(order_url(oid, "/approval-flow"), headers=plant.buyer.headers),
        404,
        "procurement.no_approval_flow",
    )
    refused(
        await client.post(order_url(oid, "/approval-flow"), headers=plant.admin.headers),
        404,
        "approval.template_not_found",
    )
    signing = await client.post(
        order_url(oid, "/sign"), json={"password": plant.approver1.password}, headers=plant.approver1.headers
    )
    refused(signing, 404, "procurement.no_approval_flow")
    refused(
        await client.delete(
            order_url(oid, f"/signatures/{plant.approver1.id}"), params={"reason": "x"}, headers=plant.admin.headers
        ),
        404,
        "procurement.no_approval_flow",
    )
    assert await snapshot(client, database, plant.admin, oid) == before

    ok(
        await client.post(
            "/api/approvals/templates",
            json={
                "object_type": "purchase_order",
                "name": "Purchase orders",
                "officers": [{"kind": "user", "user_id": plant.approver1.id, "action": "must_sign"}],
            },
            headers=plant.admin.headers,
        ),
        201,
    )
    flow = ok(await client.post(order_url(oid, "/approval-flow"), headers=plant.admin.headers), 201)
    assert (flow["object_type"], flow["object_id"], flow["status"]) == ("purchase_order", oid, "pending")
    assert ok(await client.get(order_url(oid, "/approval-flow"), headers=plant.buyer.headers))["id"] == flow["id"]
    detail = await get_order(client, plant.buyer, oid)
    assert (detail["approval_flow_id"], detail["approval_status"]) == (flow["id"], "pending")
    again = await client.post(order_url(oid, "/approval-flow"), headers=plant.admin.headers)
    refused(again, 409, "approval.flow_exists")

    # One officer now: their signature issues the order.
    signed = ok(
        await client.post(
            order_url(oid, "/sign"), json={"password": plant.approver1.password}, headers=plant.approver1.headers
        )
    )
    assert signed["status"] == "approved"
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"

    # A flow is started only for pending orders.
    later = await bare_order(client, plant)  # the template is active: it has its flow already
    assert later["approval_status"] == "pending"
    refused(
        await client.post(order_url(later["id"], "/approval-flow"), headers=plant.admin.headers),
        409,
        "approval.flow_exists",
    )


async def test_a_cancelled_order_without_a_flow_cannot_start_one(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await make_order(client, plant)
    ok(await state_change(client, plant.buyer, order["id"], "cancelled", "changed our mind"))
    ok(
        await client.post(
            "/api/approvals/templates",
            json={
                "object_type": "purchase_order",
                "name": "Purchase orders",
                "officers": [{"kind": "user", "user_id": plant.approver1.id, "action": "must_sign"}],
            },
            headers=plant.admin.headers,
        ),
        201,
    )
    before = await row_counts(database)

    response = await client.post(order_url(order["id"], "/approval-flow"), headers=plant.admin.headers)

    refused(response, 409, "procurement.not_pending")
    assert await row_counts(database) == before


async def test_reference_data_routes(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    await make_part(database, ipn="OLD-001", name="Retired carton", is_active=False, is_purchaseable=True)
    await make_part(database, ipn="MIX-001", name="Carton mix", is_purchaseable=False)
    h = plant.buyer.headers

    statuses = ok(await client.get(f"{PROCUREMENT}/order-statuses", headers=h))
    assert [s["slug"] for s in statuses["items"]] == [
        "pending",
        "issued",
        "receiving",
        "finished",
        "cancelled",
        "refused",
    ]
    assert [s["slug"] for s in statuses["items"] if s["is_terminal"]] == ["finished", "cancelled", "refused"]
    assert statuses["total"] == 6
    values = [s["value"] for s in statuses["items"]]
    assert values == sorted(values)

    stock = ok(await client.get(f"{PROCUREMENT}/stock-statuses", headers=h))["items"]
    slugs = {s["slug"]: s for s in stock}
    assert {"ok", "quarantine", "quarantine_transferable", "rejected"} <= set(slugs)
    assert slugs["quarantine_transferable"]["is_transferable"] is True
    assert slugs["quarantine"]["is_transferable"] is False

    parts = ok(await client.get(f"{PROCUREMENT}/parts", headers=h))
    assert sorted(p["ipn"] for p in parts["items"]) == ["API-001", "PKG-001"]
    assert parts["total"] == 2
    found = ok(await client.get(f"{PROCUREMENT}/parts", params={"search": "carton"}, headers=h))["items"]
    assert [p["ipn"] for p in found] == ["PKG-001"]
    assert ok(await client.get(f"{PROCUREMENT}/parts", params={"search": "api-0"}, headers=h))["total"] == 1

    templates_url = f"{PROCUREMENT}/document-templates"
    assert ok(await client.get(templates_url, headers=h)) == {"items": [], "total": 0, "offset": 0, "limit": None}
    config = {
        "procurement_document_templates": {"po-standard": "Standard purchase order", "coa": "Certificate request"}
    }
    saved = ok(await client.post("/api/config/", json=config, headers=plant.admin.headers))
    assert saved["procurement_document_templates"] == config["procurement_document_templates"]
    listed = ok(await client.get(templates_url, headers=h))
    assert listed["items"] == [
        {"code": "coa", "name": "Certificate request"},
        {"code": "po-standard", "name": "Standard purchase order"},
    ]
    assert listed["total"] == 2
