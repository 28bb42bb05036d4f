"""Builders for approvals: officers, signers, templates, flows and signatures, over HTTP or the service."""

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from depotflow.core import events
from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import Decision
from depotflow.domains.approval.models import ApprovalFlow, ApprovalSignature
from depotflow.domains.approval.schemas import OfficerIn, TemplateCreate
from depotflow.domains.audit.models import AuditEntry
from tests.factories.identity import MadeUser, make_role, make_user

SIGNER_PERMISSIONS = ["approval.sign", "approval.view"]
# The secret the service-level builders seal signatures with (HTTP signatures use the app's).
SECRET = "approval-tests-secret"


@dataclass(frozen=True)
class Counts:
    flows: int
    signatures: int
    audit: int


async def counts(db: Database) -> Counts:
    """Rows of approval_flow, approval_signature and audit_entry: negative tests compare before and after."""
    async with db.session(write=False) as session:

        async def count(model: type[Any]) -> int:
            return int((await session.execute(select(func.count()).select_from(model))).scalar_one())

        return Counts(
            flows=await count(ApprovalFlow), signatures=await count(ApprovalSignature), audit=await count(AuditEntry)
        )


async def signature_rows(db: Database, flow_id: int) -> list[ApprovalSignature]:
    """Every signature row of a flow (withdrawn ones included), oldest first."""
    async with db.session(write=False) as session:
        stmt = select(ApprovalSignature).where(ApprovalSignature.flow_id == flow_id).order_by(ApprovalSignature.id)
        return list((await session.execute(stmt)).scalars())


async def flow_row(db: Database, flow_id: int) -> ApprovalFlow:
    async with db.session(write=False) as session:
        flow = await session.get(ApprovalFlow, flow_id)
        assert flow is not None
        return flow


def user_officer(user: MadeUser | int, action: str = "must_sign") -> dict[str, Any]:
    return {"kind": "user", "user_id": user if isinstance(user, int) else user.id, "action": action}


def role_officer(role: int, action: str = "must_sign") -> dict[str, Any]:
    return {"kind": "role", "role_id": role, "action": action}


async def make_signer_role(db: Database, slug: str) -> int:
    """A role whose members may sign and read approvals."""
    return await make_role(db, slug=slug, permissions=SIGNER_PERMISSIONS)


async def make_signer(db: Database, username: str, *, role_slug: str | None = None) -> MadeUser:
    """A user allowed to sign: in `role_slug` when given, else in a personal role of their own."""
    if role_slug is None:
        return await make_user(db, username=username, permissions=SIGNER_PERMISSIONS)
    return await make_user(db, username=username, role_slug=role_slug)


def actor_of(user: MadeUser) -> Actor:
    return Actor(user_id=user.id, username=user.username, role_id=user.role_id)


# --------------------------------------------------------------------------------------------
# Over HTTP
# --------------------------------------------------------------------------------------------


async def create_template(
    client: httpx.AsyncClient,
    admin: MadeUser,
    *,
    officers: list[dict[str, Any]],
    object_type: str = "identity.role",
    stage: str = "",
    min_signatures: int = 0,
    sequential: bool = False,
    name: str = "Test template",
) -> dict[str, Any]:
    response = await client.post(
        "/api/approvals/templates",
        json={
            "object_type": object_type,
            "stage": stage,
            "name": name,
            "officers": officers,
            "min_signatures": min_signatures,
            "sequential": sequential,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def start_flow(
    client: httpx.AsyncClient, admin: MadeUser, *, object_id: int, object_type: str = "identity.role", stage: str = ""
) -> dict[str, Any]:
    response = await client.post(
        "/api/approvals/flows",
        json={"object_type": object_type, "object_id": object_id, "stage": stage},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign(
    client: httpx.AsyncClient,
    user: MadeUser,
    flow_id: int,
    *,
    decision: str = "approve",
    reason: str | None = None,
    meaning: str | None = None,
    password: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"password": user.password if password is None else password, "decision": decision}
    if reason is not None:
        body["reason"] = reason
    if meaning is not None:
        body["meaning"] = meaning
    return await client.post(f"/api/approvals/flows/{flow_id}/sign", json=body, headers=user.headers)


async def withdraw(
    client: httpx.AsyncClient, actor: MadeUser, flow_id: int, user_id: int, *, reason: str = "signed by mistake"
) -> httpx.Response:
    return await client.request(
        "DELETE", f"/api/approvals/flows/{flow_id}/signatures/{user_id}", json={"reason": reason}, headers=actor.headers
    )


async def get_flow(client: httpx.AsyncClient, viewer: MadeUser, flow_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/approvals/flows/{flow_id}", headers=viewer.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------------------------
# Through the service (no password check: fast, and gives the session's published events)
# --------------------------------------------------------------------------------------------


def context(actor: Actor, reason: str = "approval test") -> ChangeContext:
    return ChangeContext(actor=actor, reason=reason)


async def service_template(
    db: Database,
    *,
    officers: list[dict[str, Any]],
    object_type: str,
    stage: str = "",
    min_signatures: int = 0,
    sequential: bool = False,
) -> int:
    data = TemplateCreate(
        object_type=object_type,
        stage=stage,
        name=f"{object_type} {stage}".strip(),
        officers=[OfficerIn.model_validate(o) for o in officers],
        min_signatures=min_signatures,
        sequential=sequential,
    )
    actor = Actor.system("test")
    async with db.unit_of_work(context(actor)) as session:
        template = await approval_service.create_template(session, actor, data=data)
        return template.id


@dataclass(frozen=True)
class Outcome:
    """A flow after a service call, and the events that call published."""

    flow_id: int
    status: str
    events: list[events.Event]


async def service_start(db: Database, *, object_type: str, object_id: int, stage: str = "") -> Outcome:
    actor = Actor.system("test")
    async with db.unit_of_work(context(actor)) as session:
        flow = await approval_service.start_flow(
            session, actor, object_type=object_type, object_id=object_id, stage=stage
        )
        return Outcome(flow.id, flow.status, list(events.recorded(session)))


async def service_sign(
    db: Database, user: MadeUser, flow_id: int, *, decision: Decision = Decision.APPROVE, reason: str | None = None
) -> Outcome:
    actor = actor_of(user)
    async with db.unit_of_work(context(actor)) as session:
        flow = await approval_service.sign(
            session,
            actor,
            flow_id=flow_id,
            decision=decision,
            meaning=None,
            reason=reason,
            ip_address="127.0.0.1",
            user_agent="tests",
            secret=SECRET,
        )
        return Outcome(flow.id, flow.status, list(events.recorded(session)))


async def service_withdraw(
    db: Database, actor: MadeUser | Actor, flow_id: int, user_id: int, *, reason: str = "signed by mistake"
) -> Outcome:
    who = actor if isinstance(actor, Actor) else actor_of(actor)
    async with db.unit_of_work(context(who)) as session:
        flow = await approval_service.withdraw_signature(
            session, who, flow_id=flow_id, user_id=user_id, reason=reason, secret=SECRET
        )
        return Outcome(flow.id, flow.status, list(events.recorded(session)))


async def service_cancel(db: Database, flow_id: int, *, reason: str = "object cancelled") -> Outcome:
    actor = Actor.system("owner")
    async with db.unit_of_work(context(actor)) as session:
        flow = await approval_service.cancel_flow(session, actor, flow_id=flow_id, reason=reason)
        return Outcome(flow.id, flow.status, list(events.recorded(session)))
