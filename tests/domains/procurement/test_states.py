"""Signatures and the purchase order's states over HTTP: signing needs lines, the signer's password
and happens once; a rejection refuses the order; explicit transitions need a known state, the right
source state, their permission and a reason; terminal states stay; withdrawn signatures reopen an
issued order only while nothing was received."""

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user
from tests.factories.procurement import (
    APPROVER,
    BUYER,
    Plant,
    bare_order,
    get_order,
    issue,
    issued_order,
    line_ids,
    make_order,
    make_plant,
    ok,
    order_url,
    receipt,
    receive,
    received,
    refused,
    reverse,
    row_counts,
    sign,
    snapshot,
    state_change,
    withdraw,
)

pytestmark = pytest.mark.anyio

TERMINAL_TARGETS = ("cancelled", "refused", "finished", "pending", "issued", "receiving")


async def _manager(database: Database) -> MadeUser:
    """Refuses and finishes orders (but may not cancel other people's)."""
    return await make_user(
        database,
        username="mara",
        permissions=["procurement.view", "procurement.refuse", "procurement.finish", "procurement.reverse_receipt"],
    )


async def _flow(client: httpx.AsyncClient, plant: Plant, order_id: int) -> dict[str, object]:
    flow: dict[str, object] = ok(await client.get(order_url(order_id, "/approval-flow"), headers=plant.admin.headers))
    return flow


async def _stays(client: httpx.AsyncClient, database: Database, plant: Plant, order_id: int, state: str) -> None:
    """Every explicit transition out of a terminal state is refused and changes nothing."""
    before = await snapshot(client, database, plant.admin, order_id)
    assert before["order"]["state"] == state
    assert before["order"]["allowed_transitions"] == []
    for target in TERMINAL_TARGETS:
        response = await state_change(client, plant.admin, order_id, target, "one more try")
        problem = refused(response, 409, "procurement.transition_not_allowed")
        assert problem["details"]["from"] == state, target
    assert await snapshot(client, database, plant.admin, order_id) == before


async def test_signing_needs_lines_the_signers_password_and_happens_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    outsider = await make_user(database, username="sam", permissions=APPROVER)
    empty = await bare_order(client, plant)
    counts = await row_counts(database)

    refused(await sign(client, empty["id"], plant.approver1), 409, "approval.signing_refused")
    assert await row_counts(database) == counts

    order = await make_order(client, plant)
    oid = order["id"]
    before = await snapshot(client, database, plant.admin, oid)
    flow_before = await _flow(client, plant, oid)
    wrong = await sign(client, oid, plant.approver1, password="not-my-password")
    refused(wrong, 422, "identity.password_rejected")
    assert "not-my-password" not in wrong.text
    after = await snapshot(client, database, plant.admin, oid)
    # Only the failed re-authentication is recorded (for the lockout); no signature, no change.
    assert after["rows"] == {**before["rows"], "audit_entry": before["rows"]["audit_entry"] + 1}
    assert (after["order"], after["lines"]) == (before["order"], before["lines"])
    assert await _flow(client, plant, oid) == flow_before
    [failure] = await entries(database, action="auth.reauthentication_failed")
    assert failure["actor_user_id"] == plant.approver1.id

    for body in ({"password": ""}, {"decision": "reject"}, {"decision": "reject", "reason": "  "}, {"user_id": 1}):
        refused(await sign(client, oid, plant.approver1, **body), 422, "request.validation_failed")
    refused(await sign(client, oid, outsider), 403, "approval.not_an_officer")
    assert (await snapshot(client, database, plant.admin, oid))["rows"] == after["rows"]

    flow = ok(await sign(client, oid, plant.approver1))
    assert flow["status"] == "in_progress"
    assert [s["user_id"] for s in flow["signatures"]] == [plant.approver1.id]
    signed = await row_counts(database)
    refused(await sign(client, oid, plant.approver1), 409, "approval.already_signed")
    assert await row_counts(database) == signed
    assert (await get_order(client, plant.buyer, oid))["state"] == "pending"


async def test_an_officers_rejection_refuses_the_order_with_their_reason(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    ok(await sign(client, oid, plant.approver1))

    flow = ok(await sign(client, oid, plant.approver2, decision="reject", reason="Price 20% above the contract"))

    assert flow["status"] == "rejected"
    detail = await get_order(client, plant.buyer, oid)
    assert detail["state"] == "refused"
    assert detail["close_reason"] == "Price 20% above the contract"
    assert detail["closed_by_id"] == plant.approver2.id
    assert detail["closed_at"] is not None
    assert (detail["editable"], detail["approval_status"]) == (False, "rejected")
    before = await row_counts(database)
    refused(await sign(client, oid, plant.approver1), 409, "approval.flow_closed")
    refused(await receive(client, plant, oid, receipt(1, "1")), 409, "procurement.not_receivable")
    assert await row_counts(database) == before
    await _stays(client, database, plant, oid, "refused")


async def test_explicit_transitions_need_a_known_state_the_right_source_a_reason_and_the_permission(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    manager = await _manager(database)
    colleague = await make_user(database, username="bob", permissions=BUYER)
    order = await make_order(client, plant)
    oid = order["id"]
    ok(await sign(client, oid, plant.approver1))
    before = await snapshot(client, database, plant.admin, oid)

    for name in ("shipped", "Cancelled!", "0", "pending issued"):
        problem = refused(await state_change(client, plant.admin, oid, name, "x"), 422, "procurement.unknown_state")
        assert problem["details"]["known"] == ["pending", "issued", "receiving", "finished", "cancelled", "refused"]
    refused(await state_change(client, plant.admin, oid, "", "x"), 422, "request.validation_failed")
    refused(await state_change(client, plant.admin, oid, "x" * 41, "x"), 422, "request.validation_failed")
    refused(
        await client.patch(order_url(oid, "/state"), params={"reason": "x"}, headers=plant.admin.headers),
        422,
        "request.validation_failed",
    )
    for name in ("issued", "ISSUED", "receiving", "processing", "pending", "finished"):
        problem = refused(
            await state_change(client, plant.admin, oid, name, "x"), 409, "procurement.transition_not_allowed"
        )
        assert problem["details"]["from"] == "pending"
    for reason in (None, "", "   "):
        refused(await state_change(client, plant.buyer, oid, "cancelled", reason), 422, "procurement.reason_required")
        refused(await state_change(client, manager, oid, "refused", reason), 422, "procurement.reason_required")
    refused(await state_change(client, plant.buyer, oid, "cancelled", "r" * 2001), 422, "request.validation_failed")
    for user, target, permission in [
        (colleague, "cancelled", "procurement.cancel"),
        (colleague, "refused", "procurement.refuse"),
        (plant.buyer, "refused", "procurement.refuse"),
        (manager, "cancelled", "procurement.cancel"),
        (plant.approver1, "cancelled", "procurement.cancel"),
    ]:
        problem = refused(await state_change(client, user, oid, target, "because"), 403, "permission_denied")
        assert problem["details"] == {"permission": permission}
    assert await snapshot(client, database, plant.admin, oid) == before

    # The creator cancels their own order, in the original's spelling; the flow is cancelled with it.
    cancelled = ok(await state_change(client, plant.buyer, oid, "Canceled", "  Supplier out of stock "))
    assert cancelled["state"] == "cancelled"
    assert (cancelled["close_reason"], cancelled["closed_by_id"]) == ("Supplier out of stock", plant.buyer.id)
    assert cancelled["closed_at"] is not None
    assert cancelled["approval_status"] == "cancelled"
    flow = await _flow(client, plant, oid)
    assert (flow["status"], flow["cancelled_reason"]) == ("cancelled", "Supplier out of stock")
    update = (await entries(database, action="procurement_order.update", entity_id=str(oid)))[-1]
    assert update["changes"]["after"]["state"] == "cancelled"
    assert update["reason"] == "Supplier out of stock"
    assert update["actor_user_id"] == plant.buyer.id

    after = await row_counts(database)
    refused(await sign(client, oid, plant.approver2), 409, "approval.flow_closed")
    refused(await withdraw(client, plant.admin, oid, plant.approver1.id), 409, "approval.flow_closed")
    assert await row_counts(database) == after
    await _stays(client, database, plant, oid, "cancelled")


async def test_cancelling_is_for_the_creator_or_procurement_cancel(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database, with_template=False)
    canceller = await make_user(database, username="cid", permissions=["procurement.view", "procurement.cancel"])
    mine = await make_order(client, plant)
    theirs = await make_order(client, plant)

    by_creator = ok(await state_change(client, plant.buyer, mine["id"], "cancelled", "typo"))
    by_permission = ok(await state_change(client, canceller, theirs["id"], "CANCELLED", "duplicate of PO-0001"))

    assert (by_creator["state"], by_creator["approval_status"]) == ("cancelled", None)
    assert (by_permission["state"], by_permission["closed_by_id"]) == ("cancelled", canceller.id)


async def test_an_issued_order_is_refused_with_a_reason_and_stays_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    manager = await _manager(database)
    order = await issued_order(client, plant)
    oid = order["id"]
    before = await snapshot(client, database, plant.admin, oid)

    refused(await state_change(client, plant.buyer, oid, "refused", "too late"), 403, "permission_denied")
    refused(
        await state_change(client, plant.buyer, oid, "cancelled", "too late"), 409, "procurement.transition_not_allowed"
    )
    refused(await state_change(client, manager, oid, "refused"), 422, "procurement.reason_required")
    assert await snapshot(client, database, plant.admin, oid) == before

    done = ok(await state_change(client, manager, oid, "refused", "Supplier lost its GMP certificate"))

    assert (done["state"], done["close_reason"], done["closed_by_id"]) == (
        "refused",
        "Supplier lost its GMP certificate",
        manager.id,
    )
    assert done["approval_status"] == "approved"  # the signatures stand; the order was refused afterwards
    [line] = await line_ids(client, plant, oid)
    refused(await receive(client, plant, oid, receipt(line, "1")), 409, "procurement.not_receivable")
    await _stays(client, database, plant, oid, "refused")
    # Withdrawing a signature does not bring back an order somebody refused by hand.
    before = await snapshot(client, database, plant.admin, oid)
    refused(await withdraw(client, plant.admin, oid, plant.approver1.id), 409, "approval.withdrawal_refused")
    assert await snapshot(client, database, plant.admin, oid) == before


async def test_a_receiving_order_is_finished_short_with_a_reason(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    manager = await _manager(database)
    order = await issued_order(client, plant, lines=[(plant.part_id, "100"), (plant.untested_part_id, "40")])
    oid = order["id"]
    first, second = await line_ids(client, plant, oid)
    await received(client, plant, oid, receipt(first, "60"))
    await received(client, plant, oid, receipt(second, "40", expiry_date=None))
    before = await snapshot(client, database, plant.admin, oid)
    assert (before["order"]["state"], before["order"]["fully_received_line_count"]) == ("receiving", 1)

    refused(await state_change(client, plant.buyer, oid, "finished", "short"), 403, "permission_denied")
    refused(await state_change(client, manager, oid, "finished"), 422, "procurement.reason_required")
    refused(await state_change(client, manager, oid, "finished", " "), 422, "procurement.reason_required")
    refused(await state_change(client, manager, oid, "cancelled", "x"), 409, "procurement.transition_not_allowed")
    assert await snapshot(client, database, plant.admin, oid) == before

    done = ok(await state_change(client, manager, oid, "finished", "Supplier delivered 60 of 100; rest cancelled"))

    assert (done["state"], done["closed_by_id"]) == ("finished", manager.id)
    assert done["close_reason"] == "Supplier delivered 60 of 100; rest cancelled"
    refused(await receive(client, plant, oid, receipt(first, "40")), 409, "procurement.not_receivable")
    await _stays(client, database, plant, oid, "finished")


async def test_an_issued_order_with_nothing_received_can_be_finished_with_a_reason(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    manager = await _manager(database)
    order = await issued_order(client, plant)

    refused(await state_change(client, manager, order["id"], "finished"), 422, "procurement.reason_required")
    done = ok(await state_change(client, manager, order["id"], "finished", "Delivered under PO-0002"))

    assert (done["state"], done["close_reason"]) == ("finished", "Delivered under PO-0002")


async def test_withdrawn_signatures_take_an_issued_order_back_to_pending(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    oid = order["id"]
    before = await snapshot(client, database, plant.admin, oid)

    for reason in (None, "", "   "):
        refused(await withdraw(client, plant.admin, oid, plant.approver1.id, reason), 422, "request.validation_failed")
    refused(await withdraw(client, plant.admin, oid, plant.operator.id), 404, "approval.signature_not_found")
    refused(await withdraw(client, plant.approver2, oid, plant.approver1.id), 403, "permission_denied")
    assert await snapshot(client, database, plant.admin, oid) == before

    flow = ok(await withdraw(client, plant.admin, oid, plant.approver1.id, "Quantity must be re-checked"))
    assert flow["status"] == "in_progress"
    [withdrawn] = [s for s in flow["signatures"] if s["user_id"] == plant.approver1.id]
    assert withdrawn["withdrawn_reason"] == "Quantity must be re-checked"
    detail = await get_order(client, plant.buyer, oid)
    assert (detail["state"], detail["issued_at"], detail["editable"]) == ("pending", None, False)
    refused(
        await client.patch(order_url(oid), json={"notes": "x"}, headers=plant.buyer.headers),
        409,
        "procurement.order_locked",
    )
    refused(await receive(client, plant, oid, receipt(1, "1")), 409, "procurement.not_receivable")

    flow = ok(await withdraw(client, plant.admin, oid, plant.approver2.id, "Quantity must be re-checked"))
    assert flow["status"] == "pending"
    detail = await get_order(client, plant.buyer, oid)
    assert (detail["state"], detail["editable"], detail["approval_status"]) == ("pending", True, "pending")
    [line] = await line_ids(client, plant, oid)
    ok(await client.put(order_url(oid, f"/items/{line}"), json={"quantity": "80"}, headers=plant.buyer.headers))

    # Signed again, on the new content.
    await issue(client, plant, oid)
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"
    flow = await _flow(client, plant, oid)
    verification = ok(await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=plant.admin.headers))
    assert verification["ok"] is True


async def test_signatures_stay_once_goods_were_received(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    manager = await _manager(database)
    order = await issued_order(client, plant)
    oid = order["id"]
    [line] = await line_ids(client, plant, oid)
    lot = await received(client, plant, oid, receipt(line, "30"))
    before = await snapshot(client, database, plant.admin, oid)
    flow_before = await _flow(client, plant, oid)

    response = await withdraw(client, plant.admin, oid, plant.approver1.id)

    refused(response, 409, "approval.withdrawal_refused")
    assert await snapshot(client, database, plant.admin, oid) == before
    assert await _flow(client, plant, oid) == flow_before

    # Once the receipt is reversed nothing was received after all: the signatures may go.
    ok(await reverse(client, manager, lot["id"]))
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"
    ok(await withdraw(client, plant.admin, oid, plant.approver1.id))
    assert (await get_order(client, plant.buyer, oid))["state"] == "pending"


async def test_withdrawing_a_rejection_reopens_the_refused_order(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    oid = order["id"]
    ok(await sign(client, oid, plant.approver1, decision="reject", reason="Wrong supplier"))
    assert (await get_order(client, plant.buyer, oid))["state"] == "refused"

    flow = ok(await withdraw(client, plant.admin, oid, plant.approver1.id, "Rejected the wrong order"))

    assert flow["status"] == "pending"
    detail = await get_order(client, plant.buyer, oid)
    assert (detail["state"], detail["close_reason"], detail["closed_at"]) == ("pending", None, None)
    await issue(client, plant, oid)
    assert (await get_order(client, plant.buyer, oid))["state"] == "issued"
