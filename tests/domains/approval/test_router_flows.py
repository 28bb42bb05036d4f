"""HTTP contract of /api/approvals flows: create, list, per object, pending, withdraw, verify; bad input."""

from datetime import datetime
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.approval_http import (
    ALL_APPROVAL,
    BASE,
    SIGNER,
    create_template,
    role_officer,
    row_counts,
    sign,
    start_flow,
    user_officer,
    withdraw,
)
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user, role_id

pytestmark = pytest.mark.anyio

MAX_ID = 2**63 - 1


async def _setup(client: httpx.AsyncClient, database: Database) -> tuple[MadeUser, MadeUser, int]:
    """A manager holding every approval permission, a signer, and a template naming both (must_sign)."""
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    signer = await make_user(database, username="sid", permissions=SIGNER)
    template = await create_template(client, manager, officers=[user_officer(manager), user_officer(signer)])
    return manager, signer, int(template["id"])


async def test_flow_routes_need_a_token(client: httpx.AsyncClient, database: Database) -> None:
    attempts = [
        ("GET", f"{BASE}/flows", None),
        ("POST", f"{BASE}/flows", {"object_type": "identity.role", "object_id": 1}),
        ("GET", f"{BASE}/flows/object/identity.role/1", None),
        ("GET", f"{BASE}/flows/1", None),
        ("POST", f"{BASE}/flows/1/sign", {"password": "x"}),
        ("DELETE", f"{BASE}/flows/1/signatures/1", {"reason": "x"}),
        ("GET", f"{BASE}/flows/1/verify", None),
        ("GET", f"{BASE}/pending", None),
    ]
    before = await row_counts(database)

    for method, url, body in attempts:
        response = await client.request(method, url, json=body)
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "auth.not_authenticated", (method, url)
        bad_token = await client.request(method, url, json=body, headers={"Authorization": "Bearer nope"})
        assert bad_token.status_code == 401, (method, url)

    assert await row_counts(database) == before


async def test_flow_routes_refuse_users_without_the_permission(client: httpx.AsyncClient, database: Database) -> None:
    manager, signer, _ = await _setup(client, database)
    flow = await start_flow(client, manager, await role_id(database, "manager"))
    assert (await sign(client, signer, flow["id"])).status_code == 200
    nobody = await make_user(database, username="nora", permissions=[])
    viewer = await make_user(database, username="vic", permissions=["approval.view"])
    fid = flow["id"]
    attempts = [
        (nobody, "GET", f"{BASE}/flows", None, "approval.view"),
        (nobody, "GET", f"{BASE}/flows/object/identity.role/1", None, "approval.view"),
        (nobody, "GET", f"{BASE}/flows/{fid}", None, "approval.view"),
        (nobody, "GET", f"{BASE}/flows/{fid}/verify", None, "approval.view"),
        (viewer, "POST", f"{BASE}/flows", {"object_type": "identity.role", "object_id": 1}, "approval.create"),
        (signer, "POST", f"{BASE}/flows", {"object_type": "identity.role", "object_id": 1}, "approval.create"),
        (viewer, "POST", f"{BASE}/flows/{fid}/sign", {"password": "x"}, "approval.sign"),
        (viewer, "GET", f"{BASE}/pending", None, "approval.sign"),
        (viewer, "DELETE", f"{BASE}/flows/{fid}/signatures/{signer.id}", {"reason": "x"}, "approval.withdraw"),
        (signer, "DELETE", f"{BASE}/flows/{fid}/signatures/{signer.id}", {"reason": "x"}, "approval.withdraw"),
    ]
    before = await row_counts(database)

    for made, method, url, body, permission in attempts:
        response = await client.request(method, url, json=body, headers=made.headers)
        assert response.status_code == 403, (made.username, method, url)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["details"] == {"required_permission": permission}

    assert await row_counts(database) == before
    for url in (f"{BASE}/flows", f"{BASE}/flows/{fid}", f"{BASE}/flows/{fid}/verify"):
        assert (await client.get(url, headers=viewer.headers)).status_code == 200


async def test_starting_a_flow_copies_the_template_and_describes_the_object(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signer, template_id = await _setup(client, database)
    manager_role = await role_id(database, "manager")

    response = await client.post(
        f"{BASE}/flows",
        json={"object_type": "identity.role", "object_id": manager_role},
        headers={**manager.headers, "X-Request-Id": "flow-create-0001"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: v for k, v in body.items() if k not in ("created_at", "updated_at")} == {
        "id": body["id"],
        "object_type": "identity.role",
        "object_id": manager_role,
        "stage": "",
        "template_id": template_id,
        "title": "Role Manager",
        "link": f"/api/roles/{manager_role}",
        "status": "pending",
        "min_signatures": 0,
        "sequential": False,
        "officers": [
            {"slot": 0, "kind": "user", "action": "must_sign", "user_id": manager.id, "role_id": None, "label": "tess"},
            {"slot": 1, "kind": "user", "action": "must_sign", "user_id": signer.id, "role_id": None, "label": "sid"},
        ],
        "signatures": [],
        "waiting_for": [0, 1],
        "completed_at": None,
        "cancelled_reason": None,
    }
    assert (await client.get(f"{BASE}/flows/{body['id']}", headers=signer.headers)).json() == body
    [entry] = await entries(database, action="approval_flow.create")
    assert entry["entity_id"] == str(body["id"])
    assert entry["request_id"] == "flow-create-0001"
    assert entry["actor_user_id"] == manager.id
    assert entry["changes"]["after"]["status"] == "pending"
    assert entry["changes"]["after"]["object_id"] == manager_role
    assert entry["changes"]["after"]["template_id"] == template_id


async def test_a_named_template_and_stages_give_one_flow_per_stage(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signer, template_id = await _setup(client, database)
    release = await create_template(client, manager, officers=[user_officer(signer)], name="Release", stage="release")
    # One active template per type and stage: a second one waits inactive until the first is retired.
    second = await client.post(
        "/api/approvals/templates",
        json={"object_type": "identity.role", "name": "Newer", "officers": [user_officer(manager)]},
        headers=manager.headers,
    )
    assert (second.status_code, second.json()["code"]) == (409, "approval.template_exists")
    newer = await create_template(client, manager, officers=[user_officer(manager)], name="Newer", is_active=False)
    assert newer["is_active"] is False
    manager_role = await role_id(database, "manager")

    default = await start_flow(client, manager, manager_role)
    staged = await start_flow(client, manager, manager_role, stage="release")
    other_role = await role_id(database, "user")
    named = await start_flow(client, manager, other_role, template_id=template_id)

    assert default["template_id"] == template_id
    assert staged["template_id"] == release["id"]
    assert staged["stage"] == "release"
    assert named["template_id"] == template_id
    assert [o["user_id"] for o in named["officers"]] == [manager.id, signer.id]


async def test_bad_flow_requests_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, _signer, template_id = await _setup(client, database)
    release = await create_template(client, manager, officers=[user_officer(manager)], name="R", stage="release")
    manager_role = await role_id(database, "manager")
    await start_flow(client, manager, manager_role)

    user_role = await role_id(database, "user")

    def body(**changes: Any) -> dict[str, Any]:
        return {"object_type": "identity.role", "object_id": user_role, **changes}

    cases = [
        (body(object_id=manager_role), 409, "approval.flow_exists"),
        (body(object_id=manager_role, template_id=template_id), 409, "approval.flow_exists"),
        (body(object_type="procurement.order"), 422, "approval.unknown_object_type"),
        (body(object_id=999_999), 404, "approval.object_not_found"),
        (body(object_id=MAX_ID), 404, "approval.object_not_found"),
        (body(template_id=999_999), 404, "approval.template_not_found"),
        (body(stage="production"), 404, "approval.template_not_found"),
        (body(template_id=release["id"]), 422, "approval.template_mismatch"),
        (body(stage="release", template_id=template_id), 422, "approval.template_mismatch"),
        (body(object_id=0), 422, "request.validation_failed"),
        (body(object_id=-1), 422, "request.validation_failed"),
        (body(object_id=MAX_ID + 1), 422, "request.validation_failed"),
        (body(object_id=str(manager_role)), 422, "request.validation_failed"),
        (body(object_id=1.5), 422, "request.validation_failed"),
        (body(object_id=True), 422, "request.validation_failed"),
        (body(template_id=0), 422, "request.validation_failed"),
        (body(template_id=MAX_ID + 1), 422, "request.validation_failed"),
        (body(object_type="Identity.Role"), 422, "request.validation_failed"),
        (body(stage="Release"), 422, "request.validation_failed"),
        (body(object_source="depo_procurement"), 422, "request.validation_failed"),
        ({"object_type": "identity.role"}, 422, "request.validation_failed"),
        ({"object_id": manager_role}, 422, "request.validation_failed"),
    ]
    before = await row_counts(database)

    for payload, status, code in cases:
        response = await client.post(f"{BASE}/flows", json=payload, headers=manager.headers)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["code"] == code, (payload, response.text)

    malformed = await client.post(
        f"{BASE}/flows", content=b"{not json", headers={**manager.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "request.malformed_json"
    assert await row_counts(database) == before


async def test_list_is_an_envelope_with_filters_sorting_and_pages(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signer, _ = await _setup(client, database)
    await create_template(client, manager, officers=[user_officer(signer)], name="Release", stage="release")
    admin_role, manager_role, user_role = [await role_id(database, s) for s in ("admin", "manager", "user")]
    first = await start_flow(client, manager, manager_role)
    second = await start_flow(client, manager, user_role)
    third = await start_flow(client, manager, manager_role, stage="release")
    fourth = await start_flow(client, manager, admin_role)
    assert (await sign(client, signer, third["id"])).json()["status"] == "approved"
    assert (await sign(client, signer, second["id"])).json()["status"] == "in_progress"

    async def ids(**params: Any) -> list[int]:
        response = await client.get(f"{BASE}/flows", params=params, headers=manager.headers)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["items"]]

    everything = await client.get(f"{BASE}/flows", headers=manager.headers)
    assert everything.json()["total"] == 4
    assert everything.json()["offset"] == 0
    assert everything.json()["limit"] == 50
    assert [f["id"] for f in everything.json()["items"]] == [fourth["id"], third["id"], second["id"], first["id"]]
    assert everything.json()["items"][3] == first
    assert await ids(object_type="identity.role", object_id=manager_role) == [third["id"], first["id"]]
    assert await ids(object_id=manager_role, stage="release") == [third["id"]]
    assert await ids(status="approved") == [third["id"]]
    assert await ids(status="in_progress") == [second["id"]]
    assert await ids(status="pending", sort="created_at") == [first["id"], fourth["id"]]
    assert await ids(status="rejected") == []
    assert await ids(object_type="procurement.order") == []
    assert await ids(object_id=999_999) == []
    assert await ids(search="MANAGER") == [third["id"], first["id"]]
    assert await ids(sort="created_at") == [first["id"], second["id"], third["id"], fourth["id"]]
    assert await ids(sort="status,-created_at") == [third["id"], second["id"], fourth["id"], first["id"]]
    assert await ids(sort="-updated_at") == [second["id"], third["id"], fourth["id"], first["id"]]
    page = await client.get(f"{BASE}/flows", params={"offset": 1, "limit": 2}, headers=manager.headers)
    assert [f["id"] for f in page.json()["items"]] == [third["id"], second["id"]]
    assert (page.json()["total"], page.json()["offset"], page.json()["limit"]) == (4, 1, 2)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sort": "title"}, "listing.invalid_sort"),
        ({"object_id": 0}, "request.validation_failed"),
        ({"object_id": MAX_ID + 1}, "request.validation_failed"),
        ({"object_id": "abc"}, "request.validation_failed"),
        ({"status": "done"}, "request.validation_failed"),
        ({"limit": 0}, "request.validation_failed"),
        ({"limit": 501}, "listing.invalid_limit"),
    ]
    for params, code in cases:
        response = await client.get(f"{BASE}/flows", params=params, headers=manager.headers)
        assert response.status_code == 422, params
        assert response.json()["code"] == code, params


async def test_the_flows_of_one_object_come_as_a_list(client: httpx.AsyncClient, database: Database) -> None:
    manager, signer, _ = await _setup(client, database)
    await create_template(client, manager, officers=[user_officer(signer)], name="Release", stage="release")
    manager_role, user_role = await role_id(database, "manager"), await role_id(database, "user")
    approval = await start_flow(client, manager, manager_role)
    await start_flow(client, manager, user_role)
    release = await start_flow(client, manager, manager_role, stage="release")

    response = await client.get(f"{BASE}/flows/object/identity.role/{manager_role}", headers=signer.headers)
    empty = await client.get(f"{BASE}/flows/object/identity.role/999999", headers=signer.headers)

    assert response.status_code == 200
    assert response.json() == {"items": [approval, release], "total": 2, "offset": 0, "limit": None}
    assert empty.json() == {"items": [], "total": 0, "offset": 0, "limit": None}
    cases = [
        ("procurement.order/1", 422, "approval.unknown_object_type"),
        ("identity.role/0", 422, "request.validation_failed"),
        (f"identity.role/{MAX_ID + 1}", 422, "request.validation_failed"),
        ("identity.role/abc", 422, "request.validation_failed"),
        (f"{'x' * 101}/1", 422, "request.validation_failed"),
    ]
    for tail, status, code in cases:
        bad = await client.get(f"{BASE}/flows/object/{tail}", headers=signer.headers)
        assert bad.status_code == status, tail
        assert bad.json()["code"] == code, tail


async def test_unknown_and_out_of_range_flow_ids(client: httpx.AsyncClient, database: Database) -> None:
    manager, _signer, _ = await _setup(client, database)
    flow = await start_flow(client, manager, await role_id(database, "manager"))
    before = await row_counts(database)

    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/verify", None),
        ("DELETE", f"/signatures/{manager.id}", {"reason": "x"}),
    ):
        missing = await client.request(method, f"{BASE}/flows/999{suffix}", json=body, headers=manager.headers)
        assert missing.status_code == 404, (method, suffix)
        assert missing.json()["code"] == "approval.flow_not_found"
        assert missing.json()["details"] == {"flow_id": 999}
        for bad in ("0", "-3", str(MAX_ID + 1), "x"):
            response = await client.request(method, f"{BASE}/flows/{bad}{suffix}", json=body, headers=manager.headers)
            assert response.status_code == 422, (method, bad, suffix)
            assert response.json()["code"] == "request.validation_failed"
    for bad in ("0", str(MAX_ID + 1), "me"):
        response = await client.request(
            "DELETE", f"{BASE}/flows/{flow['id']}/signatures/{bad}", json={"reason": "x"}, headers=manager.headers
        )
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["path", "user_id"]
    signed_by_nobody = await withdraw(client, manager, flow["id"], 999_999)
    assert signed_by_nobody.status_code == 404
    assert signed_by_nobody.json()["code"] == "approval.signature_not_found"
    assert signed_by_nobody.json()["details"] == {"user_id": 999_999}
    not_signed = await withdraw(client, manager, flow["id"], manager.id)
    assert not_signed.json()["code"] == "approval.signature_not_found"

    assert await row_counts(database) == before


async def test_pending_lists_the_open_flows_waiting_for_me(client: httpx.AsyncClient, database: Database) -> None:
    manager = await make_user(database, username="tess", permissions=ALL_APPROVAL)
    qa = await make_user(database, username="quinn", permissions=SIGNER)
    other = await make_user(database, username="otto", permissions=SIGNER)
    # quinn signs through her role in the first template, in person (second in line) in the sequential one.
    await create_template(client, manager, officers=[role_officer(qa.role_id), user_officer(manager)])
    await create_template(
        client,
        manager,
        officers=[user_officer(manager), user_officer(qa)],
        stage="release",
        name="Seq",
        sequential=True,
    )
    admin_role, manager_role, user_role = [await role_id(database, s) for s in ("admin", "manager", "user")]
    one = await start_flow(client, manager, admin_role)
    two = await start_flow(client, manager, manager_role)
    closed = await start_flow(client, manager, user_role)
    sequential = await start_flow(client, manager, user_role, stage="release")
    await sign(client, qa, two["id"])
    await sign(client, manager, closed["id"])
    await sign(client, qa, closed["id"])

    async def pending(made: MadeUser) -> list[int]:
        response = await client.get(f"{BASE}/pending", headers=made.headers)
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["offset"], body["limit"]) == (len(body["items"]), 0, None)
        return [f["id"] for f in body["items"]]

    assert await pending(qa) == [one["id"]]
    assert await pending(manager) == [one["id"], two["id"], sequential["id"]]
    assert await pending(other) == []
    await sign(client, manager, sequential["id"])
    assert await pending(qa) == [one["id"], sequential["id"]]


async def test_withdrawing_a_signature_keeps_it_marked_and_recomputes_the_status(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signer, _ = await _setup(client, database)
    flow = await start_flow(client, manager, await role_id(database, "manager"))
    await sign(client, signer, flow["id"])
    approved = await sign(client, manager, flow["id"])
    assert approved.json()["status"] == "approved"

    response = await client.request(
        "DELETE",
        f"{BASE}/flows/{flow['id']}/signatures/{signer.id}",
        json={"reason": "  wrong batch  "},
        headers={**manager.headers, "X-Request-Id": "withdraw-0001"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["completed_at"] is None
    assert body["waiting_for"] == [1]
    withdrawn, kept = body["signatures"]
    assert withdrawn["user_id"] == signer.id
    assert withdrawn["withdrawn_by_id"] == manager.id
    assert withdrawn["withdrawn_reason"] == "wrong batch"
    assert datetime.fromisoformat(withdrawn["withdrawn_at"]) >= datetime.fromisoformat(withdrawn["signed_at"])
    assert kept["user_id"] == manager.id
    assert kept["withdrawn_at"] is None
    [signature_update] = await entries(database, action="approval_signature.update")
    assert signature_update["request_id"] == "withdraw-0001"
    assert signature_update["entity_id"] == str(withdrawn["id"])
    assert signature_update["changes"] == {
        # The seal changes too (the withdrawal is sealed) but is never copied into the trail.
        "before": {"hmac": "[redacted]", "withdrawn_at": None, "withdrawn_by_id": None, "withdrawn_reason": None},
        "after": {
            "hmac": "[redacted]",
            "withdrawn_at": signature_update["changes"]["after"]["withdrawn_at"],
            "withdrawn_by_id": manager.id,
            "withdrawn_reason": "wrong batch",
        },
    }
    flow_updates = await entries(database, action="approval_flow.update", request_id="withdraw-0001")
    assert len(flow_updates) == 1
    assert flow_updates[0]["changes"]["before"]["status"] == "approved"
    assert flow_updates[0]["changes"]["after"]["status"] == "in_progress"
    assert flow_updates[0]["changes"]["after"]["completed_at"] is None

    again = await sign(client, signer, flow["id"])
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "approved"
    assert [(s["user_id"], s["withdrawn_at"] is None) for s in again.json()["signatures"]] == [
        (signer.id, False),
        (manager.id, True),
        (signer.id, True),
    ]


async def test_a_withdrawal_needs_a_reason_and_stores_nothing_without_one(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager, signer, _ = await _setup(client, database)
    flow = await start_flow(client, manager, await role_id(database, "manager"))
    await sign(client, signer, flow["id"])
    url = f"{BASE}/flows/{flow['id']}/signatures/{signer.id}"
    before = await row_counts(database)

    for payload in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}, {"reason": 5}, ["x"]):
        response = await client.request("DELETE", url, json=payload, headers=manager.headers)
        assert response.status_code == 422, payload
        assert response.json()["code"] == "request.validation_failed", payload
    extra = await client.request("DELETE", url, json={"reason": "x", "user_id": 1}, headers=manager.headers)
    assert extra.status_code == 422

    assert await row_counts(database) == before
    assert (await client.get(f"{BASE}/flows/{flow['id']}", headers=manager.headers)).json()["signatures"][0][
        "withdrawn_at"
    ] is None
