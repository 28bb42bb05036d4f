"""The kernel: settings, database, ORM types, errors, listing and security primitives."""
