"""Engine and session factories, SQLite pragmas and transaction modes, and the unit of work."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from depotflow.core.context import ChangeContext, set_change_context

# Execution option read by the SQLite BEGIN hook: "IMMEDIATE" takes the write lock up front so a
# read-then-write transaction never fails with SQLITE_BUSY_SNAPSHOT under concurrency.
SQLITE_BEGIN = "depotflow_sqlite_begin"


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself
        # (SQLite dialect docs, "Serializable isolation / Savepoints / Transactional DDL").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine per process and the session factories built on it."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _install_sqlite_hooks(self.engine)
        self._read_factory = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        write_bind = self.engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._write_factory = async_sessionmaker(write_bind, expire_on_commit=False, autoflush=False)

    def session(self, *, write: bool = True) -> AsyncSession:
        """A new session; `write=False` lets SQLite readers run concurrently with a writer."""
        return (self._write_factory if write else self._read_factory)()

    @asynccontextmanager
    async def unit_of_work(self, context: ChangeContext) -> AsyncIterator[AsyncSession]:
        """One transaction for a job or CLI command: commit on success, roll back on error."""
        session = self.session(write=True)
        set_change_context(session.sync_session, context)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            await session.close()

    async def dispose(self) -> None:
        await self.engine.dispose()
