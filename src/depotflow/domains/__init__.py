"""Domain packages: each owns its tables, rules, routes and tests."""
