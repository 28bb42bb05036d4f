"""Part master data: units of measure, the category tree and parts (the first slice of inventory)."""
