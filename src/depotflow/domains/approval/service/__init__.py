"""Approval use cases; the public surface of the domain.

Business domains register their object types (`register_object_type`, wired in `wiring.py`): how to
describe an object and its canonical content, and what to do when a flow completes. This domain never
imports them.
"""

from depotflow.domains.approval.policy import Officer
from depotflow.domains.approval.service.flows import (
    cancel_flow,
    find_flow,
    flow_reads,
    flows_for_objects,
    get_flow,
    list_flows,
    list_waiting_for,
    start_flow,
)
from depotflow.domains.approval.service.registry import (
    Describe,
    FlowHook,
    ObjectType,
    WithdrawCheck,
    content_digest,
    describe_object,
    register_object_type,
    registered_object_types,
)
from depotflow.domains.approval.service.signatures import (
    all_flow_ids,
    sign,
    verify_flow,
    withdraw_signature,
)
from depotflow.domains.approval.service.templates import (
    create_template,
    get_template,
    list_templates,
    retire_template,
    template_read,
    template_reads,
    update_template,
)

__all__ = [
    "Describe",
    "FlowHook",
    "ObjectType",
    "Officer",
    "WithdrawCheck",
    "all_flow_ids",
    "cancel_flow",
    "content_digest",
    "create_template",
    "describe_object",
    "find_flow",
    "flow_reads",
    "flows_for_objects",
    "get_flow",
    "get_template",
    "list_flows",
    "list_templates",
    "list_waiting_for",
    "register_object_type",
    "registered_object_types",
    "retire_template",
    "sign",
    "start_flow",
    "template_read",
    "template_reads",
    "update_template",
    "verify_flow",
    "withdraw_signature",
]
