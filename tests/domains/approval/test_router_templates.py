"""HTTP contract of /api/approvals/templates: shapes, filters, sorting, permissions, audit and bad input."""

from datetime import datetime
from typing import Any

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.approval_http import (
    ALL_APPROVAL,
    BASE,
    create_template,
    role_officer,
    row_counts,
    rows,
    start_flow,
    user_officer,
)
from tests.factories.audit import entries
from tests.factories.identity import MadeUser, make_user, role_id

pytestmark = pytest.mark.anyio

MAX_ID = 2**63 - 1


async def _manager(database: Database) -> MadeUser:
    return await make_user(database, username="tess", permissions=ALL_APPROVAL)


def _without_times(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("created_at", "updated_at")}


async def test_template_routes_need_a_token(client: httpx.AsyncClient, database: Database) -> None:
    before = await row_counts(database)
    attempts = [
        ("GET", f"{BASE}/templates", None),
        ("POST", f"{BASE}/templates", {"object_type": "identity.role", "name": "x", "officers": []}),
        ("GET", f"{BASE}/templates/1", None),
        ("PUT", f"{BASE}/templates/1", {"name": "y"}),
        ("DELETE", f"{BASE}/templates/1", None),
    ]

    for method, url, body in attempts:
        response = await client.request(method, url, json=body)
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "auth.not_authenticated", (method, url)
        assert response.headers["www-authenticate"] == 'Bearer realm="depotflow"'

    assert await row_counts(database) == before


async def test_template_routes_refuse_users_without_the_permission(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    template = await create_template(client, manager, officers=[user_officer(manager)])
    nobody = await make_user(database, username="nora", permissions=[])
    viewer = await make_user(database, username="vic", permissions=["approval.view", "approval.sign"])
    creator = await make_user(database, username="cid", permissions=["approval.create", "approval.withdraw"])
    url = f"{BASE}/templates/{template['id']}"
    body = {"object_type": "identity.role", "name": "Other", "officers": [user_officer(manager)]}
    attempts = [
        (nobody, "GET", f"{BASE}/templates", None, "approval.view"),
        (nobody, "GET", url, None, "approval.view"),
        (creator, "GET", url, None, "approval.view"),
        (viewer, "POST", f"{BASE}/templates", body, "approval.templates.manage"),
        (creator, "POST", f"{BASE}/templates", body, "approval.templates.manage"),
        (viewer, "PUT", url, {"name": "Renamed"}, "approval.templates.manage"),
        (viewer, "DELETE", url, None, "approval.templates.manage"),
    ]
    before = await row_counts(database)

    for made, method, target, payload, permission in attempts:
        response = await client.request(method, target, json=payload, headers=made.headers)
        assert response.status_code == 403, (made.username, method, target)
        assert response.json()["code"] == "permission_denied"
        assert response.json()["details"] == {"required_permission": permission}

    assert await row_counts(database) == before
    assert (await client.get(url, headers=viewer.headers)).json()["name"] == "Role change"
    listed = await client.get(f"{BASE}/templates", headers=viewer.headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1


async def test_create_returns_the_template_with_labelled_officers(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    boss = await make_user(database, username="boss", permissions=["approval.sign"])
    manager_role = await role_id(database, "manager")

    response = await client.post(
        f"{BASE}/templates",
        json={
            "object_type": "  identity.role ",
            "stage": "release",
            "name": "  Role release ",
            "description": "Who may change who",
            "officers": [
                user_officer(boss),
                role_officer(manager_role, "can_sign"),
                user_officer(manager, "can_sign"),
            ],
            "min_signatures": 1,
            "sequential": True,
        },
        headers=manager.headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert _without_times(body) == {
        "id": body["id"],
        "object_type": "identity.role",
        "stage": "release",
        "name": "Role release",
        "description": "Who may change who",
        "is_active": True,
        "min_signatures": 1,
        "sequential": True,
        "officers": [
            {"slot": 0, "kind": "user", "action": "must_sign", "user_id": boss.id, "role_id": None, "label": "boss"},
            {
                "slot": 1,
                "kind": "role",
                "action": "can_sign",
                "user_id": None,
                "role_id": manager_role,
                "label": "Manager",
            },
            {"slot": 2, "kind": "user", "action": "can_sign", "user_id": manager.id, "role_id": None, "label": "tess"},
        ],
    }
    assert body["created_at"].endswith("Z")
    assert datetime.fromisoformat(body["created_at"]) <= datetime.fromisoformat(body["updated_at"])
    fetched = await client.get(f"{BASE}/templates/{body['id']}", headers=manager.headers)
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_creating_a_template_is_audited_with_the_request_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)

    response = await client.post(
        f"{BASE}/templates",
        json={"object_type": "identity.role", "name": "Role change", "officers": [user_officer(manager)]},
        headers={**manager.headers, "X-Request-Id": "tmpl-create-0001", "X-Change-Reason": "new SOP"},
    )

    assert response.status_code == 201
    template_id = response.json()["id"]
    [entry] = await entries(database, action="approval_template.create")
    assert entry["entity_type"] == "approval_template"
    assert entry["entity_id"] == str(template_id)
    assert entry["actor_user_id"] == manager.id
    assert entry["actor_username"] == "tess"
    assert entry["request_id"] == "tmpl-create-0001"
    assert entry["reason"] == "new SOP"
    assert entry["ip_address"] == "127.0.0.1"
    after = entry["changes"]["after"]
    assert {k: after[k] for k in ("id", "object_type", "stage", "name", "is_active", "min_signatures", "officers")} == {
        "id": template_id,
        "object_type": "identity.role",
        "stage": "",
        "name": "Role change",
        "is_active": True,
        "min_signatures": 0,
        "officers": [{"kind": "user", "user_id": manager.id, "role_id": None, "action": "must_sign"}],
    }


async def test_list_is_an_envelope_with_filters_sorting_and_pages(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    officers = [user_officer(manager)]
    charlie = await create_template(client, manager, officers=officers, name="Charlie", stage="release")
    alpha = await create_template(client, manager, officers=officers, name="Alpha", stage="")
    bravo = await create_template(client, manager, officers=officers, name="Bravo", stage="release", is_active=False)

    async def names(**params: Any) -> list[str]:
        response = await client.get(f"{BASE}/templates", params=params, headers=manager.headers)
        assert response.status_code == 200, response.text
        return [t["name"] for t in response.json()["items"]]

    everything = await client.get(f"{BASE}/templates", headers=manager.headers)
    assert everything.json()["total"] == 3
    assert everything.json()["offset"] == 0
    assert everything.json()["limit"] == 50
    assert [t["id"] for t in everything.json()["items"]] == [alpha["id"], bravo["id"], charlie["id"]]
    assert everything.json()["items"][0] == alpha

    assert await names(stage="release") == ["Bravo", "Charlie"]
    assert await names(stage="") == ["Alpha"]
    assert await names(is_active="true") == ["Alpha", "Charlie"]
    assert await names(is_active="false") == ["Bravo"]
    assert await names(object_type="identity.role", stage="release", is_active="true") == ["Charlie"]
    assert await names(object_type="procurement.order") == []
    assert await names(sort="-name") == ["Charlie", "Bravo", "Alpha"]
    assert await names(sort="created_at") == ["Charlie", "Alpha", "Bravo"]
    assert await names(sort="-created_at") == ["Bravo", "Alpha", "Charlie"]
    assert await names(sort="object_type,-name") == ["Charlie", "Bravo", "Alpha"]
    assert await names(search="rav") == ["Bravo"]

    page = await client.get(f"{BASE}/templates", params={"offset": 1, "limit": 1}, headers=manager.headers)
    assert page.json()["total"] == 3
    assert page.json()["offset"] == 1
    assert page.json()["limit"] == 1
    assert [t["name"] for t in page.json()["items"]] == ["Bravo"]


async def test_list_refuses_bad_sorting_and_parameters(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sort": "officers"}, "listing.invalid_sort"),
        ({"sort": "name,name"}, "listing.invalid_sort"),
        ({"is_active": "perhaps"}, "request.validation_failed"),
        ({"limit": 0}, "request.validation_failed"),
        ({"offset": -1}, "request.validation_failed"),
        ({"limit": 501}, "listing.invalid_limit"),
    ]

    for params, code in cases:
        response = await client.get(f"{BASE}/templates", params=params, headers=manager.headers)
        assert response.status_code == 422, params
        assert response.json()["code"] == code, params


async def test_unknown_and_out_of_range_template_ids(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    await create_template(client, manager, officers=[user_officer(manager)])
    before = await row_counts(database)

    for method, body in (("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)):
        missing = await client.request(method, f"{BASE}/templates/999", json=body, headers=manager.headers)
        assert missing.status_code == 404, method
        assert missing.json()["code"] == "approval.template_not_found"
        assert missing.json()["details"] == {"template_id": 999}
        for bad in ("0", "-1", str(MAX_ID + 1), "abc", "1.5"):
            response = await client.request(method, f"{BASE}/templates/{bad}", json=body, headers=manager.headers)
            assert response.status_code == 422, (method, bad)
            assert response.json()["code"] == "request.validation_failed", (method, bad)
            assert response.json()["errors"][0]["loc"] == ["path", "template_id"], (method, bad)
    largest = await client.get(f"{BASE}/templates/{MAX_ID}", headers=manager.headers)
    assert largest.status_code == 404

    assert await row_counts(database) == before


async def test_invalid_templates_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    manager_role = await role_id(database, "manager")
    me = user_officer(manager)

    def body(**changes: Any) -> dict[str, Any]:
        return {"object_type": "identity.role", "name": "T", "officers": [me], **changes}

    cases = [
        (body(object_type="procurement.order"), "approval.unknown_object_type"),
        (body(officers=[user_officer(999_999)]), "approval.invalid_officers"),
        (body(officers=[role_officer(999_999)]), "approval.invalid_officers"),
        (body(officers=[me, me]), "approval.invalid_officers"),
        (
            body(officers=[role_officer(manager_role), role_officer(manager_role, "can_sign")]),
            "approval.invalid_officers",
        ),
        (body(officers=[user_officer(manager, "can_sign")]), "approval.invalid_officers"),
        (body(min_signatures=1), "approval.invalid_officers"),
        (body(officers=[]), "request.validation_failed"),
        (body(officers=[me] * 51), "request.validation_failed"),
        (body(officers=[{"kind": "user", "action": "must_sign"}]), "request.validation_failed"),
        (body(officers=[{"kind": "role", "user_id": manager.id, "action": "must_sign"}]), "request.validation_failed"),
        (
            body(officers=[{"kind": "user", "user_id": manager.id, "role_id": manager_role, "action": "must_sign"}]),
            "request.validation_failed",
        ),
        (
            body(officers=[{"kind": "person", "user_id": manager.id, "action": "must_sign"}]),
            "request.validation_failed",
        ),
        (body(officers=[{"kind": "user", "user_id": manager.id, "action": "maybe"}]), "request.validation_failed"),
        (body(officers=[{**me, "order": 1}]), "request.validation_failed"),
        (body(officers=[user_officer(0)]), "request.validation_failed"),
        (body(officers=[user_officer(-5)]), "request.validation_failed"),
        (body(officers=[user_officer(MAX_ID + 1)]), "request.validation_failed"),
        (body(officers=[{**me, "user_id": str(manager.id)}]), "request.validation_failed"),
        (body(officers=[{**me, "user_id": True}]), "request.validation_failed"),
        (body(officers=me), "request.validation_failed"),
        (body(object_type="Identity.Role"), "request.validation_failed"),
        (body(object_type=""), "request.validation_failed"),
        (body(object_type="x" * 101), "request.validation_failed"),
        (body(stage="Release"), "request.validation_failed"),
        (body(stage="s" * 51), "request.validation_failed"),
        (body(name="   "), "request.validation_failed"),
        (body(name="n" * 201), "request.validation_failed"),
        (body(min_signatures=-1), "request.validation_failed"),
        (body(min_signatures=51), "request.validation_failed"),
        (body(min_signatures="1"), "request.validation_failed"),
        (body(sequential="yes"), "request.validation_failed"),
        (body(is_active=1), "request.validation_failed"),
        (body(object_source="depo_procurement"), "request.validation_failed"),
        ({"object_type": "identity.role", "name": "T"}, "request.validation_failed"),
    ]
    before = await row_counts(database)

    for payload, code in cases:
        response = await client.post(f"{BASE}/templates", json=payload, headers=manager.headers)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["code"] == code, (payload, response.text)

    assert await row_counts(database) == before


async def test_problems_name_each_invalid_officer(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)

    response = await client.post(
        f"{BASE}/templates",
        json={
            "object_type": "identity.role",
            "name": "T",
            "officers": [user_officer(manager), user_officer(999_998), role_officer(999_997, "can_sign")],
            "min_signatures": 1,
        },
        headers=manager.headers,
    )
    unknown = await client.post(
        f"{BASE}/templates",
        json={"object_type": "nothing.here", "name": "T", "officers": [user_officer(manager)]},
        headers=manager.headers,
    )

    assert response.status_code == 422
    assert response.json()["details"] == {
        "problems": ["officer 1: user 999998 does not exist", "officer 2: role 999997 does not exist"]
    }
    assert unknown.json()["code"] == "approval.unknown_object_type"
    assert "identity.role" in unknown.json()["details"]["known"]


async def test_update_changes_only_what_is_sent_and_is_audited(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    boss = await make_user(database, username="boss", permissions=["approval.sign"])
    template = await create_template(client, manager, officers=[user_officer(manager)], description="first")

    response = await client.put(
        f"{BASE}/templates/{template['id']}",
        json={
            "name": "Role change v2",
            "officers": [user_officer(manager), user_officer(boss, "can_sign")],
            "min_signatures": 1,
        },
        headers={**manager.headers, "X-Request-Id": "tmpl-update-0001"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == template["id"]
    assert body["name"] == "Role change v2"
    assert body["description"] == "first"
    assert body["min_signatures"] == 1
    assert body["is_active"] is True
    assert [(o["slot"], o["label"], o["action"]) for o in body["officers"]] == [
        (0, "tess", "must_sign"),
        (1, "boss", "can_sign"),
    ]
    assert body["created_at"] == template["created_at"]
    assert datetime.fromisoformat(body["updated_at"]) > datetime.fromisoformat(template["updated_at"])
    [entry] = await entries(database, action="approval_template.update")
    assert entry["request_id"] == "tmpl-update-0001"
    assert entry["entity_id"] == str(template["id"])
    changes = entry["changes"]
    assert changes["before"]["name"] == "Role change"
    assert changes["after"]["name"] == "Role change v2"
    assert changes["before"]["min_signatures"] == 0
    assert changes["after"]["min_signatures"] == 1
    assert changes["after"]["officers"] == [
        {"kind": "user", "user_id": manager.id, "role_id": None, "action": "must_sign"},
        {"kind": "user", "user_id": boss.id, "role_id": None, "action": "can_sign"},
    ]
    assert "description" not in changes["after"]


async def test_update_refuses_bad_input_and_stores_nothing(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    template = await create_template(client, manager, officers=[user_officer(manager)])
    url = f"{BASE}/templates/{template['id']}"
    cases = [
        ({"min_signatures": 1}, "approval.invalid_officers"),
        ({"officers": [user_officer(999_999)]}, "approval.invalid_officers"),
        ({"officers": [user_officer(manager, "can_sign")]}, "approval.invalid_officers"),
        ({"officers": []}, "request.validation_failed"),
        ({"officers": [{"kind": "user", "action": "must_sign"}]}, "request.validation_failed"),
        ({"object_type": "identity.user"}, "request.validation_failed"),
        ({"stage": "release"}, "request.validation_failed"),
        ({"name": ""}, "request.validation_failed"),
        ({"sequential": "no"}, "request.validation_failed"),
    ]
    before = await row_counts(database)

    for payload, code in cases:
        response = await client.put(url, json=payload, headers=manager.headers)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["code"] == code, (payload, response.text)

    assert await row_counts(database) == before
    assert (await client.get(url, headers=manager.headers)).json() == template


async def test_running_flows_keep_the_officers_they_started_with(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    boss = await make_user(database, username="boss", permissions=["approval.sign"])
    template = await create_template(client, manager, officers=[user_officer(manager)])
    flow = await start_flow(client, manager, await role_id(database, "manager"))

    await client.put(
        f"{BASE}/templates/{template['id']}",
        json={"officers": [user_officer(boss)], "sequential": True},
        headers=manager.headers,
    )

    after = await client.get(f"{BASE}/flows/{flow['id']}", headers=manager.headers)
    assert after.json()["officers"] == flow["officers"]
    assert after.json()["sequential"] is False
    assert [o["user_id"] for o in after.json()["officers"]] == [manager.id]


async def test_deleting_an_unused_template_removes_it(client: httpx.AsyncClient, database: Database) -> None:
    manager = await _manager(database)
    template = await create_template(client, manager, officers=[user_officer(manager)])

    response = await client.delete(
        f"{BASE}/templates/{template['id']}", headers={**manager.headers, "X-Request-Id": "tmpl-delete-0001"}
    )

    assert response.status_code == 204
    assert response.content == b""
    gone = await client.get(f"{BASE}/templates/{template['id']}", headers=manager.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "approval.template_not_found"
    assert await rows(database, "SELECT id FROM approval_template") == []
    [entry] = await entries(database, action="approval_template.delete")
    assert entry["entity_id"] == str(template["id"])
    assert entry["request_id"] == "tmpl-delete-0001"
    assert entry["changes"]["before"]["name"] == "Role change"
    again = await client.delete(f"{BASE}/templates/{template['id']}", headers=manager.headers)
    assert again.status_code == 404


async def test_deleting_a_template_flows_came_from_only_deactivates_it(
    client: httpx.AsyncClient, database: Database
) -> None:
    manager = await _manager(database)
    template = await create_template(client, manager, officers=[user_officer(manager)])
    manager_role = await role_id(database, "manager")
    flow = await start_flow(client, manager, manager_role)

    response = await client.delete(f"{BASE}/templates/{template['id']}", headers=manager.headers)

    assert response.status_code == 204
    kept = await client.get(f"{BASE}/templates/{template['id']}", headers=manager.headers)
    assert kept.status_code == 200
    assert kept.json()["is_active"] is False
    assert await entries(database, action="approval_template.delete") == []
    [entry] = await entries(database, action="approval_template.update")
    assert entry["changes"] == {"before": {"is_active": True}, "after": {"is_active": False}}
    assert (await client.get(f"{BASE}/flows/{flow['id']}", headers=manager.headers)).json()["template_id"] == template[
        "id"
    ]
    user_role = await role_id(database, "user")
    before = await row_counts(database)
    named = await client.post(
        f"{BASE}/flows",
        json={"object_type": "identity.role", "object_id": user_role, "template_id": template["id"]},
        headers=manager.headers,
    )
    assert named.status_code == 409
    assert named.json()["code"] == "approval.template_inactive"
    implicit = await client.post(
        f"{BASE}/flows", json={"object_type": "identity.role", "object_id": user_role}, headers=manager.headers
    )
    assert implicit.status_code == 404
    assert implicit.json()["code"] == "approval.template_not_found"
    assert await row_counts(database) == before
