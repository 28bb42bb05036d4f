"""Permission slugs of the audit domain."""

VIEW = "audit.view"

CATALOGUE = {VIEW: "Read the audit trail"}
