"""Test fixtures: a throwaway PostgreSQL cluster, migrated template databases, apps and clients.

Every database test runs twice, on SQLite (a file, WAL mode) and on PostgreSQL. Each test gets a
fresh database copied from a template built once with `alembic upgrade head`, so tests commit for
real, run the database triggers, and never see each other's data.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from depotflow import wiring
from depotflow.core import migrate
from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.core.settings import Settings
from depotflow.domains.identity import service as identity_service
from depotflow.main import create_app

DATABASES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server: DEPOTFLOW_TEST_PG_URL if given, else a throwaway cluster on loopback."""
    external = os.environ.get("DEPOTFLOW_TEST_PG_URL")
    if external:
        yield external
        return
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    assert dirs, "PostgreSQL server not installed: apt-get install -y postgresql"
    bindir = dirs[-1]
    base = tempfile.mkdtemp(prefix="pgtest-")
    os.chmod(base, 0o755)
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port, data = _free_port(), os.path.join(base, "data")
    subprocess.run(
        [
            *prefix,
            f"{bindir}/initdb",
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-l",
            f"{base}/log",
            "-w",
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            f"-c full_page_writes=off -c max_connections=200",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _pg_dsn(server: str, database: str) -> str:
    base, _, _ = server.rpartition("/")
    return f"{base}/{database}"


@dataclass(frozen=True)
class Templates:
    sqlite_file: Path
    pg_server: str | None
    pg_template: str | None


@pytest.fixture(scope="session")
def templates(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Migrated template databases, built once per session."""
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{sqlite_file}")
    server = request.getfixturevalue("pg_server")
    name = f"depotflow_template_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", server, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    migrate.upgrade(_pg_dsn(server, name).replace("postgresql://", "postgresql+asyncpg://"))
    return Templates(sqlite_file=sqlite_file, pg_server=server, pg_template=name)


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(db_kind: str, templates: Templates, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database for this test."""
    if db_kind == "sqlite":
        target = tmp_path / "depotflow.db"
        shutil.copyfile(templates.sqlite_file, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    assert templates.pg_server
    assert templates.pg_template
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(templates.pg_server)
    try:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {templates.pg_template}")
    finally:
        await admin.close()
    yield _pg_dsn(templates.pg_server, name).replace("postgresql://", "postgresql+asyncpg://")
    admin = await asyncpg.connect(templates.pg_server)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


def make_settings(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    security = {
        "login_slowdown_step_seconds": 0.0,
        "login_slowdown_max_seconds": 0.0,
        **overrides.pop("security", {}),
    }
    return Settings(env="test", data_dir=tmp_path, database_url=db_url, security=security, **overrides)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path, db_url)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    wiring.configure()  # the audit hooks, also for tests that build no app
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    identity_service.clear_token_cache()
    return create_app(settings, database=database)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def system_context(reason: str = "test setup") -> ChangeContext:
    return ChangeContext(actor=Actor.system("test"), reason=reason)
