"""Stock: locations, stock statuses, lots and the one append-only movement ledger."""
