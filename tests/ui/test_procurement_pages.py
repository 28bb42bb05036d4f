"""Purchase order pages (ui.md B1-B4, §6.1-6.3): list, create, lines, receive, QC, files, history,
transitions; refused writes leave the stored data as it was."""

from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from depotflow.core.db import Database
from depotflow.ui.routes import procurement as procurement_ui
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    Plant,
    bare_order,
    get_lines,
    get_order,
    issued_order,
    line_ids,
    make_order,
    make_plant,
    ok,
    order_url,
    receipt,
    received,
    row_counts,
)
from tests.ui.conftest import ORIGIN, WebClient, csrf_from, text_of

pytestmark = pytest.mark.anyio

BASE = "/web/procurement"
# A minimal valid PDF (as tests/factories/file.py, without its openpyxl import).
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


async def sign_in(client: httpx.AsyncClient, user: MadeUser) -> WebClient:
    """Sign in through the login form (as tests.ui.conftest.sign_in, but landing on the account page,
    so these tests do not depend on the dashboard). Signs out whoever was signed in before."""
    client.cookies.clear()
    page = await client.get("/web/login")
    resp = await client.post(
        "/web/login",
        data={
            "username": user.username,
            "password": user.password,
            "next": "/web/account",
            "csrf_token": csrf_from(page.text),
        },
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 303, resp.text
    account = await client.get("/web/account")
    assert account.status_code == 200, account.text
    return WebClient(client=client, csrf=csrf_from(account.text), user=user)


async def plant_and(client: httpx.AsyncClient, database: Database) -> Plant:
    return await make_plant(client, database)


async def test_list_shows_orders_and_search_answers_the_results_block(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await plant_and(client, database)
    first = await bare_order(client, plant, description="Paracetamol for November")
    second = await bare_order(client, plant, description="Cartons")
    web = await sign_in(client, plant.buyer)

    page = await web.get(BASE)
    assert page.status_code == 200
    assert first["reference"] in page.text
    assert second["reference"] in page.text
    assert 'id="results"' in page.text
    assert 'data-state="pending"' in page.text
    assert "Pharma Supplies SRL" in page.text

    partial = await web.get(f"{BASE}?q=paracetamol", target="results")
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert first["reference"] in partial.text
    assert second["reference"] not in partial.text

    none = await web.get(f"{BASE}?state=finished", target="results")
    assert "No orders match these filters" in text_of(none.text)
    # A hand-edited URL shows a page, never an error.
    odd = await web.get(f"{BASE}?state=bogus&supplier_id=x&page=-3&sort=nope")
    assert odd.status_code == 200


async def test_list_needs_procurement_view(client: httpx.AsyncClient, database: Database) -> None:
    nobody = await make_user(database, username="nobody", permissions=[])
    web = await sign_in(client, nobody)
    assert (await web.get(BASE)).status_code == 403


async def test_create_order_redirects_to_its_lines(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    web = await sign_in(client, plant.buyer)
    form = await web.get(f"{BASE}/new")
    assert form.status_code == 200
    assert 'name="supplier_id"' in form.text

    resp = await web.post(
        f"{BASE}/new",
        {
            "supplier_id": str(plant.supplier_id),
            "destination_id": str(plant.warehouse_id),
            "issue_date": "2026-11-20",
            "target_date": "2026-12-01",
            "description": "Urgent API",
            "currency": "",
        },
    )
    assert resp.status_code == 303, resp.text
    location = resp.headers["location"]
    assert location.startswith(f"{BASE}/")
    assert location.endswith("/lines")
    order_id = int(location.split("/")[3])
    order = await get_order(client, plant.buyer, order_id)
    assert order["description"] == "Urgent API"
    assert order["currency"] == "RON"  # the supplier's
    assert order["destination_id"] == plant.warehouse_id

    page = await web.get(location)
    assert page.status_code == 200
    assert order["reference"] in page.text
    assert "created" in text_of(page.text)  # the flash message


async def test_create_order_with_bad_input_is_422_with_values_kept_and_nothing_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await plant_and(client, database)
    web = await sign_in(client, plant.buyer)
    before = await row_counts(database)

    missing = await web.post(
        f"{BASE}/new",
        {"supplier_id": "", "description": "Keep this text", "issue_date": "2026-12-05", "target_date": "2026-12-01"},
    )
    assert missing.status_code == 422
    assert "Keep this text" in missing.text
    assert 'value="2026-12-05"' in missing.text
    assert "This field is required." in missing.text

    not_a_supplier = await web.post(f"{BASE}/new", {"supplier_id": "999999", "description": "Keep me too"})
    assert not_a_supplier.status_code == 422
    assert "Keep me too" in not_a_supplier.text
    assert "active supplier" in not_a_supplier.text

    assert await row_counts(database) == before


async def test_add_line_parses_a_romanian_decimal(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await bare_order(client, plant)
    web = await sign_in(client, plant.buyer)
    switched = await web.post("/web/lang", {"lang": "ro", "next": f"{BASE}/{order['id']}/lines"})
    assert switched.status_code == 303
    assert any(c.name == "df_lang" and c.value == "ro" for c in client.cookies.jar)

    resp = await web.post(
        f"{BASE}/{order['id']}/lines",
        {"part_id": str(plant.part_id), "quantity": "12,5", "purchase_price": "3,75", "reference": "R-1"},
    )
    assert resp.status_code == 303, resp.text
    lines = await get_lines(client, plant.buyer, order["id"])
    assert [Decimal(line["quantity"]) for line in lines] == [Decimal("12.5")]
    assert Decimal(lines[0]["purchase_price"]) == Decimal("3.75")

    page = await web.get(f"{BASE}/{order['id']}/lines")
    assert "12,5" in page.text  # shown back in the Romanian format

    before = await row_counts(database)
    wrong = await web.post(f"{BASE}/{order['id']}/lines", {"part_id": str(plant.part_id), "quantity": "12.5"})
    assert wrong.status_code == 422
    assert 'value="12.5"' in wrong.text
    assert await row_counts(database) == before


async def test_edit_and_delete_a_line(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    (line_id,) = await line_ids(client, plant, order["id"])
    web = await sign_in(client, plant.buyer)

    form = await web.get(f"{BASE}/{order['id']}/lines/{line_id}/edit")
    assert form.status_code == 200
    assert f'action="{BASE}/{order["id"]}/lines/{line_id}"' in form.text
    saved = await web.post(f"{BASE}/{order['id']}/lines/{line_id}", {"quantity": "150", "purchase_price": ""})
    assert saved.status_code == 303, saved.text
    (line,) = await get_lines(client, plant.buyer, order["id"])
    assert Decimal(line["quantity"]) == 150
    assert line["purchase_price"] is None

    gone = await web.post(f"{BASE}/{order['id']}/lines/{line_id}/delete")
    assert gone.status_code == 303
    assert await get_lines(client, plant.buyer, order["id"]) == []
    assert (await web.post(f"{BASE}/{order['id']}/lines/{line_id}/delete")).status_code == 404


async def test_lines_of_a_signed_order_cannot_be_added_409(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await issued_order(client, plant)
    web = await sign_in(client, plant.buyer)
    page = await web.get(f"{BASE}/{order['id']}/lines")
    assert "Add a line" not in page.text
    before = await row_counts(database)
    resp = await web.post(f"{BASE}/{order['id']}/lines", {"part_id": str(plant.part_id), "quantity": "5"})
    assert resp.status_code == 409
    assert "can no longer be changed" in resp.text
    assert await row_counts(database) == before


async def test_detail_shows_header_tabs_and_only_allowed_actions(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    web = await sign_in(client, plant.buyer)
    page = await web.get(f"{BASE}/{order['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert order["reference"] in text
    assert 'data-state="pending"' in page.text
    assert "Cancel order" in text  # the creator may cancel
    assert "Refuse order" not in text  # needs procurement.refuse
    assert "Receive goods" not in text  # pending
    assert f"{BASE}/{order['id']}/lines" in page.text
    assert f'{BASE}/{order["id"]}/receive"' not in page.text  # no receipts tab while pending
    assert (await web.get(f"{BASE}/{order['id']}/receive")).status_code == 404

    tab = await web.get(f"{BASE}/{order['id']}/lines", target="detail-body")
    assert tab.status_code == 200
    assert "<html" not in tab.text
    assert "API-001" in tab.text
    assert 'aria-current="page"' in tab.text


async def test_details_show_the_approval_panel_with_sign_for_an_officer(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    web = await sign_in(client, plant.approver1)
    page = await web.get(f"{BASE}/{order['id']}")
    assert page.status_code == 200
    assert f'id="approval-panel-purchase_order-{order["id"]}"' in page.text
    assert "/web/approvals/flows/" in page.text
    assert "Sign…" in page.text
    assert "Cancel order" not in text_of(page.text)  # neither creator nor procurement.cancel


async def test_submit_for_approval_when_no_flow_was_started(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await make_order(client, plant)
    starter = await make_user(database, username="sam", permissions=["procurement.view", "approval.create"])
    web = await sign_in(client, starter)
    page = await web.get(f"{BASE}/{order['id']}")
    assert "Submit for approval" in text_of(page.text)

    before = await row_counts(database)
    no_template = await web.post(f"{BASE}/{order['id']}/approval")
    assert no_template.status_code == 409
    assert await row_counts(database) == before

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
    started = await web.post(f"{BASE}/{order['id']}/approval")
    assert started.status_code == 303, started.text
    assert (await get_order(client, starter, order["id"]))["approval_flow_id"] is not None
    after = await web.get(f"{BASE}/{order['id']}")
    assert "Submit for approval" not in text_of(after.text)


async def test_unknown_order_is_404(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    web = await sign_in(client, plant.buyer)
    for suffix in ("", "/lines", "/files", "/cancel/dialog"):
        assert (await web.get(f"{BASE}/987654{suffix}")).status_code == 404, suffix
    assert (await web.post(f"{BASE}/987654/lines", {"part_id": "1", "quantity": "1"})).status_code == 404


async def test_buyer_without_receive_permission_sees_no_receive_action_and_gets_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await plant_and(client, database)
    order = await issued_order(client, plant)
    (line_id,) = await line_ids(client, plant, order["id"])
    web = await sign_in(client, plant.buyer)

    page = await web.get(f"{BASE}/{order['id']}")
    assert "Receive goods" not in text_of(page.text)
    receipts = await web.get(f"{BASE}/{order['id']}/receive")
    assert receipts.status_code == 200
    assert f"/receive/{line_id}" not in receipts.text

    before = await row_counts(database)
    assert (await web.get(f"{BASE}/{order['id']}/receive/{line_id}")).status_code == 403
    refused = await web.post(f"{BASE}/{order['id']}/receive/{line_id}", {"quantity": "10"})
    assert refused.status_code == 403
    assert await row_counts(database) == before


def receive_form(**fields: str) -> dict[str, str]:
    return {
        "quantity": "40",
        "supplier_batch_code": "SUP-LOT-7",
        "manufacturing_date": "2026-10-01",
        "expiry_date": "2028-10-01",
        "clean_transport": "yes",
        "containers-0-num_containers": "2",
        "containers-0-products_per_container": "20",
        **fields,
    }


async def test_operator_receives_a_line_into_a_lot(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await issued_order(client, plant)
    (line_id,) = await line_ids(client, plant, order["id"])
    web = await sign_in(client, plant.operator)

    detail = await web.get(f"{BASE}/{order['id']}")
    assert "Receive goods" in text_of(detail.text)
    tab = await web.get(f"{BASE}/{order['id']}/receive")
    assert f"{BASE}/{order['id']}/receive/{line_id}" in tab.text
    form = await web.get(f"{BASE}/{order['id']}/receive/{line_id}")
    assert form.status_code == 200
    assert 'name="containers-0-num_containers"' in form.text

    resp = await web.post(f"{BASE}/{order['id']}/receive/{line_id}", receive_form(batch_code="LOT-A1"))
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"{BASE}/{order['id']}/receive"
    lots = ok(await client.get(order_url(order["id"], "/received-items"), headers=plant.operator.headers))["items"]
    assert [(lot["batch_code"], Decimal(lot["quantity"])) for lot in lots] == [("LOT-A1", Decimal(40))]
    assert lots[0]["status"]["slug"] == "quarantine"
    assert lots[0]["receipt"]["containers"][0]["num_containers"] == 2
    assert (await get_order(client, plant.operator, order["id"]))["state"] == "receiving"

    after = await web.get(f"{BASE}/{order['id']}/receive")
    assert "LOT-A1" in after.text
    assert 'data-state="quarantine"' in after.text


async def test_over_receipt_is_refused_with_the_values_kept_and_nothing_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await plant_and(client, database)
    order = await issued_order(client, plant)
    (line_id,) = await line_ids(client, plant, order["id"])
    web = await sign_in(client, plant.operator)
    before = await row_counts(database)

    resp = await web.post(
        f"{BASE}/{order['id']}/receive/{line_id}", receive_form(quantity="1000", batch_code="TOO-MUCH")
    )
    assert resp.status_code == 422
    assert 'value="1000"' in resp.text
    assert 'value="TOO-MUCH"' in resp.text
    assert "at most 100" in text_of(resp.text)
    assert await row_counts(database) == before

    bad = await web.post(
        f"{BASE}/{order['id']}/receive/{line_id}",
        receive_form(quantity="abc", **{"containers-1-num_containers": "x"}),
    )
    assert bad.status_code == 422
    assert 'value="abc"' in bad.text
    assert 'id="e-containers-1-num_containers"' in bad.text
    assert await row_counts(database) == before


async def test_cancel_needs_a_reason(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    web = await sign_in(client, plant.buyer)

    dialog = await web.get(f"{BASE}/{order['id']}/cancel/dialog", target="dialog-content")
    assert dialog.status_code == 200
    assert "<html" not in dialog.text
    assert 'name="reason"' in dialog.text
    full = await web.get(f"{BASE}/{order['id']}/cancel/dialog")
    assert "<html" in full.text

    before = await row_counts(database)
    no_reason = await web.post(f"{BASE}/{order['id']}/cancel", {"reason": "  "}, target="dialog-content")
    assert no_reason.status_code == 422
    assert "This field is required." in no_reason.text
    assert (await get_order(client, plant.buyer, order["id"]))["state"] == "pending"
    assert await row_counts(database) == before

    done = await web.post(f"{BASE}/{order['id']}/cancel", {"reason": "Supplier cannot deliver"})
    assert done.status_code == 303
    cancelled = await get_order(client, plant.buyer, order["id"])
    assert cancelled["state"] == "cancelled"
    assert cancelled["close_reason"] == "Supplier cannot deliver"

    again = await web.post(f"{BASE}/{order['id']}/cancel", {"reason": "twice"})
    assert again.status_code == 409
    assert "cannot go from cancelled" in again.text


async def test_refusing_without_the_permission_is_403(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    web = await sign_in(client, plant.buyer)
    before = await row_counts(database)
    assert (await web.post(f"{BASE}/{order['id']}/refuse", {"reason": "no"})).status_code == 403
    assert await row_counts(database) == before


async def test_history_tab_shows_the_creation_entry(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    auditor = await make_user(database, username="aud", permissions=["procurement.view", "audit.view"])
    web = await sign_in(client, auditor)
    page = await web.get(f"{BASE}/{order['id']}/history")
    assert page.status_code == 200
    assert "procurement_order.create" in page.text
    assert "procurement_order_line.create" in page.text
    assert "bea" in page.text  # who created it

    buyer = await sign_in(client, plant.buyer)
    assert (await buyer.get(f"{BASE}/{order['id']}/history")).status_code == 403
    assert f"{BASE}/{order['id']}/history" not in (await buyer.get(f"{BASE}/{order['id']}")).text


async def test_files_upload_list_download_and_delete(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await make_order(client, plant)
    web = await sign_in(client, plant.buyer)

    tab = await web.get(f"{BASE}/{order['id']}/files")
    assert "data-upload-progress" in tab.text
    assert 'hx-encoding="multipart/form-data"' in tab.text

    resp = await web.post(
        f"{BASE}/{order['id']}/files",
        {"comment": "Certificate"},
        files=[("files", ("coa.pdf", PDF, "application/pdf"))],
        target="files-panel",
    )
    assert resp.status_code == 200, resp.text
    assert "coa.pdf" in resp.text
    assert "Certificate" in resp.text
    assert "<html" not in resp.text
    listed = ok(await client.get(order_url(order["id"], "/attachments"), headers=plant.buyer.headers))["items"]
    assert [f["filename"] for f in listed] == ["coa.pdf"]

    before = await row_counts(database)
    refused = await web.post(
        f"{BASE}/{order['id']}/files",
        {"comment": "bad"},
        files=[("files", ("page.pdf", b"<html><script>x</script></html>", "application/pdf"))],
        target="files-panel",
    )
    assert refused.status_code == 422
    assert "page.pdf" in refused.text
    assert await row_counts(database) == before

    reader = await make_user(database, username="reader", permissions=["procurement.view", "file.view"])
    reader_web = await sign_in(client, reader)
    page = await reader_web.get(f"{BASE}/{order['id']}/files")
    link = f"{BASE}/{order['id']}/files/{listed[0]['id']}"
    assert link in page.text
    download = await reader_web.get(link)
    assert download.status_code == 200
    assert download.content == PDF
    assert "attachment" in download.headers["content-disposition"]
    assert (await reader_web.post(f"{link}/delete")).status_code == 403

    web = await sign_in(client, plant.buyer)
    gone = await web.post(f"{link}/delete")
    assert gone.status_code == 303
    assert ok(await client.get(order_url(order["id"], "/attachments"), headers=plant.buyer.headers))["items"] == []


async def test_qc_record_and_signed_release(client: httpx.AsyncClient, database: Database) -> None:
    plant = await plant_and(client, database)
    order = await issued_order(client, plant)
    (line_id,) = await line_ids(client, plant, order["id"])
    lot: Any = await received(client, plant, order["id"], receipt(line_id, "50", batch_code="LOT-Q1"))
    web = await sign_in(client, plant.qc)

    tab = await web.get(f"{BASE}/{order['id']}/quality")
    assert tab.status_code == 200
    assert "Record sampling" in tab.text

    bad = await web.post(f"{BASE}/{order['id']}/quality", {"lot_id": str(lot["id"]), "sampled_quantity": "-1"})
    assert bad.status_code == 422
    assert 'value="-1"' in bad.text

    saved = await web.post(
        f"{BASE}/{order['id']}/quality",
        {"lot_id": str(lot["id"]), "sampled_quantity": "1", "analysis_number": "LAB-7", "result": "conform"},
    )
    assert saved.status_code == 303, saved.text
    records = ok(await client.get(order_url(order["id"], "/qc-records"), headers=plant.qc.headers))["items"]
    assert [r["analysis_number"] for r in records] == ["LAB-7"]
    qc_id = records[0]["id"]

    page = await web.get(f"{BASE}/{order['id']}/quality")
    assert "Sign: release lot" in page.text
    assert 'name="username"' in page.text  # the session's first signature (§11.200(a)(1))

    before = await row_counts(database)
    wrong = await web.post(
        f"{BASE}/{order['id']}/quality/{qc_id}", {"confirm": "true", "username": "quinn", "password": "nope"}
    )
    assert wrong.status_code == 422
    assert "password is not correct" in text_of(wrong.text)
    after_wrong = await row_counts(database)
    assert {k: v for k, v in after_wrong.items() if k != "audit_entry"} == {
        k: v for k, v in before.items() if k != "audit_entry"
    }  # only the failed attempt is recorded

    signed = await web.post(
        f"{BASE}/{order['id']}/quality/{qc_id}",
        {"confirm": "true", "username": "quinn", "password": plant.qc.password},
    )
    assert signed.status_code == 303, signed.text
    lots = ok(await client.get(order_url(order["id"], "/received-items"), headers=plant.qc.headers))["items"]
    assert lots[0]["status"]["slug"] == "ok"
    final = await web.get(f"{BASE}/{order['id']}/quality")
    assert "signed and final" in final.text


async def test_every_route_mirrors_an_api_route_with_the_same_permission(app: Any) -> None:
    """Each UI route names existing API routes; a quick local parity check (the shared test is §12.6)."""
    spec = app.openapi()["paths"]
    routes = [r for r in procurement_ui.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 20
    for route in routes:
        assert route.path.startswith(BASE), route.path
        equivalents = (route.openapi_extra or {}).get("x-api-equivalent")
        assert equivalents, route.path
        for equivalent in equivalents:
            method, path = equivalent.split(" ", 1)
            assert method.lower() in spec.get(path, {}), (route.path, equivalent)
