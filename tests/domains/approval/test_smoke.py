"""First end-to-end check: a role officer and a user officer sign, the flow is approved."""

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import make_admin, make_user, role_id

pytestmark = pytest.mark.anyio


async def test_two_officers_sign_and_the_flow_is_approved(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    qa = await make_role_user(database)
    boss = await make_user(database, username="boss", permissions=["approval.sign", "approval.view"])
    manager_role = await role_id(database, "manager")

    template = await client.post(
        "/api/approvals/templates",
        json={
            "object_type": "identity.role",
            "name": "Role change",
            "officers": [
                {"kind": "role", "role_id": qa.role_id, "action": "must_sign"},
                {"kind": "user", "user_id": boss.id, "action": "must_sign"},
            ],
        },
        headers=admin.headers,
    )
    assert template.status_code == 201, template.text
    flow = await client.post(
        "/api/approvals/flows", json={"object_type": "identity.role", "object_id": manager_role}, headers=admin.headers
    )
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]

    first = await client.post(
        f"/api/approvals/flows/{flow_id}/sign", json={"password": qa.password}, headers=qa.headers
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "in_progress"
    second = await client.post(
        f"/api/approvals/flows/{flow_id}/sign", json={"password": boss.password}, headers=boss.headers
    )
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"
    verify = await client.get(f"/api/approvals/flows/{flow_id}/verify", headers=admin.headers)
    assert verify.json()["ok"] is True


async def make_role_user(database: Database):  # type: ignore[no-untyped-def]
    return await make_user(database, username="qa", permissions=["approval.sign", "approval.view"])
