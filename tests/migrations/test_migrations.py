"""Alembic: one head, upgrade from empty, down/up on the newest revision, models equal migrations."""

import subprocess
import uuid
import warnings
from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from depotflow.core import migrate
from depotflow.core.db import Database
from depotflow.db_registry import metadata
from depotflow.domains.identity.models import Permission, Role
from depotflow.wiring import PERMISSION_CATALOGUE
from tests.conftest import Templates

pytestmark = pytest.mark.anyio


def test_history_has_exactly_one_head() -> None:
    assert len(migrate.heads()) == 1


@pytest.fixture
def empty_url(db_kind: str, templates: Templates, tmp_path: Path) -> str:
    if db_kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    assert templates.pg_server
    name = f"empty_{uuid.uuid4().hex[:12]}"
    subprocess.run(
        ["psql", templates.pg_server, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True
    )
    base = templates.pg_server.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "render_as_batch": True})
    with warnings.catch_warnings():
        # SQLite cannot reflect expression indexes (the case-insensitive batch code index); the test
        # below checks that one by what it refuses.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        return list(compare_metadata(context, metadata))


async def _check(url: str) -> tuple[list[object], str | None, list[str]]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
            revision = await conn.run_sync(migrate.current_revision)
            slugs = sorted((await conn.execute(select(Permission.slug))).scalars())
        return diff, revision, slugs
    finally:
        await db.dispose()


async def test_upgrade_from_empty_reaches_head_and_matches_the_models(empty_url: str) -> None:
    await anyio.to_thread.run_sync(migrate.upgrade, empty_url)

    diff, revision, slugs = await _check(empty_url)

    assert diff == []
    assert revision == migrate.heads()[0]
    assert slugs == sorted(PERMISSION_CATALOGUE)


async def test_newest_revision_downgrades_and_upgrades_again(empty_url: str) -> None:
    await anyio.to_thread.run_sync(migrate.upgrade, empty_url)
    await anyio.to_thread.run_sync(migrate.downgrade, empty_url, "-1")
    await anyio.to_thread.run_sync(migrate.upgrade, empty_url)

    diff, revision, _ = await _check(empty_url)

    assert diff == []
    assert revision == migrate.heads()[0]


async def test_fresh_database_has_the_seeded_roles_and_an_empty_chain(empty_url: str) -> None:
    await anyio.to_thread.run_sync(migrate.upgrade, empty_url)
    db = Database(empty_url)
    try:
        async with db.session(write=False) as session:
            roles = {r.slug: sorted(r.permissions) for r in (await session.execute(select(Role))).scalars()}
            head = (await session.execute(text("SELECT seq, hash FROM audit_head"))).one()
    finally:
        await db.dispose()

    assert roles == {
        "admin": ["admin"],
        "manager": ["audit.view", "config.view", "identity.roles.view", "identity.users.view"],
        "user": [],
    }
    assert tuple(head) == (0, "0" * 64)


def test_migrations_ship_inside_the_package() -> None:
    assert (migrate.MIGRATIONS / "env.py").is_file()
    assert migrate.MIGRATIONS.parent.name == "depotflow"


async def test_the_chain_head_only_moves_forward(database: Database) -> None:
    async with database.engine.connect() as conn:
        for statement in (
            "UPDATE audit_head SET seq = seq - 1",
            "UPDATE audit_head SET seq = seq, hash = 'x'",
            "DELETE FROM audit_head",
        ):
            with pytest.raises(DBAPIError, match="audit_head only moves forward"):
                await conn.execute(text(statement))
            await conn.rollback()
        head = (await conn.execute(text("SELECT id, seq, hash FROM audit_head"))).all()

    assert [tuple(row) for row in head] == [(1, 0, "0" * 64)]


async def test_batch_codes_are_unique_per_part_ignoring_case(empty_url: str) -> None:
    await anyio.to_thread.run_sync(migrate.upgrade, empty_url)
    db = Database(empty_url)
    lot = (
        "INSERT INTO stock_lot (part_id, batch_code, supplier_batch_code, received_quantity, origin_type, origin_reference,"
        " status_id, receipt, findings, notes, created_at, status_changed_at) VALUES (1, :code, '', 1, 'manual', '', 1, '{}', '[]',"
        " '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO part (ipn, name, description, unit_id, is_active, is_purchaseable, is_salable,"
                    " is_component, is_assembly, requires_qc_release, tracks_batch, tracks_expiry, created_at,"
                    " updated_at) VALUES ('P-1', 'p', '', 1, true, true, false, false, false, true, true, true,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(text(lot), {"code": "lot-7"})
        with pytest.raises(DBAPIError):
            async with db.engine.begin() as conn:
                await conn.execute(text(lot), {"code": "LOT-7"})
    finally:
        await db.dispose()
