"""Errors of the audit domain."""

from depotflow.core.errors import Conflict


class UnattributedChange(Conflict):
    code = "audit.unattributed_change"
