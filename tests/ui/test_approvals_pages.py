"""Approvals in the browser: the signature dialog (what is shown is what is signed), the approval
panel, My approvals and the approval templates admin (ui.md §5.6, §5.8, A5, F8)."""

import re
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.approval_http import row_counts, rows
from tests.factories.identity import make_user
from tests.factories.procurement import Plant, get_order, make_order, make_plant, ok, order_url
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

DECLARATION = "I understand this electronic signature is the legally binding equivalent of my handwritten signature."
_DIGEST = re.compile(r'name="expected_digest" value="([0-9a-f]{64})"')


async def _flow_of(client: httpx.AsyncClient, plant: Plant, order_id: int) -> dict[str, Any]:
    flows = ok(await client.get(f"/api/approvals/flows/object/purchase_order/{order_id}", headers=plant.admin.headers))
    assert flows["total"] == 1
    return dict(flows["items"][0])


async def _content(client: httpx.AsyncClient, plant: Plant, flow_id: int) -> dict[str, Any]:
    return dict(ok(await client.get(f"/api/approvals/flows/{flow_id}/content", headers=plant.admin.headers)))


async def _setup(client: httpx.AsyncClient, database: Database) -> tuple[Plant, dict[str, Any], dict[str, Any]]:
    plant = await make_plant(client, database)
    order = await make_order(client, plant)
    flow = await _flow_of(client, plant, order["id"])
    return plant, order, flow


async def _dialog(web: WebClient, flow_id: int, decision: str = "approve") -> httpx.Response:
    return await web.get(f"/web/approvals/flows/{flow_id}/sign?decision={decision}", target="dialog-content")


async def _switch(web: WebClient, user: Any) -> WebClient:
    """Sign out, then in as another user on the same browser."""
    assert (await web.post("/web/logout")).status_code == 303
    return await sign_in(web.client, user)


def _shown_digest(html: str) -> str:
    found = _DIGEST.search(html)
    assert found, html
    return found.group(1)


def _sign_form(web: WebClient, digest: str, password: str, **extra: str) -> dict[str, str]:
    """The dialog's fields; the username too (asked on the first signature of a session by default)."""
    assert web.user is not None
    return {
        "decision": "approve",
        "username": web.user.username,
        "password": password,
        "declaration": "true",
        "expected_digest": digest,
        **extra,
    }


async def _signatures(database: Database, flow_id: int) -> list[dict[str, Any]]:
    return await rows(database, "SELECT * FROM approval_signature WHERE flow_id = :f ORDER BY id", f=flow_id)


# --- The signature dialog ---------------------------------------------------------------------------


async def test_dialog_shows_the_content_its_digest_and_the_effect(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _setup(client, database)
    content = await _content(client, plant, flow["id"])
    web = await sign_in(client, plant.approver1)

    resp = await _dialog(web, flow["id"])

    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    html = resp.text
    assert "<html" not in html  # the fragment for #dialog-content
    assert 'id="dialog-title"' in html
    assert _shown_digest(html) == content["content_digest"]
    assert f'title="{content["content_digest"]}"' in html
    assert content["content_digest"][:12] in text_of(html)
    text = text_of(html)
    assert order["reference"] in text
    assert "0 of 2 required signatures done; with yours 1 of 2. The flow stays open." in text
    assert "Signing as" in text
    assert "(alex)" in text
    assert 'autocomplete="current-password"' in html
    assert DECLARATION in text
    assert "<details" in html
    assert '"lines"' in text
    assert 'value="approve" checked' in html
    assert f'href="/web/procurement/{order["id"]}"' in html


async def test_the_last_signer_is_told_the_order_becomes_issued(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _setup(client, database)
    ok(
        await client.post(
            f"/api/approvals/flows/{flow['id']}/sign",
            json={"password": plant.approver1.password},
            headers=plant.approver1.headers,
        )
    )
    web = await sign_in(client, plant.approver2)

    text = text_of((await _dialog(web, flow["id"])).text)

    assert f"Your signature completes the flow: Purchase order {order['reference']} becomes Issued." in text
    assert f"Your rejection closes the flow: Purchase order {order['reference']} becomes Refused." in text


async def test_the_dialog_without_htmx_is_a_full_page(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)

    resp = await web.get(f"/web/approvals/flows/{flow['id']}/sign")

    assert resp.status_code == 200
    assert "<html" in resp.text
    assert resp.text.count("<h1") == 1
    assert resp.headers["cache-control"] == "no-store"


async def test_success_stores_a_signature_over_the_digest_shown(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"])).text)

    resp = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign",
        _sign_form(web, digest, plant.approver1.password),
        target="dialog-content",
    )

    assert resp.status_code == 200, resp.text
    assert resp.headers["hx-trigger-after-settle"] == "df:refresh-main"  # the page refreshes its main region in place
    assert "data-df-close" in resp.text
    assert 'hx-swap-oob="beforeend:#toasts"' in resp.text
    assert "Signed as Approved. The approval of Purchase order" in text_of(resp.text)
    assert "is now In progress." in text_of(resp.text)
    signatures = await _signatures(database, flow["id"])
    assert len(signatures) == 1
    assert signatures[0]["content_digest"] == digest
    assert signatures[0]["user_id"] == plant.approver1.id
    assert signatures[0]["meaning"] == "approved"
    # The re-read panel shows the new state; the message was the toast, so no flash is left over.
    page = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    assert "Required 1 of 2" in text_of(page.text)
    inbox = await web.get("/web/approvals")
    assert "Signed as Approved" not in text_of(inbox.text)


async def test_the_completing_signature_issues_the_order_and_says_so(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _setup(client, database)
    ok(
        await client.post(
            f"/api/approvals/flows/{flow['id']}/sign",
            json={"password": plant.approver1.password},
            headers=plant.approver1.headers,
        )
    )
    web = await sign_in(client, plant.approver2)
    digest = _shown_digest((await _dialog(web, flow["id"])).text)

    # A plain form post (no htmx): back to the order's page.
    resp = await web.post(f"/web/approvals/flows/{flow['id']}/sign", _sign_form(web, digest, plant.approver2.password))

    assert resp.status_code == 303
    assert resp.headers["location"] == f"/web/procurement/{order['id']}"
    assert (await get_order(client, plant.admin, order["id"]))["state"] == "issued"
    inbox = await web.get("/web/approvals")
    assert f"Signed as Approved. Purchase order {order['reference']} is now Issued." in text_of(inbox.text)


async def test_wrong_password_is_422_stores_nothing_and_counts_as_a_failed_attempt(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, _order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"])).text)
    failures_before = await rows(database, "SELECT id FROM audit_entry WHERE action = 'auth.reauthentication_failed'")

    resp = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign",
        _sign_form(web, digest, "not-my-password", reason="looks fine"),
        target="dialog-content",
    )

    assert resp.status_code == 422
    assert "The password is not correct; nothing was signed." in text_of(resp.text)
    assert "not-my-password" not in resp.text
    assert re.search(r'name="password" type="password"(?![^>]*value=)', resp.text)
    assert 'aria-invalid="true"' in resp.text
    assert "looks fine" in resp.text  # the reason typed is kept
    assert await _signatures(database, flow["id"]) == []
    failures_after = await rows(database, "SELECT id FROM audit_entry WHERE action = 'auth.reauthentication_failed'")
    assert len(failures_after) == len(failures_before) + 1


async def test_missing_declaration_is_422_and_stores_nothing(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"])).text)
    before = await row_counts(database)
    form = _sign_form(web, digest, plant.approver1.password)
    del form["declaration"]

    resp = await web.post(f"/web/approvals/flows/{flow['id']}/sign", form, target="dialog-content")

    assert resp.status_code == 422
    assert "Confirm the declaration to sign." in text_of(resp.text)
    assert await row_counts(database) == before


async def test_reject_without_reason_is_422_and_stores_nothing(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"], "reject")).text)
    before = await row_counts(database)

    resp = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign",
        _sign_form(web, digest, plant.approver1.password, decision="reject", reason="   "),
        target="dialog-content",
    )

    assert resp.status_code == 422
    assert "A rejection needs a reason." in text_of(resp.text)
    assert await row_counts(database) == before
    assert (await get_order(client, plant.admin, order["id"]))["state"] == "pending"


async def test_reject_with_reason_refuses_the_order(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"], "reject")).text)

    resp = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign",
        _sign_form(web, digest, plant.approver1.password, decision="reject", reason="price too high"),
        target="dialog-content",
    )

    assert resp.status_code == 200, resp.text
    signatures = await _signatures(database, flow["id"])
    assert [(s["decision"], s["reason"]) for s in signatures] == [("reject", "price too high")]
    assert (await get_order(client, plant.admin, order["id"]))["state"] == "refused"


async def test_an_object_changed_after_the_dialog_opened_is_409_with_the_new_content(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    seen = _shown_digest((await _dialog(web, flow["id"])).text)
    ok(
        await client.patch(
            order_url(order["id"]), json={"description": "now 10 times more"}, headers=plant.buyer.headers
        )
    )
    current = (await _content(client, plant, flow["id"]))["content_digest"]
    assert current != seen
    before = await row_counts(database)

    resp = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign",
        _sign_form(web, seen, plant.approver1.password),
        target="dialog-content",
    )

    assert resp.status_code == 409
    text = text_of(resp.text)
    assert f"Purchase order {order['reference']} changed since you opened this dialog. Review it again." in text
    assert _shown_digest(resp.text) == current
    assert "now 10 times more" in text
    assert await row_counts(database) == before
    assert (await _flow_of(client, plant, order["id"]))["status"] == "pending"

    # Reviewed again: the new digest signs.
    again = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign",
        _sign_form(web, current, plant.approver1.password),
        target="dialog-content",
    )
    assert again.status_code == 200, again.text
    assert [s["content_digest"] for s in await _signatures(database, flow["id"])] == [current]


async def test_a_non_officer_sees_why_and_cannot_sign_by_posting(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _setup(client, database)
    outsider = await make_user(database, username="olga", permissions=["approval.sign", "approval.view"])
    web = await sign_in(client, outsider)
    digest = (await _content(client, plant, flow["id"]))["content_digest"]

    panel = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    assert panel.status_code == 200
    assert f'id="approval-panel-purchase_order-{order["id"]}"' in panel.text
    assert "You are not an officer of this flow" in text_of(panel.text)
    assert "/sign?decision=approve" not in panel.text
    dialog = await _dialog(web, flow["id"])
    assert dialog.status_code == 200
    assert "You are not an officer of this flow" in text_of(dialog.text)
    assert 'name="password"' not in dialog.text
    before = await row_counts(database)

    resp = await web.post(
        f"/web/approvals/flows/{flow['id']}/sign", _sign_form(web, digest, outsider.password), target="dialog-content"
    )

    assert resp.status_code in (403, 409)
    assert "You are not an officer of this flow" in text_of(resp.text)
    counts = await row_counts(database)
    assert (counts["approval_signature"], counts["approval_flow"]) == (
        before["approval_signature"],
        before["approval_flow"],
    )


async def test_without_the_sign_permission_posting_is_403(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, flow = await _setup(client, database)
    viewer = await make_user(database, username="vera", permissions=["approval.view"])
    web = await sign_in(client, viewer)
    digest = (await _content(client, plant, flow["id"]))["content_digest"]

    resp = await web.post(f"/web/approvals/flows/{flow['id']}/sign", _sign_form(web, digest, viewer.password))

    assert resp.status_code == 403
    assert await _signatures(database, flow["id"]) == []


async def test_signing_twice_is_refused_with_the_reason(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"])).text)
    form = _sign_form(web, digest, plant.approver1.password)
    assert (await web.post(f"/web/approvals/flows/{flow['id']}/sign", form, target="dialog-content")).status_code == 200

    again = await web.post(f"/web/approvals/flows/{flow['id']}/sign", form, target="dialog-content")

    assert again.status_code == 409
    assert "Already signed by you" in text_of(again.text)
    assert len(await _signatures(database, flow["id"])) == 1


async def test_unknown_flow_is_404(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, _flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)

    assert (await web.get("/web/approvals/flows/999999/sign")).status_code == 404


# --- The approval panel --------------------------------------------------------------------------------


async def test_the_panel_shows_officers_progress_and_verified_signatures(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, order, flow = await _setup(client, database)
    ok(
        await client.post(
            f"/api/approvals/flows/{flow['id']}/sign",
            json={"password": plant.approver1.password},
            headers=plant.approver1.headers,
        )
    )
    web = await sign_in(client, plant.approver2)

    resp = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")

    assert resp.status_code == 200
    text = text_of(resp.text)
    assert "Required 1 of 2" in text
    assert "Person: alex · must sign" in text
    assert "Signed by Alex Tester" in text
    assert "Signature verified" in text
    assert f'href="/web/approvals/flows/{flow["id"]}/sign?decision=approve"' in resp.text
    assert "data-df-dialog" in resp.text

    own = await _switch(web, plant.approver1)
    mine = await own.get(f"/web/approvals/panel/purchase_order/{order['id']}")
    assert "Already signed by you" in text_of(mine.text)


async def test_the_panel_of_an_object_without_a_flow_says_so(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database, with_template=False)
    order = await make_order(client, plant)
    web = await sign_in(client, plant.approver1)

    resp = await web.get(f"/web/approvals/panel/purchase_order/{order['id']}")

    assert resp.status_code == 200
    assert f'id="approval-panel-purchase_order-{order["id"]}"' in resp.text
    assert "No approval has been started" in text_of(resp.text)
    assert (await web.get("/web/approvals/panel/no.such_type/1")).status_code == 422


# --- My approvals ------------------------------------------------------------------------------------


async def test_my_approvals_lists_what_waits_for_me(client: httpx.AsyncClient, database: Database) -> None:
    plant, order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)

    page = await web.get("/web/approvals")

    assert page.status_code == 200
    assert f'data-flow="{flow["id"]}"' in page.text
    assert f"Purchase order {order['reference']}" in text_of(page.text)
    assert f'hx-get="/web/approvals/flows/{flow["id"]}/sign"' in page.text

    outsider = await make_user(database, username="olga", permissions=["approval.sign", "approval.view"])
    other = await _switch(web, outsider)
    assert f'data-flow="{flow["id"]}"' not in (await other.get("/web/approvals")).text


async def test_my_approvals_without_the_sign_permission_says_so(client: httpx.AsyncClient, database: Database) -> None:
    plant, _order, _flow = await _setup(client, database)
    web = await sign_in(client, plant.buyer)  # no approval permission at all

    page = await web.get("/web/approvals")

    assert page.status_code == 200
    assert "You do not sign approvals" in text_of(page.text)
    assert "data-flow=" not in page.text


# --- Approval templates -----------------------------------------------------------------------------


async def _admin_web(client: httpx.AsyncClient, database: Database) -> tuple[Plant, WebClient]:
    plant = await make_plant(client, database, with_template=False)
    return plant, await sign_in(client, plant.admin)


async def test_template_create_edit_and_retire(client: httpx.AsyncClient, database: Database) -> None:
    plant, web = await _admin_web(client, database)
    form = await web.get("/web/admin/approval-templates/new")
    assert form.status_code == 200
    assert f'value="user:{plant.approver1.id}"' in form.text

    created = await web.post(
        "/web/admin/approval-templates",
        {
            "object_type": "purchase_order",
            "name": "PO approval",
            "officers-0-who": f"user:{plant.approver1.id}",
            "officers-0-action": "must_sign",
            "officers-2-who": f"user:{plant.approver2.id}",
            "officers-2-action": "can_sign",
            "min_signatures": "1",
            "is_active": "true",
        },
    )
    assert created.status_code == 303, created.text
    template_id = int(created.headers["location"].rsplit("/", 1)[1])
    stored = ok(await client.get(f"/api/approvals/templates/{template_id}", headers=plant.admin.headers))
    assert [(o["user_id"], o["action"]) for o in stored["officers"]] == [
        (plant.approver1.id, "must_sign"),
        (plant.approver2.id, "can_sign"),
    ]
    assert stored["min_signatures"] == 1
    assert stored["is_active"]

    listing = await web.get("/web/admin/approval-templates")
    assert "PO approval" in listing.text

    edited = await web.post(
        f"/web/admin/approval-templates/{template_id}",
        {
            "name": "PO approval v2",
            "officers-0-who": f"user:{plant.approver2.id}",
            "officers-0-action": "must_sign",
            "min_signatures": "0",
            "is_active": "true",
        },
    )
    assert edited.status_code == 303, edited.text
    stored = ok(await client.get(f"/api/approvals/templates/{template_id}", headers=plant.admin.headers))
    assert stored["name"] == "PO approval v2"
    assert [o["user_id"] for o in stored["officers"]] == [plant.approver2.id]

    retired = await web.post(f"/web/admin/approval-templates/{template_id}/retire", {})
    assert retired.status_code == 303
    gone = await client.get(f"/api/approvals/templates/{template_id}", headers=plant.admin.headers)
    assert gone.status_code == 404


async def test_retiring_a_used_template_deactivates_it(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    await make_order(client, plant)  # a flow now comes from the template
    web = await sign_in(client, plant.admin)

    resp = await web.post(f"/web/admin/approval-templates/{plant.template_id}/retire", {})

    assert resp.status_code == 303
    stored = ok(await client.get(f"/api/approvals/templates/{plant.template_id}", headers=plant.admin.headers))
    assert stored["is_active"] is False


@pytest.mark.parametrize(
    ("officers", "message"),
    [
        ({}, "Name at least one officer."),
        ({"officers-0-who": "user:{a}", "officers-1-who": "user:{a}"}, "repeats user"),
        ({"officers-0-who": "user:999999"}, "does not exist"),
        ({"officers-0-who": "nobody"}, "Choose one of the options."),
    ],
)
async def test_invalid_officers_are_422_with_the_values_kept(
    client: httpx.AsyncClient, database: Database, officers: dict[str, str], message: str
) -> None:
    plant, web = await _admin_web(client, database)
    before = await row_counts(database)
    data = {k: v.format(a=plant.approver1.id) for k, v in officers.items()}
    data |= {k.replace("-who", "-action"): "must_sign" for k in officers}

    resp = await web.post(
        "/web/admin/approval-templates", {"object_type": "purchase_order", "name": "Kept name", **data}
    )

    assert resp.status_code == 422, resp.text
    assert message in text_of(resp.text)
    assert 'value="Kept name"' in resp.text
    assert (await row_counts(database))["approval_template"] == before["approval_template"]


async def test_editing_with_invalid_officers_is_422_and_changes_nothing(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    web = await sign_in(client, plant.admin)
    before = ok(await client.get(f"/api/approvals/templates/{plant.template_id}", headers=plant.admin.headers))

    resp = await web.post(
        f"/web/admin/approval-templates/{plant.template_id}",
        {"name": "Changed", "min_signatures": "3", "officers-0-who": f"user:{plant.approver1.id}",
         "officers-0-action": "must_sign"},
    )  # fmt: skip

    assert resp.status_code == 422
    after = ok(await client.get(f"/api/approvals/templates/{plant.template_id}", headers=plant.admin.headers))
    assert after == before


async def test_template_pages_need_the_permission(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    web = await sign_in(client, plant.approver1)  # approval.view, not templates.manage

    assert (await web.get("/web/admin/approval-templates")).status_code == 200
    detail = await web.get(f"/web/admin/approval-templates/{plant.template_id}")
    assert detail.status_code == 200
    # Read-only: nothing is offered that would be refused.
    assert f'action="/web/admin/approval-templates/{plant.template_id}' not in detail.text
    assert (await web.get("/web/admin/approval-templates/new")).status_code == 403
    resp = await web.post(f"/web/admin/approval-templates/{plant.template_id}/retire", {})
    assert resp.status_code == 403
    stored = ok(await client.get(f"/api/approvals/templates/{plant.template_id}", headers=plant.admin.headers))
    assert stored["is_active"] is True


async def test_too_many_wrong_passwords_lock_the_account_and_end_the_session(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant, _order, flow = await _setup(client, database)
    web = await sign_in(client, plant.approver1)
    digest = _shown_digest((await _dialog(web, flow["id"])).text)
    form = _sign_form(web, digest, "not-my-password")

    statuses = []
    for _attempt in range(6):
        resp = await web.post(f"/web/approvals/flows/{flow['id']}/sign", form, target="dialog-content")
        statuses.append(resp.status_code)
        if "hx-redirect" in resp.headers:
            break

    assert resp.headers.get("hx-redirect") == "/web/login", statuses
    assert statuses[:-1] == [422] * (len(statuses) - 1)
    assert await _signatures(database, flow["id"]) == []
    after = await client.get("/web/dashboard")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/web/login")
    login = await client.get("/web/login")
    assert "your account is locked" in text_of(login.text)
