"""Completion matrix of approval flows (pure and over HTTP), templates, snapshots, closed flows, roles and withdrawal."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from depotflow.core.db import Database
from depotflow.core.errors import DepotflowError
from depotflow.domains.approval import policy
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import CLOSED, Decision, FlowStatus
from depotflow.domains.approval.errors import AlreadySigned, FlowClosed, ReasonRequired
from depotflow.domains.approval.models import ApprovalTemplate
from depotflow.domains.approval.schemas import ObjectDescription
from tests.factories.approval import (
    counts,
    create_template,
    get_flow,
    make_signer,
    make_signer_role,
    role_officer,
    service_cancel,
    service_sign,
    service_start,
    service_template,
    sign,
    signature_rows,
    start_flow,
    user_officer,
    withdraw,
)
from tests.factories.audit import entry_count
from tests.factories.identity import MadeUser, make_admin, make_role

pytestmark = pytest.mark.anyio

# --------------------------------------------------------------------------------------------
# The matrix: officers "kind:name:action", a minimum, sequential or not, and signing steps
# --------------------------------------------------------------------------------------------

# Who holds which shared role; everyone else has a personal role of their own.
MEMBERS = {"q1": "qa", "q2": "qa", "m1": "mgr"}
PEOPLE = ("a", "b", "c", "q1", "q2", "m1", "x")
ROLES = ("qa", "mgr")
REASON = "not acceptable"


@dataclass(frozen=True)
class Case:
    """`steps`: (signer, expected); a signer ending in "!" rejects. Expected is `status@slot` or an error code."""

    name: str
    officers: tuple[str, ...]
    min_signatures: int
    sequential: bool
    steps: tuple[tuple[str, str], ...]
    http: bool = False  # also run end to end


CASES = [
    Case("one user must_sign", ("user:a:must",), 0, False, (("b", "not_an_officer"), ("a", "approved@0")), http=True),
    Case(
        "any one member fills a role slot",
        ("role:qa:must",),
        0,
        False,
        (("x", "not_an_officer"), ("q2", "approved@0"), ("q1", "flow_closed")),
    ),
    Case(
        "a role slot is filled once",
        ("role:qa:must", "user:a:must"),
        0,
        False,
        (("q1", "in_progress@0"), ("q2", "no_open_slot"), ("q1", "already_signed"), ("a", "approved@1")),
        http=True,
    ),
    Case(
        "must_sign officers sign in any order",
        ("user:a:must", "user:b:must"),
        0,
        False,
        (("b", "in_progress@1"), ("b", "already_signed"), ("a", "approved@0")),
    ),
    Case(
        "one of two can_sign officers is enough",
        ("user:a:must", "user:b:can", "user:c:can"),
        1,
        False,
        (("a", "in_progress@0"), ("c", "approved@2"), ("b", "flow_closed")),
    ),
    Case(
        "can_sign signatures before the must_sign one",
        ("user:a:must", "user:b:can", "user:c:can"),
        2,
        False,
        (("b", "in_progress@1"), ("c", "in_progress@2"), ("a", "approved@0")),
    ),
    Case(
        "minimum of can_sign officers without must_sign",
        ("user:a:can", "user:b:can", "role:qa:can"),
        2,
        False,
        (("q1", "in_progress@2"), ("q2", "no_open_slot"), ("a", "approved@0")),
        http=True,
    ),
    Case(
        "can_sign officers are optional at minimum 0",
        ("user:a:must", "user:b:can"),
        0,
        False,
        (("a", "approved@0"), ("b", "flow_closed")),
    ),
    Case(
        "a can_sign officer cannot reject",
        ("user:a:must", "user:b:can"),
        1,
        False,
        (("b!", "rejection_not_allowed"), ("a!", "rejected@0"), ("b", "flow_closed")),
        http=True,
    ),
    Case(
        "a must_sign rejection wins over earlier approvals",
        ("role:qa:must", "user:a:must", "user:b:can"),
        1,
        False,
        (("b", "in_progress@2"), ("q1", "in_progress@0"), ("a!", "rejected@1"), ("q2", "flow_closed")),
    ),
    Case(
        "a role member rejects through the role slot",
        ("role:qa:must", "user:a:must"),
        0,
        False,
        (("q2!", "rejected@0"),),
    ),
    Case(
        "a user officer in the role fills their own slot first",
        ("role:qa:must", "user:q1:must"),
        0,
        False,
        (("q1", "in_progress@1"), ("q2", "approved@0")),
        http=True,
    ),
    Case(
        "a role colleague first, then the user officer",
        ("role:qa:must", "user:q1:must"),
        0,
        False,
        (("q2", "in_progress@0"), ("q1", "approved@1")),
    ),
    Case(
        "two roles and a user with a minimum of two",
        ("user:a:must", "role:qa:can", "role:mgr:can"),
        2,
        False,
        (("q1", "in_progress@1"), ("m1", "in_progress@2"), ("a", "approved@0")),
    ),
    Case(
        "sequential: slots open in order",
        ("user:a:must", "role:qa:must", "user:b:can"),
        1,
        True,
        (
            ("b", "not_your_turn"),
            ("q1", "not_your_turn"),
            ("a", "in_progress@0"),
            ("b", "not_your_turn"),
            ("q1", "in_progress@1"),
            ("b", "approved@2"),
        ),
        http=True,
    ),
    Case(
        "sequential: can_sign slots do not gate later slots",
        ("user:a:can", "user:b:must", "user:c:must"),
        1,
        True,
        (("c", "not_your_turn"), ("b", "in_progress@1"), ("c", "in_progress@2"), ("a", "approved@0")),
    ),
    Case(
        "sequential: a rejection waits for its turn too",
        ("user:a:must", "user:b:must"),
        0,
        True,
        (("b!", "not_your_turn"), ("a", "in_progress@0"), ("b!", "rejected@1"), ("a", "flow_closed")),
    ),
    Case(
        "sequential: a user officer waits for their own slot instead of taking the role's",
        ("role:qa:can", "user:a:must", "user:q1:must"),
        1,
        True,
        (("q1", "not_your_turn"), ("q2", "in_progress@0"), ("a", "in_progress@1"), ("q1", "approved@2")),
        http=True,
    ),
    Case(
        "sequential without must_sign officers: every slot is open",
        ("user:a:can", "user:b:can"),
        1,
        True,
        (("b", "approved@1"),),
    ),
]

USER_IDS = {name: i for i, name in enumerate(PEOPLE, start=1)}
ROLE_IDS = {"qa": 100, "mgr": 101}


def _role_of(name: str) -> int:
    return ROLE_IDS[MEMBERS[name]] if name in MEMBERS else 200 + USER_IDS[name]


def _raw_officers(case: Case, user_ids: dict[str, int], role_ids: dict[str, int]) -> list[dict[str, Any]]:
    out = []
    for spec in case.officers:
        kind, name, action = spec.split(":")
        if kind == "user":
            out.append(user_officer(user_ids[name], f"{action}_sign"))
        else:
            out.append(role_officer(role_ids[name], f"{action}_sign"))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_completion_matrix_rules(case: Case) -> None:
    """The pure rules, applied as the service applies them (closed flows and second signatures refused)."""
    officers = policy.officers_from(_raw_officers(case, USER_IDS, ROLE_IDS))
    policy.validate_officers(officers, case.min_signatures)
    signatures: list[policy.Signed] = []
    status = FlowStatus.PENDING
    for signer, expected in case.steps:
        name = signer.rstrip("!")
        decision = Decision.REJECT if signer.endswith("!") else Decision.APPROVE
        try:
            if status in CLOSED:
                raise FlowClosed("closed")
            if any(s.user_id == USER_IDS[name] for s in signatures):
                raise AlreadySigned("again")
            officer = policy.choose_slot(
                officers,
                signatures,
                user_id=USER_IDS[name],
                role_id=_role_of(name),
                decision=decision,
                sequential=case.sequential,
            )
        except DepotflowError as exc:
            outcome = exc.code.removeprefix("approval.")
        else:
            signatures.append(policy.Signed(user_id=USER_IDS[name], slot=officer.slot, decision=decision))
            status = policy.derive_status(officers, signatures, case.min_signatures)
            outcome = f"{status.value}@{officer.slot}"
        assert (signer, outcome) == (signer, expected)


HTTP_CASES = [c for c in CASES if c.http]


@pytest.mark.parametrize("case", HTTP_CASES, ids=[c.name for c in HTTP_CASES])
async def test_completion_matrix_end_to_end(case: Case, client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    role_ids = {slug: await make_signer_role(database, slug) for slug in ROLES}
    users = {name: await make_signer(database, name, role_slug=MEMBERS.get(name)) for name in PEOPLE}
    await create_template(
        client,
        admin,
        officers=_raw_officers(case, {n: u.id for n, u in users.items()}, role_ids),
        min_signatures=case.min_signatures,
        sequential=case.sequential,
    )
    flow = await start_flow(client, admin, object_id=role_ids["qa"])
    assert flow["status"] == "pending"
    signed = 0
    for signer, expected in case.steps:
        name = signer.rstrip("!")
        rejecting = signer.endswith("!")
        before = await counts(database)
        response = await sign(
            client,
            users[name],
            flow["id"],
            decision="reject" if rejecting else "approve",
            reason=REASON if rejecting else None,
        )
        if "@" in expected:
            status, slot = expected.split("@")
            assert response.status_code == 200, (signer, response.text)
            body = response.json()
            signed += 1
            assert body["status"] == status
            assert len(body["signatures"]) == signed
            last = body["signatures"][-1]
            assert (last["user_id"], last["slot"], last["decision"]) == (
                users[name].id,
                int(slot),
                "reject" if rejecting else "approve",
            )
            assert last["reason"] == (REASON if rejecting else None)
        else:
            status_code = 403 if expected == "not_an_officer" else 409
            assert (signer, response.status_code, response.json()["code"]) == (
                signer,
                status_code,
                f"approval.{expected}",
            )
            assert await counts(database) == before
    final = await get_flow(client, admin, flow["id"])
    assert len(final["signatures"]) == signed
    assert (final["completed_at"] is not None) == (final["status"] in {"approved", "rejected"})
    assert (await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=admin.headers)).json()["ok"] is True


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


async def _template_count(database: Database) -> int:
    async with database.session(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(ApprovalTemplate))).scalar_one())


async def test_templates_with_invalid_officers_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    qa = await make_signer_role(database, "qa")
    cases: list[tuple[list[dict[str, Any]], int, list[str]]] = [
        ([user_officer(999_999)], 0, ["officer 0: user 999999 does not exist"]),
        ([user_officer(a), role_officer(888_888, "can_sign")], 1, ["officer 1: role 888888 does not exist"]),
        ([user_officer(a), user_officer(a, "can_sign")], 1, ["officer 1 repeats user " + str(a.id)]),
        ([role_officer(qa), role_officer(qa)], 0, [f"officer 1 repeats role {qa}"]),
        ([user_officer(a), role_officer(qa, "can_sign")], 2, ["min_signatures (2) exceeds the 1 can_sign officer(s)"]),
        ([user_officer(a)], 1, ["min_signatures (1) exceeds the 0 can_sign officer(s)"]),
        (
            [user_officer(a, "can_sign"), role_officer(qa, "can_sign")],
            0,
            ["with no must_sign officer, min_signatures must be at least 1"],
        ),
    ]
    before, audit = await _template_count(database), await entry_count(database)

    for officers, min_signatures, problems in cases:
        response = await client.post(
            "/api/approvals/templates",
            json={
                "object_type": "identity.role",
                "name": "Bad",
                "officers": officers,
                "min_signatures": min_signatures,
            },
            headers=admin.headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "approval.invalid_officers"
        assert response.json()["details"]["problems"] == problems

    assert (await _template_count(database), await entry_count(database)) == (before, audit)


async def test_a_template_update_is_validated_like_a_new_template(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    template = await create_template(
        client, admin, officers=[user_officer(a), user_officer(b, "can_sign")], min_signatures=1
    )
    audit = await entry_count(database)

    too_many = await client.put(
        f"/api/approvals/templates/{template['id']}", json={"min_signatures": 2}, headers=admin.headers
    )
    no_must = await client.put(
        f"/api/approvals/templates/{template['id']}",
        json={"officers": [user_officer(a, "can_sign")], "min_signatures": 0},
        headers=admin.headers,
    )

    assert (too_many.status_code, too_many.json()["code"]) == (422, "approval.invalid_officers")
    assert (no_must.status_code, no_must.json()["code"]) == (422, "approval.invalid_officers")
    assert await entry_count(database) == audit
    stored = (await client.get(f"/api/approvals/templates/{template['id']}", headers=admin.headers)).json()
    assert stored["min_signatures"] == 1
    assert [(o["user_id"], o["action"]) for o in stored["officers"]] == [(a.id, "must_sign"), (b.id, "can_sign")]


async def test_a_running_flow_keeps_the_officers_it_started_with(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    c = await make_signer(database, "c")
    first_role, second_role = await make_signer_role(database, "first"), await make_signer_role(database, "second")
    template = await create_template(client, admin, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_id=first_role)

    changed = await client.put(
        f"/api/approvals/templates/{template['id']}",
        json={"officers": [user_officer(c), user_officer(b, "can_sign")], "min_signatures": 1, "sequential": True},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text

    running = await get_flow(client, admin, flow["id"])
    assert [(o["user_id"], o["action"]) for o in running["officers"]] == [(a.id, "must_sign"), (b.id, "must_sign")]
    assert (running["min_signatures"], running["sequential"], running["waiting_for"]) == (0, False, [0, 1])
    refused = await sign(client, c, flow["id"])
    assert (refused.status_code, refused.json()["code"]) == (403, "approval.not_an_officer")
    assert (await sign(client, b, flow["id"])).json()["status"] == "in_progress"
    assert (await sign(client, a, flow["id"])).json()["status"] == "approved"

    later = await start_flow(client, admin, object_id=second_role)
    assert [(o["user_id"], o["action"]) for o in later["officers"]] == [(c.id, "must_sign"), (b.id, "can_sign")]
    assert (later["min_signatures"], later["sequential"], later["waiting_for"]) == (1, True, [0])


async def test_one_flow_per_object_and_stage(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a)])
    await create_template(client, admin, officers=[user_officer(a)], stage="release")
    await start_flow(client, admin, object_id=target)
    before = await counts(database)

    again = await client.post(
        "/api/approvals/flows", json={"object_type": "identity.role", "object_id": target}, headers=admin.headers
    )

    assert (again.status_code, again.json()["code"]) == (409, "approval.flow_exists")
    assert await counts(database) == before
    released = await start_flow(client, admin, object_id=target, stage="release")
    assert (released["stage"], released["status"]) == ("release", "pending")


# --------------------------------------------------------------------------------------------
# Closed flows, rejection reasons
# --------------------------------------------------------------------------------------------


async def test_closed_flows_take_no_signatures(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    one, two, three = [await make_signer_role(database, s) for s in ("one", "two", "three")]
    await create_template(client, admin, officers=[user_officer(a), user_officer(b, "can_sign")], min_signatures=0)
    approved = await start_flow(client, admin, object_id=one)
    assert (await sign(client, a, approved["id"])).json()["status"] == "approved"
    rejected = await start_flow(client, admin, object_id=two)
    assert (await sign(client, a, rejected["id"], decision="reject", reason=REASON)).json()["status"] == "rejected"
    cancelled = await start_flow(client, admin, object_id=three)
    assert (await service_cancel(database, cancelled["id"])).status == "cancelled"

    for flow in (approved, rejected, cancelled):
        before = await counts(database)
        response = await sign(client, b, flow["id"])
        assert (response.status_code, response.json()["code"]) == (409, "approval.flow_closed")
        assert await counts(database) == before
    with pytest.raises(FlowClosed):
        await service_cancel(database, approved["id"])
    assert (await get_flow(client, admin, cancelled["id"]))["cancelled_reason"] == "object cancelled"


async def test_a_rejection_needs_a_reason(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a)])
    flow = await start_flow(client, admin, object_id=target)
    before = await counts(database)

    response = await client.post(
        f"/api/approvals/flows/{flow['id']}/sign",
        json={"password": a.password, "decision": "reject"},
        headers=a.headers,
    )
    assert response.status_code == 422
    assert await counts(database) == before
    for reason in (None, "", "   "):
        with pytest.raises(ReasonRequired):
            await service_sign(database, a, flow["id"], decision=Decision.REJECT, reason=reason)
    assert await counts(database) == before
    assert (await get_flow(client, admin, flow["id"]))["status"] == "pending"


# --------------------------------------------------------------------------------------------
# Role membership changes after the flow started
# --------------------------------------------------------------------------------------------


async def _move(client: httpx.AsyncClient, admin: MadeUser, user: MadeUser, role: int) -> None:
    response = await client.put(f"/api/users/{user.id}", json={"role_id": role}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["role"]["id"] == role


async def test_role_membership_is_read_at_signing_time(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    qa = await make_signer_role(database, "qa")
    other = await make_signer_role(database, "other")
    leaver = await make_signer(database, "leaver", role_slug="qa")
    joiner = await make_signer(database, "joiner", role_slug="other")
    boss = await make_signer(database, "boss")
    await create_template(client, admin, officers=[role_officer(qa), user_officer(boss)])
    flow = await start_flow(client, admin, object_id=other)

    await _move(client, admin, leaver, other)
    before = await counts(database)
    refused = await sign(client, leaver, flow["id"])
    assert (refused.status_code, refused.json()["code"]) == (403, "approval.not_an_officer")
    assert await counts(database) == before

    await _move(client, admin, joiner, qa)
    joined = await sign(client, joiner, flow["id"])
    assert joined.status_code == 200, joined.text
    assert (joined.json()["status"], joined.json()["signatures"][0]["slot"]) == ("in_progress", 0)

    await _move(client, admin, joiner, other)  # leaving the role does not undo the signature
    done = await sign(client, boss, flow["id"])
    assert done.json()["status"] == "approved"
    assert [(s["user_id"], s["slot"], s["withdrawn_at"]) for s in done.json()["signatures"]] == [
        (joiner.id, 0, None),
        (boss.id, 1, None),
    ]
    assert (await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=admin.headers)).json()["ok"] is True


async def test_a_signature_stays_valid_after_its_signer_leaves_the_role(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    qa = await make_signer_role(database, "qa")
    other = await make_signer_role(database, "other")
    q1 = await make_signer(database, "q1", role_slug="qa")
    q2 = await make_signer(database, "q2", role_slug="qa")
    a = await make_signer(database, "a")
    await create_template(client, admin, officers=[role_officer(qa), user_officer(a)])
    flow = await start_flow(client, admin, object_id=other)
    assert (await sign(client, q1, flow["id"])).json()["status"] == "in_progress"

    await _move(client, admin, q1, other)
    taken = await sign(client, q2, flow["id"])  # the slot stays filled by q1's signature
    assert (taken.status_code, taken.json()["code"]) == (409, "approval.no_open_slot")
    done = await sign(client, a, flow["id"])

    assert done.json()["status"] == "approved"
    assert [(s["user_id"], s["slot"]) for s in done.json()["signatures"]] == [(q1.id, 0), (a.id, 1)]


# --------------------------------------------------------------------------------------------
# Withdrawal
# --------------------------------------------------------------------------------------------


async def test_withdrawing_from_an_approved_flow_reopens_it_and_keeps_the_row(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_id=target)
    await sign(client, a, flow["id"])
    assert (await sign(client, b, flow["id"])).json()["status"] == "approved"

    reopened = await withdraw(client, admin, flow["id"], b.id, reason="wrong batch")
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert (body["status"], body["completed_at"], body["waiting_for"]) == ("in_progress", None, [1])
    assert [(s["user_id"], s["withdrawn_by_id"], s["withdrawn_reason"]) for s in body["signatures"]] == [
        (a.id, None, None),
        (b.id, admin.id, "wrong batch"),
    ]
    assert body["signatures"][1]["withdrawn_at"] is not None

    emptied = await withdraw(client, admin, flow["id"], a.id)
    assert (emptied.json()["status"], emptied.json()["waiting_for"]) == ("pending", [0, 1])
    before = await counts(database)
    again = await withdraw(client, admin, flow["id"], a.id)
    assert (again.status_code, again.json()["code"]) == (404, "approval.signature_not_found")
    assert await counts(database) == before

    resigned = await sign(client, b, flow["id"])  # a withdrawn signer may sign again
    assert (resigned.json()["status"], resigned.json()["signatures"][-1]["slot"]) == ("in_progress", 1)
    rows = await signature_rows(database, flow["id"])
    assert [(r.user_id, r.withdrawn_at is None) for r in rows] == [(a.id, False), (b.id, False), (b.id, True)]
    assert (await client.get(f"/api/approvals/flows/{flow['id']}/verify", headers=admin.headers)).json()["ok"] is True


async def test_withdrawing_a_rejection_reopens_the_flow(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_id=target)
    await sign(client, a, flow["id"])
    assert (await sign(client, b, flow["id"], decision="reject", reason=REASON)).json()["status"] == "rejected"

    reopened = await withdraw(client, admin, flow["id"], b.id, reason="rejected the wrong flow")

    assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("in_progress", None)
    assert (await sign(client, b, flow["id"])).json()["status"] == "approved"


async def test_withdrawal_of_a_cancelled_flow_or_a_missing_signature_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    target = await make_signer_role(database, "target")
    await create_template(client, admin, officers=[user_officer(a), user_officer(b)])
    flow = await start_flow(client, admin, object_id=target)
    await sign(client, a, flow["id"])
    before = await counts(database)

    missing = await withdraw(client, admin, flow["id"], b.id)
    unknown = await client.request(
        "DELETE", f"/api/approvals/flows/999999/signatures/{a.id}", json={"reason": "x"}, headers=admin.headers
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "approval.signature_not_found")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "approval.flow_not_found")
    assert await counts(database) == before

    await service_cancel(database, flow["id"])
    before = await counts(database)
    closed = await withdraw(client, admin, flow["id"], a.id)
    assert (closed.status_code, closed.json()["code"]) == (409, "approval.flow_closed")
    assert await counts(database) == before
    assert [r.withdrawn_at for r in await signature_rows(database, flow["id"])] == [None]


# --------------------------------------------------------------------------------------------
# Who is awaited
# --------------------------------------------------------------------------------------------


async def test_pending_lists_the_flows_a_user_can_sign_now(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)
    qa = await make_signer_role(database, "qa")
    q1 = await make_signer(database, "q1", role_slug="qa")
    a = await make_signer(database, "a")
    b = await make_signer(database, "b")
    one, two = await make_signer_role(database, "one"), await make_signer_role(database, "two")
    await create_template(client, admin, officers=[user_officer(a), role_officer(qa), user_officer(b)], sequential=True)
    first = await start_flow(client, admin, object_id=one)
    second = await start_flow(client, admin, object_id=two)

    async def pending(user: MadeUser) -> list[int]:
        response = await client.get("/api/approvals/pending", headers=user.headers)
        assert response.status_code == 200, response.text
        return [f["id"] for f in response.json()["items"]]

    assert (await pending(a), await pending(q1), await pending(b)) == ([first["id"], second["id"]], [], [])
    await sign(client, a, first["id"])
    assert (await pending(a), await pending(q1), await pending(b)) == ([second["id"]], [first["id"]], [])
    await sign(client, q1, first["id"])
    assert (await pending(a), await pending(q1), await pending(b)) == ([second["id"]], [], [first["id"]])
    flow = await get_flow(client, admin, first["id"])
    assert (flow["status"], flow["waiting_for"]) == ("in_progress", [2])


async def test_pending_does_not_offer_a_slot_the_user_must_not_take(
    client: httpx.AsyncClient, database: Database
) -> None:
    admin = await make_admin(database)
    await make_signer_role(database, "qa")
    q1 = await make_signer(database, "q1", role_slug="qa")
    q2 = await make_signer(database, "q2", role_slug="qa")
    a = await make_signer(database, "a")
    qa = q1.role_id
    assert qa is not None
    target = await make_signer_role(database, "target")
    await create_template(
        client,
        admin,
        officers=[role_officer(qa, "can_sign"), user_officer(a), user_officer(q1)],
        min_signatures=1,
        sequential=True,
    )
    flow = await start_flow(client, admin, object_id=target)

    for user, expected in ((q1, []), (q2, [flow["id"]]), (a, [flow["id"]])):
        response = await client.get("/api/approvals/pending", headers=user.headers)
        assert [f["id"] for f in response.json()["items"]] == expected, user.username


# --------------------------------------------------------------------------------------------
# Through the service: object types and flows that do not exist
# --------------------------------------------------------------------------------------------


async def _describe_nothing(session: Any, object_id: int) -> ObjectDescription | None:
    return None


approval_service.register_object_type("test.matrix.ghost", approval_service.ObjectType(describe=_describe_nothing))


async def test_flows_need_an_existing_object_of_a_known_type_and_a_template(database: Database) -> None:
    a = await make_signer(database, "a")
    role = await make_role(database, slug="subject", permissions=[])
    await service_template(database, officers=[user_officer(a)], object_type="test.matrix.ghost")
    before = await counts(database)

    for object_type, object_id, stage, code in (
        ("test.matrix.unknown", role, "", "approval.unknown_object_type"),
        ("test.matrix.ghost", role, "", "approval.object_not_found"),
        ("identity.role", 999_999, "", "approval.object_not_found"),
        ("identity.role", role, "", "approval.template_not_found"),
    ):
        with pytest.raises(DepotflowError) as caught:
            await service_start(database, object_type=object_type, object_id=object_id, stage=stage)
        assert caught.value.code == code

    assert await counts(database) == before
