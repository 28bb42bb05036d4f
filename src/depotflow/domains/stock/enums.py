"""Closed vocabularies of the stock domain."""

from enum import StrEnum


class LocationType(StrEnum):
    WAREHOUSE = "warehouse"
    PRODUCTION = "production"
    LABORATORY = "laboratory"
    OTHER = "other"


class MovementKind(StrEnum):
    """What moved stock. The sign of a movement's quantity follows from its kind (adjustments: either)."""

    RECEIPT = "receipt"
    CONSUMPTION = "consumption"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    SCRAP = "scrap"
    SAMPLING = "sampling"
    REVERSAL = "reversal"


INCREASING = frozenset({MovementKind.RECEIPT, MovementKind.TRANSFER_IN})
DECREASING = frozenset({MovementKind.CONSUMPTION, MovementKind.TRANSFER_OUT, MovementKind.SCRAP, MovementKind.SAMPLING})


class StatusSlug(StrEnum):
    """The stock statuses the code relies on (seeded by migration; more may be added as data)."""

    OK = "ok"
    QUARANTINE = "quarantine"
    QUARANTINE_TRANSFERABLE = "quarantine_transferable"
    REJECTED = "rejected"
    DAMAGED = "damaged"
    EXPIRED = "expired"


QUARANTINE_SLUGS = frozenset({StatusSlug.QUARANTINE, StatusSlug.QUARANTINE_TRANSFERABLE})


class QcResult(StrEnum):
    PENDING = "pending"
    CONFORM = "conform"
    NON_CONFORM = "non_conform"


# The approval object type of a QC confirmation and its stage.
QC_OBJECT_TYPE = "stock.qc_record"
QC_STAGE = "release"
