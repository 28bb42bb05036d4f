"""Companies: suppliers, manufacturers and customers, and the parts suppliers sell."""
