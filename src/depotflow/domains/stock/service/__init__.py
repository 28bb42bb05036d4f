"""Stock use cases: the public surface of the stock domain (routers, other domains and the CLI use
only what this package exports)."""

from depotflow.domains.stock.service.consistency import check_ledger
from depotflow.domains.stock.service.ledger import (
    get_lot,
    get_status,
    list_statuses,
    post_movement,
    receive_lot,
    reverse_receipt,
    set_status,
    status_read,
)
from depotflow.domains.stock.service.locations import (
    active_location,
    create_location,
    get_location,
    list_locations,
    location_read,
    location_reads,
    location_tree,
    locations_by_id,
    update_location,
)
from depotflow.domains.stock.service.lots import (
    create_lot_qc_record,
    list_lot_qc_records,
    list_lots,
    list_movements,
    lot_reads,
    movement_read,
    post_manual_movement,
)
from depotflow.domains.stock.service.qc import (
    create_qc_record,
    describe_qc_record,
    get_qc_record,
    has_qc_records,
    qc_reads,
    records_of_lots,
    update_qc_record,
)

__all__ = [
    "active_location",
    "check_ledger",
    "create_location",
    "create_lot_qc_record",
    "create_qc_record",
    "describe_qc_record",
    "get_location",
    "get_lot",
    "get_qc_record",
    "get_status",
    "has_qc_records",
    "list_locations",
    "list_lot_qc_records",
    "list_lots",
    "list_movements",
    "list_statuses",
    "location_read",
    "location_reads",
    "location_tree",
    "locations_by_id",
    "lot_reads",
    "movement_read",
    "post_manual_movement",
    "post_movement",
    "qc_reads",
    "receive_lot",
    "records_of_lots",
    "reverse_receipt",
    "set_status",
    "status_read",
    "update_location",
    "update_qc_record",
]
