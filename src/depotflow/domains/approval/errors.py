"""Errors of the approval domain."""

from depotflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class TemplateNotFound(NotFound):
    code = "approval.template_not_found"


class FlowNotFound(NotFound):
    code = "approval.flow_not_found"


class SignatureNotFound(NotFound):
    code = "approval.signature_not_found"


class ObjectNotFound(NotFound):
    code = "approval.object_not_found"


class UnknownObjectType(ValidationFailed):
    code = "approval.unknown_object_type"


class InvalidOfficers(ValidationFailed):
    code = "approval.invalid_officers"


class TemplateExists(Conflict):
    code = "approval.template_exists"


class TemplateInactive(Conflict):
    code = "approval.template_inactive"


class TemplateMismatch(ValidationFailed):
    code = "approval.template_mismatch"


class FlowExists(Conflict):
    code = "approval.flow_exists"


class FlowClosed(Conflict):
    code = "approval.flow_closed"


class AlreadySigned(Conflict):
    code = "approval.already_signed"


class NotAnOfficer(PermissionDenied):
    code = "approval.not_an_officer"


class NoOpenSlot(Conflict):
    code = "approval.no_open_slot"


class NotYourTurn(Conflict):
    code = "approval.not_your_turn"


class RejectionNeedsMustSign(Conflict):
    code = "approval.rejection_not_allowed"


class ReasonRequired(ValidationFailed):
    code = "approval.reason_required"


class WithdrawalRefused(Conflict):
    code = "approval.withdrawal_refused"


class SigningRefused(Conflict):
    """The object's owner refuses signatures now (e.g. the order is no longer pending, or is empty)."""

    code = "approval.signing_refused"


class ContentChanged(Conflict):
    """The object changed after the signer saw it: what they would sign is not what they read."""

    code = "approval.content_changed"
