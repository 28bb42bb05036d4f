"""Pure approval rules: officer validation, the slot a signer fills, the status signatures give, who is awaited."""

import pytest

from depotflow.domains.approval import policy
from depotflow.domains.approval.enums import Decision, FlowStatus, OfficerAction, OfficerKind
from depotflow.domains.approval.errors import (
    InvalidOfficers,
    NoOpenSlot,
    NotAnOfficer,
    NotYourTurn,
    RejectionNeedsMustSign,
)

MUST, CAN = OfficerAction.MUST_SIGN, OfficerAction.CAN_SIGN
APPROVE, REJECT = Decision.APPROVE, Decision.REJECT


def user(slot: int, user_id: int, action: OfficerAction = MUST) -> policy.Officer:
    return policy.Officer(slot=slot, kind=OfficerKind.USER, action=action, user_id=user_id)


def role(slot: int, role_id: int, action: OfficerAction = MUST) -> policy.Officer:
    return policy.Officer(slot=slot, kind=OfficerKind.ROLE, action=action, role_id=role_id)


def signed(user_id: int, slot: int, decision: Decision = APPROVE) -> policy.Signed:
    return policy.Signed(user_id=user_id, slot=slot, decision=decision)


def problems(officers: list[policy.Officer], min_signatures: int) -> list[str]:
    with pytest.raises(InvalidOfficers) as caught:
        policy.validate_officers(officers, min_signatures)
    assert caught.value.code == "approval.invalid_officers"
    result = caught.value.details["problems"]
    assert isinstance(result, list)
    return result


# --------------------------------------------------------------------------------------------
# officers_from / validate_officers
# --------------------------------------------------------------------------------------------


def test_officers_from_numbers_slots_in_order_and_reads_kinds_and_actions() -> None:
    raw = [
        {"kind": "role", "role_id": 7, "user_id": None, "action": "must_sign"},
        {"kind": "user", "user_id": 3, "role_id": None, "action": "can_sign"},
    ]

    assert policy.officers_from(raw) == [role(0, 7, MUST), user(1, 3, CAN)]


@pytest.mark.parametrize(
    ("officers", "min_signatures"),
    [
        ([user(0, 1)], 0),
        ([role(0, 1)], 0),
        ([user(0, 1, CAN)], 1),
        ([user(0, 1), role(1, 1)], 0),  # a user and a role with the same id are different officers
        ([user(0, 1), user(1, 2, CAN), role(2, 5, CAN)], 2),
        ([user(0, 1), user(1, 2, CAN), role(2, 5, CAN)], 0),
        ([role(0, 1, CAN), role(1, 2, CAN), role(2, 3, CAN)], 3),
    ],
)
def test_valid_officer_lists_pass(officers: list[policy.Officer], min_signatures: int) -> None:
    policy.validate_officers(officers, min_signatures)


def test_an_empty_officer_list_is_refused() -> None:
    assert problems([], 0) == ["at least one officer is needed"]


def test_a_repeated_user_officer_is_refused_whatever_its_action() -> None:
    assert problems([user(0, 4), user(1, 4, CAN)], 0) == ["officer 1 repeats user 4"]


def test_a_repeated_role_officer_is_refused() -> None:
    assert problems([role(0, 9, CAN), user(1, 2), role(2, 9, CAN)], 1) == ["officer 2 repeats role 9"]


def test_an_officer_naming_nobody_is_refused() -> None:
    nobody = policy.Officer(slot=0, kind=OfficerKind.ROLE, action=MUST, user_id=3)

    assert problems([nobody], 0) == ["officer 0 names no role"]


def test_min_signatures_above_the_can_sign_officers_is_refused() -> None:
    officers = [user(0, 1), user(1, 2, CAN), role(2, 3, CAN)]

    assert problems(officers, 3) == ["min_signatures (3) exceeds the 2 can_sign officer(s)"]


def test_min_signatures_cannot_count_must_sign_officers() -> None:
    assert problems([user(0, 1), user(1, 2)], 1) == ["min_signatures (1) exceeds the 0 can_sign officer(s)"]


def test_without_a_must_sign_officer_at_least_one_signature_is_required() -> None:
    assert problems([user(0, 1, CAN), role(1, 2, CAN)], 0) == [
        "with no must_sign officer, min_signatures must be at least 1"
    ]


def test_a_negative_minimum_is_refused() -> None:
    assert problems([user(0, 1)], -1) == ["min_signatures cannot be negative"]


def test_every_problem_is_reported_at_once() -> None:
    assert problems([user(0, 1, CAN), user(1, 1, CAN)], 3) == [
        "officer 1 repeats user 1",
        "min_signatures (3) exceeds the 2 can_sign officer(s)",
    ]


# --------------------------------------------------------------------------------------------
# choose_slot
# --------------------------------------------------------------------------------------------


def choose(
    officers: list[policy.Officer],
    signatures: list[policy.Signed],
    user_id: int,
    role_id: int | None,
    *,
    decision: Decision = APPROVE,
    sequential: bool = False,
) -> int:
    return policy.choose_slot(
        officers, signatures, user_id=user_id, role_id=role_id, decision=decision, sequential=sequential
    ).slot


def test_someone_who_is_no_officer_cannot_sign() -> None:
    officers = [user(0, 1), role(1, 10, CAN)]

    with pytest.raises(NotAnOfficer) as caught:
        choose(officers, [], user_id=2, role_id=11)
    assert caught.value.code == "approval.not_an_officer"
    with pytest.raises(NotAnOfficer):
        choose(officers, [], user_id=2, role_id=None)


def test_a_role_officer_is_matched_by_the_signers_role_only() -> None:
    officers = [role(0, 10)]

    assert choose(officers, [], user_id=99, role_id=10) == 0
    with pytest.raises(NotAnOfficer):
        choose(officers, [], user_id=10, role_id=None)  # a user id equal to the role id is no match


def test_the_signers_own_must_sign_slot_comes_before_a_role_slot() -> None:
    officers = [role(0, 10), user(1, 1)]

    assert choose(officers, [], user_id=1, role_id=10) == 1


def test_a_role_must_sign_slot_comes_before_the_signers_can_sign_slot() -> None:
    officers = [user(0, 1, CAN), role(1, 10)]

    assert choose(officers, [], user_id=1, role_id=10) == 1


def test_between_can_sign_slots_the_signers_own_comes_first() -> None:
    officers = [role(0, 10, CAN), user(1, 1, CAN)]

    assert choose(officers, [], user_id=1, role_id=10) == 1


def test_a_slot_filled_by_someone_else_is_skipped() -> None:
    officers = [role(0, 10), user(1, 1, CAN)]

    assert choose(officers, [signed(2, 0)], user_id=1, role_id=10) == 1


def test_a_role_slot_is_filled_once_even_if_the_role_has_more_members() -> None:
    officers = [role(0, 10), user(1, 1)]

    with pytest.raises(NoOpenSlot) as caught:
        choose(officers, [signed(2, 0)], user_id=3, role_id=10)
    assert caught.value.code == "approval.no_open_slot"


def test_only_a_must_sign_officer_can_reject() -> None:
    officers = [user(0, 1), role(1, 10, CAN)]

    assert choose(officers, [], user_id=1, role_id=None, decision=REJECT) == 0
    with pytest.raises(RejectionNeedsMustSign) as caught:
        choose(officers, [], user_id=2, role_id=10, decision=REJECT)
    assert caught.value.code == "approval.rejection_not_allowed"


def test_a_rejection_takes_the_must_sign_slot_even_when_a_can_sign_slot_ranks_first() -> None:
    officers = [user(0, 1, CAN), role(1, 10)]

    assert choose(officers, [], user_id=1, role_id=10, decision=REJECT) == 1
    # once the role's slot is taken by a colleague, this signer can no longer reject
    with pytest.raises(RejectionNeedsMustSign):
        choose(officers, [signed(2, 1)], user_id=1, role_id=10, decision=REJECT)


def test_sequential_slots_open_once_every_earlier_must_sign_slot_is_filled() -> None:
    officers = [user(0, 1), user(1, 2), user(2, 3)]

    assert choose(officers, [], user_id=1, role_id=None, sequential=True) == 0
    with pytest.raises(NotYourTurn) as caught:
        choose(officers, [], user_id=2, role_id=None, sequential=True)
    assert caught.value.code == "approval.not_your_turn"
    with pytest.raises(NotYourTurn):
        choose(officers, [signed(1, 0)], user_id=3, role_id=None, sequential=True)
    assert choose(officers, [signed(1, 0)], user_id=2, role_id=None, sequential=True) == 1
    assert choose(officers, [signed(1, 0), signed(2, 1)], user_id=3, role_id=None, sequential=True) == 2


def test_sequential_can_sign_slots_do_not_hold_later_slots_back() -> None:
    officers = [user(0, 1, CAN), user(1, 2), user(2, 3, CAN), user(3, 4)]

    assert choose(officers, [], user_id=2, role_id=None, sequential=True) == 1
    assert choose(officers, [], user_id=1, role_id=None, sequential=True) == 0
    with pytest.raises(NotYourTurn):
        choose(officers, [], user_id=3, role_id=None, sequential=True)
    assert choose(officers, [signed(2, 1)], user_id=4, role_id=None, sequential=True) == 3


def test_sequential_rejection_also_waits_for_its_turn() -> None:
    officers = [user(0, 1), user(1, 2)]

    with pytest.raises(NotYourTurn):
        choose(officers, [], user_id=2, role_id=None, decision=REJECT, sequential=True)
    assert choose(officers, [signed(1, 0)], user_id=2, role_id=None, decision=REJECT, sequential=True) == 1


def test_sequential_a_signer_waits_for_their_own_must_sign_slot_rather_than_spend_their_signature() -> None:
    # user 2 holds role 10. Taking the open role slot would leave their own slot 2 unfillable for
    # ever (one signature per person); they wait for their turn instead.
    officers = [role(0, 10, CAN), user(1, 1), user(2, 2)]

    with pytest.raises(NotYourTurn):
        choose(officers, [], user_id=2, role_id=10, sequential=True)
    assert choose(officers, [], user_id=3, role_id=10, sequential=True) == 0
    assert choose(officers, [signed(1, 1)], user_id=2, role_id=10, sequential=True) == 2


def test_sequential_a_signer_may_reject_through_an_open_role_slot_before_their_own_turn() -> None:
    # a rejection closes the flow: spending the signature on the role's slot blocks nothing
    officers = [role(0, 10), user(1, 1), user(2, 2)]

    assert choose(officers, [], user_id=2, role_id=10, decision=REJECT, sequential=True) == 0


def test_sequential_a_signer_whose_role_slot_is_not_open_may_fill_their_open_can_sign_slot() -> None:
    # user 2 holds role 10; the role's must_sign slot 2 waits for user 1, so user 2 signs their own
    # can_sign slot now and a colleague in role 10 fills slot 2 later.
    officers = [user(0, 2, CAN), user(1, 1), role(2, 10)]

    assert choose(officers, [], user_id=2, role_id=10, sequential=True) == 0
    with pytest.raises(NotYourTurn):
        choose(officers, [signed(2, 0)], user_id=3, role_id=10, sequential=True)
    assert choose(officers, [signed(2, 0), signed(1, 1)], user_id=3, role_id=10, sequential=True) == 2


# --------------------------------------------------------------------------------------------
# derive_status / waiting_for
# --------------------------------------------------------------------------------------------


def test_no_signature_is_pending() -> None:
    assert policy.derive_status([user(0, 1)], [], 0) is FlowStatus.PENDING


def test_a_rejection_by_a_must_sign_officer_rejects_whatever_else_was_signed() -> None:
    officers = [user(0, 1), user(1, 2), user(2, 3, CAN)]

    assert policy.derive_status(officers, [signed(3, 2), signed(2, 1, REJECT)], 1) is FlowStatus.REJECTED


def test_approval_needs_every_must_sign_slot_and_the_minimum_of_can_sign_slots() -> None:
    officers = [user(0, 1), role(1, 10), user(2, 3, CAN), role(3, 11, CAN)]

    assert policy.derive_status(officers, [signed(1, 0)], 1) is FlowStatus.IN_PROGRESS
    assert policy.derive_status(officers, [signed(1, 0), signed(2, 1)], 1) is FlowStatus.IN_PROGRESS
    assert policy.derive_status(officers, [signed(1, 0), signed(2, 1), signed(4, 3)], 1) is FlowStatus.APPROVED
    assert policy.derive_status(officers, [signed(1, 0), signed(2, 1), signed(4, 3)], 2) is FlowStatus.IN_PROGRESS
    assert (
        policy.derive_status(officers, [signed(1, 0), signed(2, 1), signed(4, 3), signed(3, 2)], 2)
        is FlowStatus.APPROVED
    )
    assert policy.derive_status(officers, [signed(3, 2), signed(4, 3)], 2) is FlowStatus.IN_PROGRESS


def test_can_sign_signatures_alone_approve_when_there_is_no_must_sign_officer() -> None:
    officers = [user(0, 1, CAN), user(1, 2, CAN), role(2, 10, CAN)]

    assert policy.derive_status(officers, [signed(5, 2)], 2) is FlowStatus.IN_PROGRESS
    assert policy.derive_status(officers, [signed(5, 2), signed(1, 0)], 2) is FlowStatus.APPROVED


def test_waiting_for_lists_every_unfilled_slot_when_not_sequential() -> None:
    officers = [user(0, 1), role(1, 10), user(2, 3, CAN)]

    assert [o.slot for o in policy.waiting_for(officers, [], sequential=False)] == [0, 1, 2]
    assert [o.slot for o in policy.waiting_for(officers, [signed(5, 1)], sequential=False)] == [0, 2]


def test_waiting_for_lists_only_open_slots_when_sequential() -> None:
    officers = [user(0, 1, CAN), user(1, 2), role(2, 10, CAN), user(3, 4)]

    assert [o.slot for o in policy.waiting_for(officers, [], sequential=True)] == [0, 1]
    assert [o.slot for o in policy.waiting_for(officers, [signed(2, 1)], sequential=True)] == [0, 2, 3]
    assert [o.slot for o in policy.waiting_for(officers, [signed(2, 1), signed(4, 3)], sequential=True)] == [0, 2]
