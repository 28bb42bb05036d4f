"""Builders for approval tests over HTTP: templates, flows, signatures, row counts and raw tampering."""

from typing import Any

import httpx
from sqlalchemy import text

from depotflow.core.db import Database
from tests.factories.identity import MadeUser

BASE = "/api/approvals"
OBJECT_TYPE = "identity.role"
APPROVAL_TABLES = ("approval_template", "approval_flow", "approval_signature", "audit_entry")

# Every permission of the approval domain, and a signer's usual pair.
ALL_APPROVAL = [
    "approval.view",
    "approval.create",
    "approval.sign",
    "approval.withdraw",
    "approval.templates.manage",
]
SIGNER = ["approval.sign", "approval.view"]


def user_officer(user: MadeUser | int, action: str = "must_sign") -> dict[str, Any]:
    return {"kind": "user", "user_id": user if isinstance(user, int) else user.id, "action": action}


def role_officer(role_id: int | None, action: str = "must_sign") -> dict[str, Any]:
    return {"kind": "role", "role_id": role_id, "action": action}


async def create_template(
    client: httpx.AsyncClient,
    manager: MadeUser,
    *,
    officers: list[dict[str, Any]],
    object_type: str = OBJECT_TYPE,
    name: str = "Role change",
    **extra: Any,
) -> dict[str, Any]:
    """POST a template that must be accepted; its JSON."""
    response = await client.post(
        f"{BASE}/templates",
        json={"object_type": object_type, "name": name, "officers": officers, **extra},
        headers=manager.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def start_flow(
    client: httpx.AsyncClient, creator: MadeUser, object_id: int, *, stage: str = "", **extra: Any
) -> dict[str, Any]:
    """POST a flow for `identity.role` `object_id` that must be accepted; its JSON."""
    response = await client.post(
        f"{BASE}/flows",
        json={"object_type": OBJECT_TYPE, "object_id": object_id, "stage": stage, **extra},
        headers=creator.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def sign(
    client: httpx.AsyncClient,
    signer: MadeUser,
    flow_id: int,
    *,
    password: str | None = None,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    """POST a signature with the signer's password (or `password`)."""
    return await client.post(
        f"{BASE}/flows/{flow_id}/sign",
        json={"password": signer.password if password is None else password, **body},
        headers={**signer.headers, **(headers or {})},
    )


async def withdraw(
    client: httpx.AsyncClient, actor: MadeUser, flow_id: int, user_id: int, reason: str = "signed by mistake"
) -> httpx.Response:
    return await client.request(
        "DELETE", f"{BASE}/flows/{flow_id}/signatures/{user_id}", json={"reason": reason}, headers=actor.headers
    )


async def verify(client: httpx.AsyncClient, viewer: MadeUser, flow_id: int) -> dict[str, Any]:
    response = await client.get(f"{BASE}/flows/{flow_id}/verify", headers=viewer.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def row_counts(db: Database) -> dict[str, int]:
    """Rows in the approval tables and the audit trail, for "nothing was stored" comparisons."""
    async with db.session(write=False) as session:
        return {
            table: int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
            for table in APPROVAL_TABLES
        }


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.session(write=False) as session:
        return [dict(r._mapping) for r in (await session.execute(text(sql), params)).all()]


async def tamper(db: Database, sql: str, **params: Any) -> int:
    """Raw SQL straight on the database, bypassing the application and its audit; rows affected."""
    async with db.engine.begin() as conn:
        result = await conn.execute(text(sql), params)
        return int(result.rowcount)
