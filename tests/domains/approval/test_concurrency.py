"""Concurrent signatures, starts and cancellations lose nothing and deadlock nowhere, on both databases."""

import asyncio

import httpx
import pytest

from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.errors import FlowClosed, TemplateNotFound
from depotflow.domains.approval.schemas import TemplateUpdate
from depotflow.domains.audit import service as audit_service
from tests.factories.approval import (
    context,
    counts,
    create_template,
    flow_row,
    get_flow,
    make_signer,
    make_signer_role,
    role_officer,
    service_sign,
    service_start,
    service_template,
    sign,
    signature_rows,
    start_flow,
    user_officer,
)
from tests.factories.audit import entries
from tests.factories.identity import make_admin

pytestmark = pytest.mark.anyio


async def _verified(client: httpx.AsyncClient, admin_headers: dict[str, str], flow_id: int) -> bool:
    report = await client.get(f"/api/approvals/flows/{flow_id}/verify", headers=admin_headers)
    return bool(report.json()["ok"])


async def test_two_officers_signing_at_once_both_count(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_id=target)

    first, second = await asyncio.gather(sign(client, a, flow["id"]), sign(client, b, flow["id"]))

    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert sorted([first.json()["status"], second.json()["status"]]) == ["approved", "in_progress"]
    final = await get_flow(client, admin, flow["id"])
    assert final["status"] == "approved"
    assert sorted((s["user_id"], s["slot"]) for s in final["signatures"]) == [(a.id, 0), (b.id, 1)]
    assert await _verified(client, admin.headers, flow["id"])


async def test_four_officers_signing_at_once_approve_exactly_once(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    qa = await make_signer_role(database, "qa")
    q1 = await make_signer(database, "q1", role_slug="qa")
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    c = await make_signer(database, "c")
    target = await make_signer_role(database, "target")
    await create_template(
        client,
        admin,
        officers=[user_officer(a), role_officer(qa), user_officer(b, "can_sign"), user_officer(c, "can_sign")],
        min_signatures=2,
    )
    flow = await start_flow(client, admin, object_id=target)

    responses = await asyncio.gather(*(sign(client, u, flow["id"]) for u in (a, q1, b, c)))

    assert [r.status_code for r in responses] == [200, 200, 200, 200], [r.text for r in responses]
    assert sorted(r.json()["status"] for r in responses) == ["approved", "in_progress", "in_progress", "in_progress"]
    final = await get_flow(client, admin, flow["id"])
    assert final["status"] == "approved"
    assert sorted((s["user_id"], s["slot"]) for s in final["signatures"]) == sorted(
        [(a.id, 0), (q1.id, 1), (b.id, 2), (c.id, 3)]
    )
    assert await _verified(client, admin.headers, flow["id"])


async def test_a_double_submitted_signature_is_recorded_once(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_id=target)

    responses = await asyncio.gather(sign(client, a, flow["id"]), sign(client, a, flow["id"]))

    outcomes = sorted((r.status_code, r.json().get("code", r.json().get("status"))) for r in responses)
    assert outcomes == [(200, "in_progress"), (409, "approval.already_signed")]
    assert [(r.user_id, r.slot) for r in await signature_rows(database, flow["id"])] == [(a.id, 0)]


async def test_two_role_members_racing_for_one_slot_fill_it_once(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    qa = await make_signer_role(database, "qa")
    q1 = await make_signer(database, "q1", role_slug="qa")
    q2 = await make_signer(database, "q2", role_slug="qa")
    a = await make_signer(database, "a")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[role_officer(qa), user_officer(a)])
    flow = await start_flow(client, admin, object_id=target)

    responses = await asyncio.gather(sign(client, q1, flow["id"]), sign(client, q2, flow["id"]))

    outcomes = sorted((r.status_code, r.json().get("code", r.json().get("status"))) for r in responses)
    assert outcomes == [(200, "in_progress"), (409, "approval.no_open_slot")]
    rows = await signature_rows(database, flow["id"])
    assert [(r.slot, r.user_id in (q1.id, q2.id)) for r in rows] == [(0, True)]
    assert (await flow_row(database, flow["id"])).status == "in_progress"


async def test_two_starts_of_the_same_flow_create_one(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a)])
    before = await counts(database)
    body = {"object_type": "identity.role", "object_id": target}

    responses = await asyncio.gather(
        *(client.post("/api/approvals/flows", json=body, headers=admin.headers) for _ in range(2))
    )

    outcomes = sorted((r.status_code, r.json().get("code", r.json().get("status"))) for r in responses)
    assert outcomes == [(201, "pending"), (409, "approval.flow_exists")]
    assert (await counts(database)).flows == before.flows + 1


async def test_a_signature_waits_for_an_owner_that_holds_the_audit_chain(database: Database) -> None:
    """Owners write first and cancel after (head first, rows after): a signature must queue, not deadlock."""
    a = await make_signer(database, "a")
    target = await make_signer_role(database, "target")
    await service_template(database, object_type="identity.role", officers=[user_officer(a)])
    flow = await service_start(database, object_type="identity.role", object_id=target)
    owner_holds_the_chain = asyncio.Event()

    async def owner() -> str:
        actor = Actor.system("owner")
        async with database.unit_of_work(context(actor)) as session:
            await audit_service.lock_chain(session)
            owner_holds_the_chain.set()
            await asyncio.sleep(0.3)  # the signature is under way meanwhile
            cancelled = await approval_service.cancel_flow(session, actor, flow_id=flow.flow_id, reason="order void")
            return cancelled.status

    async def signer() -> str:
        await owner_holds_the_chain.wait()
        return (await service_sign(database, a, flow.flow_id)).status

    owner_outcome, signer_outcome = await asyncio.wait_for(
        asyncio.gather(owner(), signer(), return_exceptions=True), timeout=20
    )

    assert owner_outcome == "cancelled"
    assert isinstance(signer_outcome, FlowClosed), signer_outcome
    assert (await flow_row(database, flow.flow_id)).status == "cancelled"
    assert await signature_rows(database, flow.flow_id) == []


async def test_concurrent_template_changes_record_true_before_values(database: Database) -> None:
    a = await make_signer(database, "a")
    template_id = await service_template(database, object_type="identity.role", officers=[user_officer(a)])
    first_flushed = asyncio.Event()
    actor = Actor.system("editor")

    async def change(name: str, *, first: bool) -> None:
        if not first:
            await first_flushed.wait()
        async with database.unit_of_work(context(actor)) as session:
            await approval_service.update_template(
                session, actor, template_id=template_id, data=TemplateUpdate(name=name)
            )
            if first:
                first_flushed.set()
                await asyncio.sleep(0.3)  # the second change starts meanwhile

    await asyncio.wait_for(asyncio.gather(change("First", first=True), change("Second", first=False)), timeout=20)

    trail = await entries(database, action="approval_template.update")
    assert [(e["changes"]["before"]["name"], e["changes"]["after"]["name"]) for e in trail] == [
        ("identity.role", "First"),
        ("First", "Second"),
    ]


async def test_a_flow_started_while_its_template_is_retired_finds_no_template(database: Database) -> None:
    a = await make_signer(database, "a")
    target = await make_signer_role(database, "target")
    template_id = await service_template(database, object_type="identity.role", officers=[user_officer(a)])
    retired = asyncio.Event()
    actor = Actor.system("editor")

    async def retire() -> bool:
        async with database.unit_of_work(context(actor)) as session:
            deleted = await approval_service.retire_template(session, actor, template_id=template_id)
            retired.set()
            await asyncio.sleep(0.3)  # the flow start begins meanwhile
            return deleted

    async def start() -> str:
        await retired.wait()
        return (await service_start(database, object_type="identity.role", object_id=target)).status

    deleted, started = await asyncio.wait_for(asyncio.gather(retire(), start(), return_exceptions=True), timeout=20)

    assert deleted is True
    assert isinstance(started, TemplateNotFound), started
    assert (await counts(database)).flows == 0
