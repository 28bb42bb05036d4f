"""Who signs (ui.md §5.6): "Signing as …" with a sign-out form beside the signature dialog, and the
21 CFR Part 11 §11.200(a)(1) setting `signature_require_username` (the first signature of a browser
session also asks for the username)."""

import json
import re
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.approval_http import row_counts, rows
from tests.factories.procurement import Plant, make_order, make_plant, ok
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

_DIGEST = re.compile(r'name="expected_digest" value="([0-9a-f]{64})"')
USERNAME_FIELD = 'name="username"'


async def _flow_id(client: httpx.AsyncClient, plant: Plant) -> int:
    order = await make_order(client, plant)
    flows = ok(
        await client.get(f"/api/approvals/flows/object/purchase_order/{order['id']}", headers=plant.admin.headers)
    )
    return int(flows["items"][0]["id"])


async def _dialog(web: WebClient, flow_id: int) -> str:
    resp = await web.get(f"/web/approvals/flows/{flow_id}/sign?decision=approve", target="dialog-content")
    assert resp.status_code == 200, resp.text
    return resp.text


async def _sign(web: WebClient, flow_id: int, password: str, **extra: str) -> httpx.Response:
    found = _DIGEST.search(await _dialog(web, flow_id))
    assert found
    form = {"decision": "approve", "password": password, "declaration": "true", "expected_digest": found.group(1)}
    return await web.post(f"/web/approvals/flows/{flow_id}/sign", {**form, **extra}, target="dialog-content")


async def _signatures(database: Database, flow_id: int) -> list[dict[str, Any]]:
    return await rows(database, "SELECT user_id FROM approval_signature WHERE flow_id = :f", f=flow_id)


async def _identified(database: Database) -> list[dict[str, Any]]:
    return await rows(
        database,
        "SELECT entity_type, entity_id, actor_username FROM audit_entry WHERE action = 'approval.signer_identified'",
    )


async def test_the_dialog_names_the_signer_and_offers_a_separate_sign_out_form(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    flow_id = await _flow_id(client, plant)
    web = await sign_in(client, plant.approver1)

    html = await _dialog(web, flow_id)

    assert re.search(r"Signing as \S.* \(alex\)", text_of(html))
    sign_form_end = html.index("</form>", html.index('class="df-signature-form"'))
    logout = html.index('action="/web/logout"')
    assert logout > sign_form_end  # its own form, after the sign form (forms cannot nest)
    logout_form = html[html.rindex("<form", 0, logout) : html.index("</form>", logout)]
    assert 'method="post"' in logout_form
    assert f'name="csrf_token" value="{web.csrf}"' in logout_form
    assert "Not you?" in text_of(html)
    assert "Sign out" in text_of(logout_form)

    signed_out = await web.post("/web/logout", {})
    assert signed_out.status_code == 303
    assert (await client.get("/web/approvals")).status_code == 303  # back to the login page


async def test_the_first_signature_of_a_session_needs_the_username_and_the_next_does_not(
    client: httpx.AsyncClient, database: Database
) -> None:
    plant = await make_plant(client, database)
    first, second, third = [await _flow_id(client, plant) for _ in range(3)]
    web = await sign_in(client, plant.approver1)
    html = await _dialog(web, first)
    assert USERNAME_FIELD in html
    assert 'autocomplete="username"' in html

    # Missing: a plain validation error, nothing counted.
    before = await row_counts(database)
    missing = await _sign(web, first, plant.approver1.password)
    assert missing.status_code == 422
    assert re.search(r'name="username"[^>]*aria-invalid="true"', missing.text)
    assert await row_counts(database) == before

    # Another user's name with the right password: refused, counted like a wrong password (for the
    # signed-in account, never for the account named), nothing signed.
    wrong = await _sign(web, first, plant.approver1.password, username="ana")
    assert wrong.status_code == 422
    assert 'data-df-error-code="approval.username_mismatch"' in wrong.text
    assert "This is not the username you signed in with; nothing was signed." in text_of(wrong.text)
    assert plant.approver1.password not in wrong.text
    assert re.search(r'name="password" type="password"(?![^>]*value=)', wrong.text)
    assert await _signatures(database, first) == []
    counted = await row_counts(database)
    assert counted == {**before, "audit_entry": before["audit_entry"] + 1}
    [failure] = await rows(
        database, "SELECT actor_username, details FROM audit_entry WHERE action = 'auth.reauthentication_failed'"
    )
    assert failure["actor_username"] == "alex"
    assert json.loads(failure["details"])["reason"] == "username_mismatch"
    throttles = await rows(database, "SELECT key FROM identity_login_throttle WHERE kind = 'user'")
    assert [t["key"] for t in throttles] == ["alex"]
    assert await _identified(database) == []

    # The right username, in any case: signed, and the session is marked as identified.
    right = await _sign(web, first, plant.approver1.password, username="ALEX")
    assert right.status_code == 200, right.text
    assert await _signatures(database, first) == [{"user_id": plant.approver1.id}]
    [identified] = await _identified(database)
    assert (identified["entity_type"], identified["actor_username"]) == ("identity_token", "alex")

    # The second signature of the same session: the password only.
    html = await _dialog(web, second)
    assert USERNAME_FIELD not in html
    again = await _sign(web, second, plant.approver1.password)
    assert again.status_code == 200, again.text
    assert await _signatures(database, second) == [{"user_id": plant.approver1.id}]
    assert len(await _identified(database)) == 1

    # A new session starts over.
    assert (await web.post("/web/logout", {})).status_code == 303
    fresh = await sign_in(client, plant.approver1)
    assert USERNAME_FIELD in await _dialog(fresh, third)
    refused = await _sign(fresh, third, plant.approver1.password)
    assert refused.status_code == 422
    assert await _signatures(database, third) == []


async def test_with_the_setting_off_the_username_is_never_asked(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    ok(await client.post("/api/config/", json={"signature_require_username": False}, headers=plant.admin.headers))
    flow_id = await _flow_id(client, plant)
    web = await sign_in(client, plant.approver1)

    html = await _dialog(web, flow_id)
    assert USERNAME_FIELD not in html
    assert "Signing as" in text_of(html)
    resp = await _sign(web, flow_id, plant.approver1.password)

    assert resp.status_code == 200, resp.text
    assert await _signatures(database, flow_id) == [{"user_id": plant.approver1.id}]
    assert await _identified(database) == []
