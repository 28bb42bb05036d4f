"""The QC confirmation on a purchase order's Quality tab is an electronic signature: the first
signature of a browser session also asks for the username (21 CFR Part 11 §11.200(a)(1), setting
`signature_require_username`), shared with the approval signature dialog (`depotflow.ui.signing`)."""

import json
import re
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.approval_http import rows
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    APPROVER,
    QC,
    Plant,
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
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

BASE = "/web/procurement"
USERNAME_FIELD = 'name="username"'
_DIGEST = re.compile(r'name="expected_digest" value="([0-9a-f]{64})"')


async def _qc_record(client: httpx.AsyncClient, plant: Plant, order_id: int, lot_id: int, number: str) -> int:
    """A conform QC record of the lot, through the API (not a signature)."""
    body = {"lot_id": lot_id, "sampled_quantity": "1", "analysis_number": number, "result": "conform"}
    created = ok(await client.post(order_url(order_id, "/qc-records"), json=body, headers=plant.qc.headers), 201)
    return int(created["id"])


async def _order_with_qc(
    client: httpx.AsyncClient, plant: Plant, *, lots: int = 1, batch: str = "LOT-S"
) -> tuple[int, list[int]]:
    """An issued order with `lots` received lots, each with a conform QC record not yet signed."""
    order = await issued_order(client, plant)
    (line_id,) = await line_ids(client, plant, order["id"])
    qc_ids = []
    for i in range(lots):
        lot = await received(client, plant, order["id"], receipt(line_id, "10", batch_code=f"{batch}{i}"))
        qc_ids.append(await _qc_record(client, plant, order["id"], lot["id"], f"LAB-{i}"))
    return int(order["id"]), qc_ids


async def _records(client: httpx.AsyncClient, plant: Plant, order_id: int) -> list[Any]:
    return list(ok(await client.get(order_url(order_id, "/qc-records"), headers=plant.qc.headers))["items"])


async def _lots(client: httpx.AsyncClient, plant: Plant, order_id: int) -> list[Any]:
    return list(ok(await client.get(order_url(order_id, "/received-items"), headers=plant.qc.headers))["items"])


def _confirm_form(html: str, qc_id: int) -> str:
    """The confirm form of one QC record on the Quality tab."""
    forms = re.findall(rf'<form method="post" action="{BASE}/\d+/quality/{qc_id}".*?</form>', html, re.S)
    confirm = [f for f in forms if 'name="confirm" value="true"' in f]
    assert len(confirm) == 1, forms
    return confirm[0]


async def _confirm(web: WebClient, order_id: int, qc_id: int, password: str, **extra: str) -> httpx.Response:
    return await web.post(f"{BASE}/{order_id}/quality/{qc_id}", {"confirm": "true", "password": password, **extra})


async def _identified(database: Database) -> list[dict[str, Any]]:
    return await rows(
        database,
        "SELECT entity_type, actor_username, details FROM audit_entry "
        "WHERE action = 'approval.signer_identified' ORDER BY id",
    )


async def test_a_first_qc_signature_asks_for_the_username_and_checks_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order_id, (first, second) = await _order_with_qc(client, plant, lots=2)
    web = await sign_in(client, plant.qc)

    tab = await web.get(f"{BASE}/{order_id}/quality")
    assert tab.status_code == 200
    form = _confirm_form(tab.text, first)
    assert USERNAME_FIELD in form
    assert 'autocomplete="username"' in form
    assert re.search(r'<label[^>]*for="f-username"[^>]*>\s*Username', form)
    assert "Your first signature in this session" in text_of(form)

    # Missing: a plain validation error, nothing counted or stored.
    before = await row_counts(database)
    missing = await _confirm(web, order_id, first, plant.qc.password)
    assert missing.status_code == 422
    assert re.search(r'name="username"[^>]*aria-invalid="true"', missing.text)
    assert await row_counts(database) == before

    # Another user's name with the right password: refused inline, counted and audited as a failed
    # re-authentication of the signed-in account; the QC record and the lot stay as they were.
    records_before, lots_before = await _records(client, plant, order_id), await _lots(client, plant, order_id)
    [last] = await rows(database, "SELECT max(id) AS id FROM audit_entry")
    wrong = await _confirm(web, order_id, first, plant.qc.password, username="alex", reason="kept")
    assert wrong.status_code == 422
    assert "This is not the username you signed in with; nothing was signed." in text_of(wrong.text)
    assert re.search(r'name="username"[^>]*aria-invalid="true"', wrong.text)
    assert 'value="alex"' in wrong.text  # the typed values are kept, the password never
    assert plant.qc.password not in wrong.text
    assert await _records(client, plant, order_id) == records_before
    assert await _lots(client, plant, order_id) == lots_before
    assert await row_counts(database) == {**before, "audit_entry": before["audit_entry"] + 1}
    [failure] = await rows(
        database, "SELECT action, actor_username, details FROM audit_entry WHERE id > :last", last=last["id"]
    )
    assert (failure["action"], failure["actor_username"]) == ("auth.reauthentication_failed", "quinn")
    assert json.loads(failure["details"])["reason"] == "username_mismatch"
    throttles = await rows(database, "SELECT key, failures FROM identity_login_throttle WHERE kind = 'user'")
    assert {t["key"]: t["failures"] for t in throttles if t["failures"]} == {"quinn": 1}  # never "alex"
    assert await _identified(database) == []

    # Both wrong: both fields say so.
    both = await _confirm(web, order_id, first, "not-my-password", username="alex")
    assert both.status_code == 422
    assert "This is not the username you signed in with; nothing was signed." in text_of(both.text)
    assert "The password is not correct." in text_of(both.text)
    assert await _records(client, plant, order_id) == records_before

    # The right username, in any case: signed, and the session is identified.
    signed = await _confirm(web, order_id, first, plant.qc.password, username="QUINN")
    assert signed.status_code == 303, signed.text
    record = next(r for r in await _records(client, plant, order_id) if r["id"] == first)
    assert record["confirmed"] is True
    [identified] = await _identified(database)
    assert (identified["entity_type"], identified["actor_username"]) == ("identity_token", "quinn")
    assert json.loads(identified["details"]) == {"username": "quinn", "order_id": order_id, "qc_id": first}

    # The next signature of the session: the password only.
    tab = await web.get(f"{BASE}/{order_id}/quality")
    assert USERNAME_FIELD not in _confirm_form(tab.text, second)
    again = await _confirm(web, order_id, second, plant.qc.password)
    assert again.status_code == 303, again.text
    assert all(r["confirmed"] for r in await _records(client, plant, order_id))
    assert len(await _identified(database)) == 1

    # A new session starts over.
    client.cookies.clear()
    fresh = await sign_in(client, plant.qc)
    order2, (third,) = await _order_with_qc(client, plant, batch="LOT-T")
    assert USERNAME_FIELD in _confirm_form((await fresh.get(f"{BASE}/{order2}/quality")).text, third)
    refused = await _confirm(fresh, order2, third, plant.qc.password)
    assert refused.status_code == 422
    assert not (await _records(client, plant, order2))[0]["confirmed"]


async def _signer(client: httpx.AsyncClient, database: Database, plant: Plant) -> MadeUser:
    """A user who both signs purchase orders (an optional officer of the template) and releases lots."""
    both = await make_user(database, username="vera", permissions=sorted(set(QC + APPROVER)))
    template = ok(await client.get(f"/api/approvals/templates/{plant.template_id}", headers=plant.admin.headers))
    officers = [
        {"kind": o["kind"], f"{o['kind']}_id": o["user_id"] or o["role_id"], "action": o["action"]}
        for o in template["officers"]
    ]
    officers.append({"kind": "user", "user_id": both.id, "action": "can_sign"})
    ok(
        await client.put(
            f"/api/approvals/templates/{plant.template_id}", json={"officers": officers}, headers=plant.admin.headers
        )
    )
    return both


async def test_after_an_approval_signature_the_qc_confirmation_does_not_ask(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order_id, (qc_id,) = await _order_with_qc(client, plant)
    vera = await _signer(client, database, plant)
    to_approve = await make_order(client, plant)
    flows = ok(
        await client.get(f"/api/approvals/flows/object/purchase_order/{to_approve['id']}", headers=plant.admin.headers)
    )
    flow_id = flows["items"][0]["id"]
    web = await sign_in(client, vera)

    # First signature of the session: the approval dialog, with the username.
    dialog = await web.get(f"/web/approvals/flows/{flow_id}/sign?decision=approve", target="dialog-content")
    assert USERNAME_FIELD in dialog.text
    digest = _DIGEST.search(dialog.text)
    assert digest
    approved = await web.post(
        f"/web/approvals/flows/{flow_id}/sign",
        {
            "decision": "approve",
            "password": vera.password,
            "username": "vera",
            "declaration": "true",
            "expected_digest": digest.group(1),
        },
        target="dialog-content",
    )
    assert approved.status_code == 200, approved.text
    assert len(await _identified(database)) == 1

    # Then the QC confirmation asks for the password only, and signs with it.
    tab = await web.get(f"{BASE}/{order_id}/quality")
    form = _confirm_form(tab.text, qc_id)
    assert 'name="password"' in form
    assert USERNAME_FIELD not in form
    signed = await _confirm(web, order_id, qc_id, vera.password)
    assert signed.status_code == 303, signed.text
    assert (await _records(client, plant, order_id))[0]["confirmed"] is True
    assert (await _lots(client, plant, order_id))[0]["status"]["slug"] == "ok"
    assert len(await _identified(database)) == 1


async def test_with_the_setting_off_the_qc_confirmation_never_asks(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    ok(await client.post("/api/config/", json={"signature_require_username": False}, headers=plant.admin.headers))
    order_id, (first, second) = await _order_with_qc(client, plant, lots=2)
    web = await sign_in(client, plant.qc)

    for qc_id in (first, second):
        tab = await web.get(f"{BASE}/{order_id}/quality")
        form = _confirm_form(tab.text, qc_id)
        assert 'name="password"' in form
        assert USERNAME_FIELD not in form
        signed = await _confirm(web, order_id, qc_id, plant.qc.password)
        assert signed.status_code == 303, signed.text
    assert all(r["confirmed"] for r in await _records(client, plant, order_id))
    assert await _identified(database) == []
