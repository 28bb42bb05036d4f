"""Permission slugs of the approval domain."""

VIEW = "approval.view"
CREATE = "approval.create"
SIGN = "approval.sign"
WITHDRAW = "approval.withdraw"
TEMPLATES_MANAGE = "approval.templates.manage"

CATALOGUE = {
    VIEW: "See approval flows, signatures and templates",
    CREATE: "Start an approval flow for an object",
    SIGN: "Sign approval flows one is an officer of",
    WITHDRAW: "Withdraw a signature from a flow, one's own or another's (with a reason)",
    TEMPLATES_MANAGE: "Create, change and retire approval templates",
}
