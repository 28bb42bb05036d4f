"""Alembic migrations: one linear history for every domain, run on SQLite and PostgreSQL."""
