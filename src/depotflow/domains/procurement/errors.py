"""Errors of procurement."""

from depotflow.core.errors import Conflict, NotFound, ValidationFailed


class OrderNotFound(NotFound):
    code = "procurement.order_not_found"


class LineNotFound(NotFound):
    code = "procurement.line_not_found"


class AttachmentNotFound(NotFound):
    code = "procurement.attachment_not_found"


class QcRecordNotFound(NotFound):
    code = "procurement.qc_record_not_found"


class ReceivedLotNotFound(NotFound):
    """No lot received through procurement has that id."""

    code = "procurement.received_lot_not_found"


class NoApprovalFlow(NotFound):
    code = "procurement.no_approval_flow"


class UnknownReference(ValidationFailed):
    """A body names a supplier, part, location or lot that does not exist or does not fit."""

    code = "procurement.unknown_reference"


class UnknownState(ValidationFailed):
    code = "procurement.unknown_state"


class ReasonRequired(ValidationFailed):
    code = "procurement.reason_required"


class InvalidReceipt(ValidationFailed):
    """Receipt data that cannot be right: a non-warehouse destination, expiry before manufacture..."""

    code = "procurement.invalid_receipt"


class OrderLocked(Conflict):
    """Header and lines change only while the order is pending and nobody has signed it."""

    code = "procurement.order_locked"


class TransitionNotAllowed(Conflict):
    code = "procurement.transition_not_allowed"


class NotPending(Conflict):
    """Signatures are taken only while the order is pending."""

    code = "procurement.not_pending"


class OrderHasNoLines(Conflict):
    code = "procurement.no_lines"


class NotReceivable(Conflict):
    """Receipts are taken only while the order is issued or receiving."""

    code = "procurement.not_receivable"


class OverReceipt(Conflict):
    """The receipt would take the line above what the over-receipt policy allows."""

    code = "procurement.over_receipt"


class LineHasReceipts(Conflict):
    code = "procurement.line_has_receipts"


class OrderClosed(Conflict):
    """The order was closed by a decision (finished short, cancelled, refused): its receipts stay."""

    code = "procurement.order_closed"
