"""Errors of the stock domain."""

from depotflow.core.errors import Conflict, NotFound, ValidationFailed


class LocationNotFound(NotFound):
    code = "stock.location_not_found"


class LotNotFound(NotFound):
    code = "stock.lot_not_found"


class StatusNotFound(NotFound):
    code = "stock.status_not_found"


class QcRecordNotFound(NotFound):
    code = "stock.qc_record_not_found"


class LocationCodeTaken(Conflict):
    code = "stock.location_code_taken"


class LocationCycle(ValidationFailed):
    code = "stock.location_cycle"


class LocationInUse(Conflict):
    """A location with sublocations or stock cannot be deactivated or moved away."""

    code = "stock.location_in_use"


class UnknownReference(ValidationFailed):
    """A body names a location, part or lot that does not exist (or is inactive)."""

    code = "stock.unknown_reference"


class InsufficientStock(Conflict):
    """A movement would take a lot's balance at a location below zero."""

    code = "stock.insufficient"


class BatchCodeTaken(Conflict):
    """Internal batch codes are unique per part."""

    code = "stock.batch_code_taken"


class LotInUse(Conflict):
    """The lot has movements besides its receipt (or QC records): its receipt cannot be reversed."""

    code = "stock.lot_in_use"


class LotReversed(Conflict):
    code = "stock.lot_reversed"


class LotMismatch(ValidationFailed):
    """A body names another lot than the route it was posted to."""

    code = "stock.lot_mismatch"


class InvalidMovement(ValidationFailed):
    code = "stock.invalid_movement"


class NotTransferable(Conflict):
    """The lot's status does not allow moving it between locations."""

    code = "stock.not_transferable"


class QcRecordConfirmed(Conflict):
    """A confirmed QC record is final; a re-test is a new record."""

    code = "stock.qc_confirmed"


class QcResultPending(ValidationFailed):
    """Only a conform or non-conform result can be confirmed."""

    code = "stock.qc_result_pending"


class LotNotInQuarantine(Conflict):
    """QC releases or rejects lots that are still in quarantine."""

    code = "stock.lot_not_in_quarantine"
