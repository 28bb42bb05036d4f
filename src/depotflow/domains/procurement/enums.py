"""Closed vocabularies of procurement."""

from enum import StrEnum


class OrderState(StrEnum):
    PENDING = "pending"
    ISSUED = "issued"
    RECEIVING = "receiving"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    REFUSED = "refused"


TERMINAL = frozenset({OrderState.FINISHED, OrderState.CANCELLED, OrderState.REFUSED})
RECEIVABLE = frozenset({OrderState.ISSUED, OrderState.RECEIVING})

# The approval object type and its stage.
OBJECT_TYPE = "purchase_order"
