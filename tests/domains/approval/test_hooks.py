"""Owner hooks (approved, rejected, cancelled, reopened, can_withdraw) and the events flows publish."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core import events
from depotflow.core.db import Database
from depotflow.core.errors import Conflict
from depotflow.core.security import Actor
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import Decision
from depotflow.domains.approval.errors import FlowClosed, NotYourTurn, WithdrawalRefused
from depotflow.domains.approval.events import FlowCompleted, FlowWaiting, SignatureWithdrawn
from depotflow.domains.approval.models import ApprovalFlow
from depotflow.domains.approval.schemas import ObjectDescription
from depotflow.domains.identity import service as identity_service
from depotflow.domains.identity.errors import RoleNotFound
from tests.factories.approval import (
    counts,
    create_template,
    flow_row,
    make_signer,
    make_signer_role,
    role_officer,
    service_cancel,
    service_sign,
    service_start,
    service_template,
    service_withdraw,
    sign,
    signature_rows,
    start_flow,
    user_officer,
    withdraw,
)
from tests.factories.identity import make_admin, make_role

pytestmark = pytest.mark.anyio

# The objects of the test types are roles; hooks write into the role's description.
THING = "test.hooks.thing"
LOCKED = "test.hooks.locked"
FAILING = "test.hooks.failing"
BARE = "test.hooks.bare"

hook_calls: list[tuple[str, int, str, str]] = []  # (hook, flow id, flow status the hook saw, actor)
seen_events: list[tuple[type[events.Event], int, str]] = []  # (event type, flow id, status stored in the session)


async def _describe(session: AsyncSession, object_id: int) -> ObjectDescription | None:
    try:
        role = await identity_service.get_role(session, object_id)
    except RoleNotFound:
        return None
    return ObjectDescription(title=f"Thing {role.slug}", content={"slug": role.slug, "description": role.description})


def _hook(name: str) -> approval_service.FlowHook:
    async def hook(session: AsyncSession, actor: Actor, flow: ApprovalFlow) -> None:
        assert session.in_transaction()
        hook_calls.append((name, flow.id, flow.status, actor.username))
        role = await identity_service.get_role(session, flow.object_id)
        role.description = f"{name} {flow.id}"
        await session.flush()

    return hook


async def _refuse_withdrawal(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    hook_calls.append(("can_withdraw", flow.id, flow.status, ""))
    return "The batch was released on the strength of this approval."


async def _approval_fails(session: AsyncSession, actor: Actor, flow: ApprovalFlow) -> None:
    role = await identity_service.get_role(session, flow.object_id)
    role.description = "half done"
    await session.flush()
    raise Conflict("The owner cannot take the approval now.")


async def _allow_withdrawal(session: AsyncSession, flow: ApprovalFlow) -> str | None:
    hook_calls.append(("can_withdraw", flow.id, flow.status, ""))
    return None


HOOKS = {name: _hook(name) for name in ("on_approved", "on_rejected", "on_cancelled", "on_reopened")}
approval_service.register_object_type(
    THING, approval_service.ObjectType(describe=_describe, can_withdraw=_allow_withdrawal, **HOOKS)
)
approval_service.register_object_type(
    LOCKED, approval_service.ObjectType(describe=_describe, can_withdraw=_refuse_withdrawal, **HOOKS)
)
approval_service.register_object_type(
    FAILING, approval_service.ObjectType(describe=_describe, on_approved=_approval_fails)
)
approval_service.register_object_type(BARE, approval_service.ObjectType(describe=_describe))


async def _record_event(session: AsyncSession, event: Any) -> None:
    if event.object_type.startswith("test.hooks."):
        flow = await session.get(ApprovalFlow, event.flow_id)
        assert flow is not None
        seen_events.append((type(event), event.flow_id, flow.status))


for _event_type in (FlowWaiting, FlowCompleted, SignatureWithdrawn):
    events.subscribe(_event_type, _record_event)


@pytest.fixture(autouse=True)
def _fresh_records() -> None:
    hook_calls.clear()
    seen_events.clear()


async def _description(database: Database, role_id: int) -> str:
    async with database.session(write=False) as session:
        return (await identity_service.get_role(session, role_id)).description


# --------------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------------


async def test_on_approved_runs_once_in_the_signing_transaction(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    thing = await make_role(database, slug="thing", permissions=[])
    await create_template(client, admin, object_type=THING, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_type=THING, object_id=thing)

    assert (await sign(client, a, flow["id"])).json()["status"] == "in_progress"
    assert hook_calls == []
    assert (await sign(client, b, flow["id"])).json()["status"] == "approved"

    assert hook_calls == [("on_approved", flow["id"], "approved", "b")]
    assert await _description(database, thing) == f"on_approved {flow['id']}"


async def test_a_failing_hook_undoes_the_signature(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    thing = await make_role(database, slug="thing", permissions=[])
    await create_template(client, admin, object_type=FAILING, officers=[user_officer(a)])
    flow = await start_flow(client, admin, object_type=FAILING, object_id=thing)
    before = await counts(database)

    response = await sign(client, a, flow["id"])

    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    # the signature, the flow's new status and the hook's own change are all gone, with their trail
    assert await counts(database) == before
    assert (await flow_row(database, flow["id"])).status == "pending"
    assert await _description(database, thing) == ""


async def test_on_rejected_runs_when_a_must_sign_officer_refuses(database: Database) -> None:
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(database, object_type=THING, officers=[user_officer(a), user_officer(b)])
    flow = await service_start(database, object_type=THING, object_id=thing)

    await service_sign(database, a, flow.flow_id)
    rejected = await service_sign(database, b, flow.flow_id, decision=Decision.REJECT, reason="wrong spec")

    assert rejected.status == "rejected"
    assert hook_calls == [("on_rejected", flow.flow_id, "rejected", "b")]
    assert await _description(database, thing) == f"on_rejected {flow.flow_id}"
    stored = await flow_row(database, flow.flow_id)
    assert (stored.status, stored.completed_at is not None) == ("rejected", True)


async def test_on_cancelled_runs_when_the_owner_cancels(database: Database) -> None:
    a = await make_signer(database, "a")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(database, object_type=THING, officers=[user_officer(a)])
    flow = await service_start(database, object_type=THING, object_id=thing)

    cancelled = await service_cancel(database, flow.flow_id, reason="order withdrawn")

    assert cancelled.status == "cancelled"
    assert hook_calls == [("on_cancelled", flow.flow_id, "cancelled", "owner")]
    assert cancelled.events == [
        FlowCompleted(flow_id=flow.flow_id, object_type=THING, object_id=thing, stage="", status="cancelled")
    ]
    stored = await flow_row(database, flow.flow_id)
    assert (stored.status, stored.cancelled_reason, stored.completed_at is not None) == (
        "cancelled",
        "order withdrawn",
        True,
    )
    before = await counts(database)
    with pytest.raises(FlowClosed):
        await service_cancel(database, flow.flow_id)
    assert await counts(database) == before
    assert len(hook_calls) == 1


async def test_on_reopened_runs_when_a_withdrawal_reopens_an_approved_flow(database: Database) -> None:
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(
        database, object_type=THING, officers=[user_officer(a), user_officer(b, "can_sign")], min_signatures=1
    )
    flow = await service_start(database, object_type=THING, object_id=thing)
    await service_sign(database, a, flow.flow_id)
    await service_sign(database, b, flow.flow_id)

    reopened = await service_withdraw(database, a, flow.flow_id, b.id, reason="signed the wrong batch")

    assert reopened.status == "in_progress"
    assert hook_calls == [
        ("on_approved", flow.flow_id, "approved", "b"),
        ("can_withdraw", flow.flow_id, "approved", ""),
        ("on_reopened", flow.flow_id, "in_progress", "a"),
    ]
    assert await _description(database, thing) == f"on_reopened {flow.flow_id}"
    assert (await flow_row(database, flow.flow_id)).completed_at is None
    again = await service_sign(database, b, flow.flow_id)
    assert again.status == "approved"
    assert hook_calls[-1] == ("on_approved", flow.flow_id, "approved", "b")


async def test_on_reopened_runs_when_a_rejection_is_withdrawn(database: Database) -> None:
    a = await make_signer(database, "a")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(database, object_type=THING, officers=[user_officer(a)])
    flow = await service_start(database, object_type=THING, object_id=thing)
    await service_sign(database, a, flow.flow_id, decision=Decision.REJECT, reason="wrong spec")

    reopened = await service_withdraw(database, a, flow.flow_id, a.id)

    assert reopened.status == "pending"
    assert [c[0] for c in hook_calls] == ["on_rejected", "can_withdraw", "on_reopened"]


async def test_a_withdrawal_the_owner_refuses_changes_nothing(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    thing = await make_role(database, slug="thing", permissions=[])
    await create_template(client, admin, object_type=LOCKED, officers=[user_officer(a)])
    flow = await start_flow(client, admin, object_type=LOCKED, object_id=thing)
    assert (await sign(client, a, flow["id"])).json()["status"] == "approved"
    before = await counts(database)

    response = await withdraw(client, admin, flow["id"], a.id)

    assert (response.status_code, response.json()["code"]) == (409, "approval.withdrawal_refused")
    assert response.json()["detail"] == "The batch was released on the strength of this approval."
    assert await counts(database) == before
    assert [r.withdrawn_at for r in await signature_rows(database, flow["id"])] == [None]
    assert (await flow_row(database, flow["id"])).status == "approved"
    assert hook_calls == [("on_approved", flow["id"], "approved", "a"), ("can_withdraw", flow["id"], "approved", "")]
    with pytest.raises(WithdrawalRefused):
        await service_withdraw(database, a, flow["id"], a.id)


async def test_an_owner_without_hooks_still_gets_status_and_events(database: Database) -> None:
    a = await make_signer(database, "a")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(database, object_type=BARE, officers=[user_officer(a)])
    flow = await service_start(database, object_type=BARE, object_id=thing)

    approved = await service_sign(database, a, flow.flow_id)
    reopened = await service_withdraw(database, a, flow.flow_id, a.id)

    assert (approved.status, reopened.status) == ("approved", "pending")
    assert [type(e) for e in approved.events] == [FlowCompleted]
    assert [type(e) for e in reopened.events] == [FlowWaiting, SignatureWithdrawn]
    assert hook_calls == []


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


async def test_events_follow_the_flow_from_start_to_completion(database: Database) -> None:
    qa = await make_signer_role(database, "qa")
    q1 = await make_signer(database, "q1", role_slug="qa")
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(
        database,
        object_type=THING,
        officers=[user_officer(a), role_officer(qa), user_officer(b, "can_sign")],
        min_signatures=1,
    )

    started = await service_start(database, object_type=THING, object_id=thing)
    flow_id = started.flow_id
    first = await service_sign(database, q1, flow_id)
    second = await service_sign(database, a, flow_id)
    done = await service_sign(database, b, flow_id)

    def waiting(slots: tuple[int, ...], user_ids: tuple[int, ...], role_ids: tuple[int, ...]) -> FlowWaiting:
        return FlowWaiting(
            flow_id=flow_id, object_type=THING, object_id=thing, slots=slots, user_ids=user_ids, role_ids=role_ids
        )

    assert started.events == [waiting((0, 1, 2), (a.id, b.id), (qa,))]
    assert first.events == [waiting((0, 2), (a.id, b.id), ())]
    assert second.events == [waiting((2,), (b.id,), ())]
    assert done.events == [
        FlowCompleted(flow_id=flow_id, object_type=THING, object_id=thing, stage="", status="approved")
    ]
    # subscribers run inside the transaction: they see the status the event announces
    assert seen_events == [
        (FlowWaiting, flow_id, "pending"),
        (FlowWaiting, flow_id, "in_progress"),
        (FlowWaiting, flow_id, "in_progress"),
        (FlowCompleted, flow_id, "approved"),
    ]


async def test_sequential_flows_announce_only_the_officers_whose_turn_it_is(database: Database) -> None:
    qa = await make_signer_role(database, "qa")
    q1 = await make_signer(database, "q1", role_slug="qa")
    a = await make_signer(database, "a")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(
        database, object_type=THING, stage="release", officers=[user_officer(a), role_officer(qa)], sequential=True
    )

    started = await service_start(database, object_type=THING, object_id=thing, stage="release")
    first = await service_sign(database, a, started.flow_id)
    done = await service_sign(database, q1, started.flow_id)

    assert [(e.slots, e.user_ids, e.role_ids) for e in started.events if isinstance(e, FlowWaiting)] == [
        ((0,), (a.id,), ())
    ]
    assert [(e.slots, e.user_ids, e.role_ids) for e in first.events if isinstance(e, FlowWaiting)] == [
        ((1,), (), (qa,))
    ]
    assert done.events == [
        FlowCompleted(flow_id=started.flow_id, object_type=THING, object_id=thing, stage="release", status="approved")
    ]


async def test_a_rejection_publishes_a_completed_event(database: Database) -> None:
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(database, object_type=THING, officers=[user_officer(a), user_officer(b)])
    flow = await service_start(database, object_type=THING, object_id=thing)

    rejected = await service_sign(database, b, flow.flow_id, decision=Decision.REJECT, reason="out of spec")

    assert rejected.events == [
        FlowCompleted(flow_id=flow.flow_id, object_type=THING, object_id=thing, stage="", status="rejected")
    ]


async def test_a_withdrawal_publishes_the_new_state_then_the_withdrawal(database: Database) -> None:
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    c = await make_signer(database, "c")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(
        database,
        object_type=THING,
        officers=[user_officer(a), user_officer(b, "can_sign"), user_officer(c, "can_sign")],
        min_signatures=1,
    )
    flow = await service_start(database, object_type=THING, object_id=thing)
    for signer in (b, c, a):
        await service_sign(database, signer, flow.flow_id)
    hook_calls.clear()

    still_approved = await service_withdraw(database, a, flow.flow_id, c.id)
    reopened = await service_withdraw(database, a, flow.flow_id, a.id)

    assert still_approved.events == [
        SignatureWithdrawn(flow_id=flow.flow_id, object_type=THING, object_id=thing, user_id=c.id, status="approved")
    ]
    assert reopened.events == [
        FlowWaiting(
            flow_id=flow.flow_id, object_type=THING, object_id=thing, slots=(0, 2), user_ids=(a.id, c.id), role_ids=()
        ),
        SignatureWithdrawn(
            flow_id=flow.flow_id, object_type=THING, object_id=thing, user_id=a.id, status="in_progress"
        ),
    ]
    assert [c[0] for c in hook_calls] == ["can_withdraw", "can_withdraw", "on_reopened"]


async def test_a_failed_signature_publishes_nothing(database: Database) -> None:
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    thing = await make_role(database, slug="thing", permissions=[])
    await service_template(database, object_type=THING, officers=[user_officer(a), user_officer(b)], sequential=True)
    flow = await service_start(database, object_type=THING, object_id=thing)
    seen_events.clear()
    before = await counts(database)

    with pytest.raises(NotYourTurn):
        await service_sign(database, b, flow.flow_id)

    assert seen_events == []
    assert await counts(database) == before
