"""Removing a signature from the approval panel (ui.md §5.5, §5.8): a reason dialog with the password,
calling `withdraw_signature` in-process; the signature stays, marked withdrawn (who, when, why)."""

import re
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.approval_http import row_counts, rows
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    Plant,
    get_order,
    issued_order,
    line_ids,
    make_order,
    make_plant,
    ok,
    receipt,
    received,
    sign,
    state_change,
    withdraw,
)
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

WITHDRAWER = ["procurement.view", "approval.view", "approval.withdraw"]
REASON = "signed the wrong revision"


async def _flow_of(client: httpx.AsyncClient, plant: Plant, order_id: int) -> dict[str, Any]:
    flows = ok(await client.get(f"/api/approvals/flows/object/purchase_order/{order_id}", headers=plant.admin.headers))
    assert flows["total"] == 1
    return dict(flows["items"][0])


async def _signatures(database: Database, flow_id: int) -> list[dict[str, Any]]:
    return await rows(database, "SELECT * FROM approval_signature WHERE flow_id = :f ORDER BY id", f=flow_id)


async def _withdrawer(database: Database) -> MadeUser:
    return await make_user(database, username="wanda", permissions=WITHDRAWER)


def _remove_url(flow_id: int, user_id: int) -> str:
    return f"/web/approvals/flows/{flow_id}/signatures/{user_id}/remove"


def _form(user: MadeUser, reason: str = REASON, **extra: str) -> dict[str, str]:
    return {"reason": reason, "password": user.password, **extra}


async def _issued(client: httpx.AsyncClient, database: Database) -> tuple[Plant, dict[str, Any], dict[str, Any]]:
    """An order both officers signed (the flow approved, the order issued)."""
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    return plant, order, await _flow_of(client, plant, order["id"])


async def _trail(database: Database) -> list[dict[str, Any]]:
    return await rows(database, "SELECT id, action FROM audit_entry ORDER BY id")


# --- Success ----------------------------------------------------------------------------------------


async def test_remove_with_reason_and_password_marks_it_withdrawn_and_reopens_the_flow(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _issued(client, database)
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)
    assert (await get_order(client, plant.admin, order["id"]))["state"] == "issued"

    panel = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    url = _remove_url(flow["id"], plant.approver2.id)
    assert f'hx-get="{url}"' in panel.text
    assert f'hx-get="{_remove_url(flow["id"], plant.approver1.id)}"' in panel.text
    assert "Remove signature…" in text_of(panel.text)

    dialog = await web.get(url, target="dialog-content")
    assert dialog.status_code == 200
    assert "<html" not in dialog.text
    assert 'id="dialog-title"' in dialog.text
    text = text_of(dialog.text)
    assert "After the removal the approval is In progress." in text
    assert "Removing as" in text
    assert "(wanda)" in text
    assert 'name="reason"' in dialog.text
    assert 'autocomplete="current-password"' in dialog.text
    before_trail = await _trail(database)

    resp = await web.post(url, _form(remover), target="dialog-content")

    # The same answer as a successful signature: close, toast, re-read #main.
    assert resp.status_code == 200, resp.text
    assert "data-df-close" in resp.text
    assert 'hx-swap-oob="beforeend:#toasts"' in resp.text
    assert resp.headers["hx-trigger-after-settle"] == "df:refresh-main"
    assert "The approval of Purchase order" in text_of(resp.text)
    assert "is now In progress." in text_of(resp.text)

    first, second = await _signatures(database, flow["id"])
    assert first["withdrawn_at"] is None
    assert second["user_id"] == plant.approver2.id
    assert second["withdrawn_at"] is not None
    assert (second["withdrawn_by_id"], second["withdrawn_reason"]) == (remover.id, REASON)
    assert (await _flow_of(client, plant, order["id"]))["status"] == "in_progress"
    assert (await get_order(client, plant.admin, order["id"]))["state"] == "pending"  # the owner's reopen hook
    verified = ok(await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=plant.admin.headers))
    assert verified["ok"] is True  # the withdrawal is sealed with the signature

    trail = await rows(
        database,
        "SELECT action, entity_id, actor_username, reason FROM audit_entry WHERE id > :last ORDER BY id",
        last=before_trail[-1]["id"],
    )
    updates = [t for t in trail if t["action"] == "approval_signature.update"]
    assert [(t["entity_id"], t["actor_username"], t["reason"]) for t in updates] == [
        (str(second["id"]), "wanda", REASON)
    ]
    assert "approval_flow.update" in {t["action"] for t in trail}

    # The panel keeps the withdrawn signature, marked (who, when, why), with no button for it.
    after = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    assert f'data-signature="{second["id"]}"' in after.text
    item = re.search(rf'<li[^>]*data-signature="{second["id"]}".*?</li>', after.text, re.S)
    assert item is not None
    assert 'data-withdrawn="true"' in item.group(0)
    assert "<del>" in item.group(0)
    assert "Withdrawn by wanda on" in text_of(item.group(0))
    assert REASON in text_of(item.group(0))
    assert url not in after.text
    assert _remove_url(flow["id"], plant.approver1.id) in after.text
    assert "Required 1 of 2" in text_of(after.text)


async def test_without_htmx_removal_redirects_to_the_object_with_a_flash(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _issued(client, database)
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)

    page = await web.get(_remove_url(flow["id"], plant.approver1.id))
    assert page.status_code == 200
    assert "<html" in page.text
    assert page.text.count("<h1") == 1

    resp = await web.post(_remove_url(flow["id"], plant.approver1.id), _form(remover))

    assert resp.status_code == 303
    assert resp.headers["location"] == f"/web/procurement/{order['id']}"
    inbox = await web.get("/web/approvals")
    assert "The signature of" in text_of(inbox.text)
    assert "was removed." in text_of(inbox.text)
    assert [s["withdrawn_at"] is not None for s in await _signatures(database, flow["id"])] == [True, False]


# --- Bad input: 422, inline, nothing changed -----------------------------------------------------


async def test_missing_reason_is_422_and_changes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, flow = await _issued(client, database)
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)
    signatures = await _signatures(database, flow["id"])
    before = await row_counts(database)

    resp = await web.post(
        _remove_url(flow["id"], plant.approver1.id), _form(remover, reason="   "), target="dialog-content"
    )

    assert resp.status_code == 422
    assert re.search(r'name="reason"[^>]*aria-invalid="true"', resp.text)
    assert remover.password not in resp.text
    assert await _signatures(database, flow["id"]) == signatures
    assert await row_counts(database) == before


async def test_wrong_password_is_422_keeps_the_reason_and_counts_as_a_failed_attempt(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, _order, flow = await _issued(client, database)
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)
    signatures = await _signatures(database, flow["id"])
    before = await row_counts(database)

    resp = await web.post(
        _remove_url(flow["id"], plant.approver1.id),
        _form(remover, password="not-my-password"),
        target="dialog-content",
    )

    assert resp.status_code == 422
    assert "The password is not correct; the signature was not removed." in text_of(resp.text)
    assert "not-my-password" not in resp.text
    assert re.search(r'name="password" type="password"(?![^>]*value=)', resp.text)
    assert REASON in resp.text  # the reason typed is kept
    assert 'data-df-error-code="identity.password_rejected"' in resp.text
    assert await _signatures(database, flow["id"]) == signatures
    after = await row_counts(database)
    assert after == {**before, "audit_entry": before["audit_entry"] + 1}
    [failure] = await rows(database, "SELECT action, actor_username FROM audit_entry ORDER BY id DESC LIMIT 1")
    assert failure == {"action": "auth.reauthentication_failed", "actor_username": "wanda"}


# --- Refused by the record: 409 with the domain's reason, nothing changed --------------------------


async def _refused(
    web: WebClient, database: Database, flow_id: int, user_id: int, remover: MadeUser
) -> tuple[httpx.Response, bool]:
    signatures = await _signatures(database, flow_id)
    before = await row_counts(database)
    resp = await web.post(_remove_url(flow_id, user_id), _form(remover), target="dialog-content")
    unchanged = await _signatures(database, flow_id) == signatures and await row_counts(database) == before
    return resp, unchanged


async def test_goods_received_refuses_removal_with_the_owners_reason(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _issued(client, database)
    [line] = await line_ids(client, plant, order["id"])
    await received(client, plant, order["id"], receipt(line, "10", batch_code="LOT-R1"))
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)

    panel = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    # The button is there but disabled, with the reason as text beside it.
    assert re.search(r"<button[^>]*df-remove-signature[^>]*disabled", panel.text)
    assert 'hx-get="/web/approvals/flows/' not in panel.text.split("df-signatures", 1)[1].split("</ul>", 1)[0]
    assert "Goods were received against" in text_of(panel.text)
    dialog = await web.get(_remove_url(flow["id"], plant.approver1.id), target="dialog-content")
    assert dialog.status_code == 200
    assert "Goods were received against" in text_of(dialog.text)
    assert 'name="password"' not in dialog.text

    resp, unchanged = await _refused(web, database, flow["id"], plant.approver1.id, remover)

    assert resp.status_code == 409, resp.text
    assert f"Goods were received against {order['reference']}; its signatures stay." in text_of(resp.text)
    assert 'data-df-error-code="approval.withdrawal_refused"' in resp.text
    assert unchanged


async def test_a_cancelled_flow_refuses_removal(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    ok(await sign(client, order["id"], plant.approver1))
    ok(await state_change(client, plant.admin, order["id"], "cancelled", reason="supplier closed"))
    flow = await _flow_of(client, plant, order["id"])
    assert flow["status"] == "cancelled"
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)

    panel = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    assert "df-remove-signature" not in panel.text
    resp, unchanged = await _refused(web, database, flow["id"], plant.approver1.id, remover)

    assert resp.status_code == 409, resp.text
    assert "was cancelled; its signatures stay as they are." in text_of(resp.text)
    assert 'data-df-error-code="approval.flow_closed"' in resp.text
    assert unchanged


async def test_an_already_withdrawn_signature_is_409(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _issued(client, database)
    ok(await withdraw(client, plant.admin, order["id"], plant.approver2.id))
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)

    dialog = await web.get(_remove_url(flow["id"], plant.approver2.id), target="dialog-content")
    assert dialog.status_code == 200
    assert "This signature was already withdrawn." in text_of(dialog.text)
    assert 'name="password"' not in dialog.text
    resp, unchanged = await _refused(web, database, flow["id"], plant.approver2.id, remover)

    assert resp.status_code == 409, resp.text
    assert "This signature was already withdrawn." in text_of(resp.text)
    assert unchanged


async def test_a_user_who_never_signed_is_404(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    flow = await _flow_of(client, plant, order["id"])
    remover = await _withdrawer(database)
    web = await sign_in(client, remover)
    before = await row_counts(database)

    assert (await web.get(_remove_url(flow["id"], plant.approver1.id))).status_code == 404
    resp = await web.post(_remove_url(flow["id"], plant.approver1.id), _form(remover))

    assert resp.status_code == 404
    assert await row_counts(database) == before


# --- Permission ---------------------------------------------------------------------------------------


async def test_without_the_permission_there_is_no_button_and_posting_is_403(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _issued(client, database)
    web = await sign_in(client, plant.approver1)  # approval.view and approval.sign, not approval.withdraw
    signatures = await _signatures(database, flow["id"])
    before = await row_counts(database)

    panel = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    assert panel.status_code == 200
    assert "Remove signature" not in text_of(panel.text)
    assert "/remove" not in panel.text
    assert (await web.get(_remove_url(flow["id"], plant.approver1.id))).status_code == 403
    resp = await web.post(_remove_url(flow["id"], plant.approver1.id), _form(plant.approver1))

    assert resp.status_code == 403
    assert await _signatures(database, flow["id"]) == signatures
    assert await row_counts(database) == before
    assert (await get_order(client, plant.admin, order["id"]))["state"] == "issued"
