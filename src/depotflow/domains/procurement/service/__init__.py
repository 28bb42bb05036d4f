"""Procurement use cases: the public surface of the procurement domain."""

from depotflow.domains.approval import service as approval_service
from depotflow.domains.procurement.enums import OBJECT_TYPE
from depotflow.domains.procurement.service.orders import (
    can_withdraw,
    change_state,
    create_order,
    describe_order,
    ensure_editable,
    find_flow,
    format_reference,
    get_order,
    list_orders,
    list_states,
    lock_order,
    on_flow_approved,
    on_flow_rejected,
    on_flow_reopened,
    order_reads,
    require_flow,
    start_approval,
    update_documents,
    update_order,
)
from depotflow.domains.procurement.service.receiving import (
    add_line,
    can_sign,
    create_qc_record,
    delete_line,
    line_reads,
    list_lines,
    list_qc_records,
    list_received,
    receive,
    received_lot,
    reversal_refusal,
    reverse,
    update_line,
    update_qc_record,
)


def register_approvals() -> None:
    """Make purchase orders approvable (called from `wiring.configure`)."""
    approval_service.register_object_type(
        OBJECT_TYPE,
        approval_service.ObjectType(
            describe=describe_order,
            on_approved=on_flow_approved,
            on_rejected=on_flow_rejected,
            on_reopened=on_flow_reopened,
            can_withdraw=can_withdraw,
            can_sign=can_sign,
        ),
    )


__all__ = [
    "add_line",
    "change_state",
    "create_order",
    "create_qc_record",
    "delete_line",
    "ensure_editable",
    "find_flow",
    "format_reference",
    "get_order",
    "line_reads",
    "list_lines",
    "list_orders",
    "list_qc_records",
    "list_received",
    "list_states",
    "lock_order",
    "order_reads",
    "receive",
    "received_lot",
    "register_approvals",
    "require_flow",
    "reversal_refusal",
    "reverse",
    "start_approval",
    "update_documents",
    "update_line",
    "update_order",
    "update_qc_record",
]
