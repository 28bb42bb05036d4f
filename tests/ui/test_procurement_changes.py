"""Purchase order pages, changes after creation (ui.md B3.1, B3.3, B4): the header edit form,
the reversal of a lot receipt, and what a receipt lands on.

Each write is checked three ways: the happy path with the stored result and its audit entry; each
refusal with its status, the domain's message and the stored data unchanged; and a user without the
permission, who sees no button and gets 403 on the direct POST with nothing stored."""

import re
from decimal import Decimal

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    get_lines,
    get_order,
    issued_order,
    line_ids,
    lot,
    make_order,
    make_plant,
    ok,
    order_url,
    receipt,
    received,
    row_counts,
    sign,
    snapshot,
    state_change,
)
from tests.ui.conftest import WebClient, text_of
from tests.ui.test_procurement_pages import receive_form, sign_in

pytestmark = pytest.mark.anyio

BASE = "/web/procurement"
_VERSION = re.compile(r'name="version" value="([^"]*)"')


def version_of(page: str, index: int = 0) -> str:
    """The `version` a form on the page carries (0: the first form that has one)."""
    found = _VERSION.findall(page)
    assert found, "no version field on the page"
    return found[index].replace("&#43;", "+")


def header_form(version: str, **fields: str) -> dict[str, str]:
    return {
        "version": version,
        "currency": "EUR",
        "destination_id": "",
        "issue_date": "2026-11-20",
        "target_date": "2026-12-15",
        "supplier_reference": "OF-2211",
        "description": "API for the December campaign",
        "delivery_address": "Str. Fabricii 1, Cluj",
        "notes": "Call before delivery",
        **fields,
    }


async def reverser(database: Database) -> MadeUser:
    return await make_user(
        database, username="rita", permissions=["procurement.view", "procurement.reverse_receipt", "stock.view"]
    )


# --- the header (B3.1) -------------------------------------------------------------------------


async def test_the_header_is_edited_in_romanian_and_the_change_is_audited(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    web = await sign_in(client, plant.buyer)
    assert (await web.post("/web/lang", {"lang": "ro", "next": f"{BASE}/{oid}"})).status_code == 303

    details = await web.get(f"{BASE}/{oid}")
    assert f'href="{BASE}/{oid}/edit"' in details.text
    form = await web.get(f"{BASE}/{oid}/edit")
    assert form.status_code == 200
    assert f'action="{BASE}/{oid}/edit"' in form.text
    assert 'value="2026-11-20"' in form.text  # the stored issue date, as the date input takes it
    assert f'<option value="{plant.warehouse_id}" selected>' in form.text

    saved = await web.post(
        f"{BASE}/{oid}/edit", header_form(version_of(form.text), destination_id=str(plant.warehouse_id))
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{BASE}/{oid}"

    stored = await get_order(client, plant.buyer, oid)
    assert (stored["currency"], stored["target_date"], stored["supplier_reference"]) == ("EUR", "2026-12-15", "OF-2211")
    assert (stored["description"], stored["notes"]) == ("API for the December campaign", "Call before delivery")
    update = (await entries(database, action="procurement_order.update", entity_id=str(oid)))[-1]
    assert update["actor_user_id"] == plant.buyer.id
    assert update["changes"]["before"]["currency"] == "RON"
    assert update["changes"]["after"]["currency"] == "EUR"
    assert update["changes"]["after"]["description"] == "API for the December campaign"

    page = await web.get(f"{BASE}/{oid}")
    assert "API for the December campaign" in page.text
    assert order["reference"] in text_of(page.text)  # the flash names the order

    # Emptying the dates and the destination clears them (they are nullable), texts become empty.
    again = await web.get(f"{BASE}/{oid}/edit")
    cleared = await web.post(
        f"{BASE}/{oid}/edit",
        header_form(version_of(again.text), issue_date="", target_date="", notes="", destination_id=""),
    )
    assert cleared.status_code == 303, cleared.text
    stored = await get_order(client, plant.buyer, oid)
    assert (stored["issue_date"], stored["target_date"], stored["destination_id"], stored["notes"]) == (
        None,
        None,
        None,
        "",
    )


async def test_bad_header_input_is_422_with_the_values_kept_and_nothing_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    web = await sign_in(client, plant.buyer)
    version = version_of((await web.get(f"{BASE}/{oid}/edit")).text)
    before = await snapshot(client, database, plant.buyer, oid)

    backwards = await web.post(
        f"{BASE}/{oid}/edit", header_form(version, issue_date="2026-12-20", target_date="2026-12-01")
    )
    assert backwards.status_code == 422
    assert 'value="2026-12-20"' in backwards.text
    assert "API for the December campaign" in backwards.text  # typed values kept
    assert "df-error-summary" in backwards.text

    not_a_date = await web.post(f"{BASE}/{oid}/edit", header_form(version, target_date="31.12.2026x"))
    assert not_a_date.status_code == 422
    assert 'id="e-target_date"' in not_a_date.text

    lab = await web.post(f"{BASE}/{oid}/edit", header_form(version, destination_id=str(plant.lab_id)))
    assert lab.status_code == 422
    assert "is not a warehouse" in text_of(lab.text)  # the domain's reason
    assert 'id="e-destination_id"' in lab.text

    long_reference = await web.post(f"{BASE}/{oid}/edit", header_form(version, supplier_reference="R" * 65))
    assert long_reference.status_code == 422
    assert 'id="e-supplier_reference"' in long_reference.text

    assert await snapshot(client, database, plant.buyer, oid) == before


async def test_a_signature_locks_the_header_edit_is_409_and_the_signature_stays_valid(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    web = await sign_in(client, plant.buyer)
    version = version_of((await web.get(f"{BASE}/{oid}/edit")).text)
    ok(await sign(client, oid, plant.approver1))  # 1 of 2: the flow is in progress, the order pending
    before = await snapshot(client, database, plant.buyer, oid)
    assert before["order"]["state"] == "pending"

    page = await web.get(f"{BASE}/{oid}")
    assert f"{BASE}/{oid}/edit" not in page.text
    opened = await web.get(f"{BASE}/{oid}/edit")
    assert opened.status_code == 409
    assert "its approval has signatures" in text_of(opened.text)
    assert f'action="{BASE}/{oid}/edit"' not in opened.text

    refused = await web.post(f"{BASE}/{oid}/edit", header_form(version))
    assert refused.status_code == 409
    assert "can no longer be changed: its approval has signatures" in text_of(refused.text)
    assert await snapshot(client, database, plant.buyer, oid) == before

    # The signed content is what it was: the signature still verifies against the order today.
    flow = ok(await client.get(order_url(oid, "/approval-flow"), headers=plant.approver1.headers))
    verified = ok(await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=plant.admin.headers))
    assert [s["content_unchanged"] for s in verified["signatures"]] == [True], verified

    # Issued (both signed): refused by state as well.
    ok(await sign(client, oid, plant.approver2))
    issued = await snapshot(client, database, plant.buyer, oid)
    late = await web.post(f"{BASE}/{oid}/edit", header_form(version))
    assert late.status_code == 409
    assert "can no longer be changed: it is issued" in text_of(late.text)
    assert await snapshot(client, database, plant.buyer, oid) == issued


async def test_a_stale_header_form_is_409_and_overwrites_nothing(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    web = await sign_in(client, plant.buyer)
    version = version_of((await web.get(f"{BASE}/{oid}/edit")).text)
    ok(await client.patch(order_url(oid), json={"description": "Changed meanwhile"}, headers=plant.buyer.headers))
    before = await snapshot(client, database, plant.buyer, oid)

    stale = await web.post(f"{BASE}/{oid}/edit", header_form(version))
    assert stale.status_code == 409
    assert "was changed after you opened this form" in text_of(stale.text)
    assert "Changed meanwhile" in stale.text  # the form shows the current values to review
    assert await snapshot(client, database, plant.buyer, oid) == before

    missing = await web.post(f"{BASE}/{oid}/edit", {k: v for k, v in header_form(version).items() if k != "version"})
    assert missing.status_code == 409
    assert await snapshot(client, database, plant.buyer, oid) == before

    current = version_of(stale.text)
    saved = await web.post(f"{BASE}/{oid}/edit", header_form(current))
    assert saved.status_code == 303, saved.text
    assert (await get_order(client, plant.buyer, oid))["description"] == "API for the December campaign"


async def test_without_procurement_change_there_is_no_edit_and_the_post_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    buyer = await sign_in(client, plant.buyer)
    version = version_of((await buyer.get(f"{BASE}/{oid}/edit")).text)

    web = await sign_in(client, plant.approver1)
    page = await web.get(f"{BASE}/{oid}")
    assert page.status_code == 200
    assert f"{BASE}/{oid}/edit" not in page.text
    before = await snapshot(client, database, plant.buyer, oid)
    assert (await web.get(f"{BASE}/{oid}/edit")).status_code == 403
    assert (await web.post(f"{BASE}/{oid}/edit", header_form(version))).status_code == 403
    assert await snapshot(client, database, plant.buyer, oid) == before


# --- receipt reversal (B3.3) -------------------------------------------------------------------


async def test_a_receipt_nothing_used_is_reversed_with_a_reason_and_stays_in_the_history(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    rita = await reverser(database)
    order = await issued_order(client, plant)
    oid = order["id"]
    (line_id,) = await line_ids(client, plant, oid)
    made = await received(client, plant, oid, receipt(line_id, "40", batch_code="LOT-R1"))
    web = await sign_in(client, rita)

    tab = await web.get(f"{BASE}/{oid}/receive")
    dialog_url = f"{BASE}/{oid}/lots/{made['id']}/reverse/dialog"
    assert f'hx-get="{dialog_url}"' in tab.text
    assert "Reverse receipt…" in text_of(tab.text)
    dialog = await web.get(dialog_url, target="dialog-content")
    assert dialog.status_code == 200
    assert "<html" not in dialog.text
    assert 'name="reason"' in dialog.text
    assert f'hx-post="{BASE}/{oid}/lots/{made["id"]}/reverse"' in dialog.text
    assert "LOT-R1" in text_of(dialog.text)
    assert "<html" in (await web.get(dialog_url)).text  # without htmx: a page

    before = await snapshot(client, database, plant.buyer, oid)
    no_reason = await web.post(f"{BASE}/{oid}/lots/{made['id']}/reverse", {"reason": "  "}, target="dialog-content")
    assert no_reason.status_code == 422
    assert "This field is required." in no_reason.text
    too_long = await web.post(f"{BASE}/{oid}/lots/{made['id']}/reverse", {"reason": "r" * 2001})
    assert too_long.status_code == 422
    assert "This value is too long." in too_long.text
    assert await snapshot(client, database, plant.buyer, oid) == before

    done = await web.post(f"{BASE}/{oid}/lots/{made['id']}/reverse", {"reason": "Booked on the wrong order"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{BASE}/{oid}/receive"

    after = await lot(client, plant.admin, made["id"])
    assert after["reversed_at"] is not None
    assert (after["reversed_by_id"], after["reversal_reason"]) == (rita.id, "Booked on the wrong order")
    assert [Decimal(line["received_quantity"]) for line in await get_lines(client, plant.buyer, oid)] == [0]
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"
    audited = [e for e in await entries(database, entity_id=str(made["id"])) if e["entity_type"] == "stock_lot"][-1]
    assert audited["actor_user_id"] == rita.id
    assert audited["changes"]["after"]["reversal_reason"] == "Booked on the wrong order"

    history = await web.get(f"{BASE}/{oid}/receive")
    assert "LOT-R1" in history.text
    assert 'data-reversed="true"' in history.text
    assert "Receipt reversed" in text_of(history.text)
    assert "Booked on the wrong order" in history.text
    assert dialog_url not in history.text

    again = await web.post(f"{BASE}/{oid}/lots/{made['id']}/reverse", {"reason": "twice"})
    assert again.status_code == 409
    assert "was already reversed" in text_of(again.text)


async def test_reversal_of_a_used_lot_or_of_an_order_closed_by_hand_is_409_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    rita = await reverser(database)
    order = await issued_order(client, plant)
    oid = order["id"]
    (line_id,) = await line_ids(client, plant, oid)
    sampled = await received(client, plant, oid, receipt(line_id, "10", batch_code="LOT-S"))
    untouched = await received(client, plant, oid, receipt(line_id, "10", batch_code="LOT-U"))
    ok(
        await client.post(
            order_url(oid, "/qc-records"),
            json={"lot_id": sampled["id"], "sampled_quantity": "0.5"},
            headers=plant.qc.headers,
        ),
        201,
    )
    web = await sign_in(client, rita)

    tab = await web.get(f"{BASE}/{oid}/receive")
    assert f"{BASE}/{oid}/lots/{sampled['id']}/reverse/dialog" not in tab.text  # QC done: not offered
    assert f"{BASE}/{oid}/lots/{untouched['id']}/reverse/dialog" in tab.text

    before = await snapshot(client, database, plant.buyer, oid)
    used = await web.post(f"{BASE}/{oid}/lots/{sampled['id']}/reverse", {"reason": "wrong line"})
    assert used.status_code == 409
    assert "has been used since its receipt" in text_of(used.text)
    assert await snapshot(client, database, plant.buyer, oid) == before
    assert (await lot(client, plant.admin, sampled["id"]))["reversed_at"] is None

    other = await issued_order(client, plant)
    assert (await web.post(f"{BASE}/{other['id']}/lots/{untouched['id']}/reverse", {"reason": "x"})).status_code == 404
    assert (await web.post(f"{BASE}/{oid}/lots/999999/reverse", {"reason": "x"})).status_code == 404

    finisher = await make_user(database, username="fin", permissions=["procurement.view", "procurement.finish"])
    ok(await state_change(client, finisher, oid, "finished", "Supplier delivered 20 of 100"))
    closed = await snapshot(client, database, plant.buyer, oid)
    tab = await web.get(f"{BASE}/{oid}/receive")
    assert "/reverse/dialog" not in tab.text
    refused = await web.post(f"{BASE}/{oid}/lots/{untouched['id']}/reverse", {"reason": "wrong line"})
    assert refused.status_code == 409
    assert "was finished by hand" in text_of(refused.text)
    assert await snapshot(client, database, plant.buyer, oid) == closed


async def test_without_reverse_permission_there_is_no_button_and_the_post_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    oid = order["id"]
    (line_id,) = await line_ids(client, plant, oid)
    made = await received(client, plant, oid, receipt(line_id, "40", batch_code="LOT-N"))
    for user in (plant.operator, plant.buyer):
        web: WebClient = await sign_in(client, user)
        tab = await web.get(f"{BASE}/{oid}/receive")
        assert "LOT-N" in tab.text
        assert "/reverse" not in tab.text
        before = await snapshot(client, database, plant.buyer, oid)
        assert (await web.get(f"{BASE}/{oid}/lots/{made['id']}/reverse/dialog")).status_code == 403
        assert (await web.post(f"{BASE}/{oid}/lots/{made['id']}/reverse", {"reason": "x"})).status_code == 403
        assert await snapshot(client, database, plant.buyer, oid) == before


# --- after a receipt (B4) ----------------------------------------------------------------------


async def test_after_a_receipt_the_tab_names_the_lot_and_its_state_and_offers_another(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "30")])
    oid = order["id"]
    tested, untested = await line_ids(client, plant, oid)
    web = await sign_in(client, plant.operator)

    resp = await web.post(f"{BASE}/{oid}/receive/{tested}", receive_form(batch_code="LOT-B1"))
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"{BASE}/{oid}/receive"
    landed = await web.get(resp.headers["location"])
    banner = landed.text[landed.text.index('id="receipt-banner"') :]
    banner = banner[: banner.index("</div>")]
    assert "Lot LOT-B1 entered Quarantine." in text_of(banner)
    assert 'data-state="quarantine"' in banner
    assert f'href="{BASE}/{oid}/receive/{tested}"' in banner  # receive another on the same line
    assert "60 kg still to receive on line 1" in text_of(banner)
    assert "Receive another" in text_of(banner)

    shown_once = await web.get(f"{BASE}/{oid}/receive")
    assert 'id="receipt-banner"' not in shown_once.text

    # The whole remaining quantity of a part without QC: it enters OK and nothing more is offered.
    whole = await web.post(
        f"{BASE}/{oid}/receive/{untested}", receive_form(quantity="30", batch_code="LOT-B2", expiry_date="")
    )
    assert whole.status_code == 303, whole.text
    landed = await web.get(f"{BASE}/{oid}/receive")
    banner = landed.text[landed.text.index('id="receipt-banner"') :]
    banner = banner[: banner.index("</div>")]
    assert "Lot LOT-B2 entered OK." in text_of(banner)
    assert "Receive another" not in text_of(banner)
    assert f"{BASE}/{oid}/receive/{untested}" not in banner

    # A banner belongs to its order: another order's Receipts tab does not show it.
    other = await issued_order(client, plant)
    resp = await web.post(f"{BASE}/{oid}/receive/{tested}", receive_form(quantity="5", batch_code="LOT-B3"))
    assert resp.status_code == 303
    assert 'id="receipt-banner"' not in (await web.get(f"{BASE}/{other['id']}/receive")).text


async def test_a_refused_receipt_shows_no_banner_and_stores_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    oid = order["id"]
    (line_id,) = await line_ids(client, plant, oid)
    web = await sign_in(client, plant.operator)
    before = await row_counts(database)
    refused = await web.post(f"{BASE}/{oid}/receive/{line_id}", receive_form(quantity="1000"))
    assert refused.status_code == 422
    assert "df_receipt" not in refused.headers.get("set-cookie", "")
    assert 'id="receipt-banner"' not in (await web.get(f"{BASE}/{oid}/receive")).text
    assert await row_counts(database) == before
