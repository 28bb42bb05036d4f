"""Helpers for identity tests: snapshots of stored data, audit entries, a stand-in InvenTree server."""

import base64
import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

from depotflow.core.db import Database
from depotflow.core.settings import Settings
from depotflow.domains.audit.models import AuditEntry
from depotflow.domains.identity import service as identity_service
from depotflow.main import create_app

IDENTITY_TABLES = (
    "identity_permission",
    "identity_role",
    "identity_user",
    "identity_token",
    "identity_login_throttle",
)


async def stored_state(db: Database) -> dict[str, Any]:
    """Every row of the identity tables plus the size of the audit trail, for before/after comparisons."""
    state: dict[str, Any] = {}
    async with db.session(write=False) as session:
        for table in IDENTITY_TABLES:
            rows = (await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))).all()
            state[table] = [tuple(row) for row in rows]
        state["audit_entry"] = int((await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one())
    return state


async def audit_entries(db: Database, action: str | None = None) -> list[dict[str, Any]]:
    """Audit entries in order, optionally of one action, with `details` and `changes` decoded."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    async with db.session(write=False) as session:
        entries = (await session.execute(stmt)).scalars().all()
    return [
        {
            "action": e.action,
            "actor_username": e.actor_username,
            "actor_user_id": e.actor_user_id,
            "entity_type": e.entity_type,
            "entity_id": e.entity_id,
            "details": json.loads(e.details),
            "changes": json.loads(e.changes),
            "ip_address": e.ip_address,
        }
        for e in entries
    ]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.session(write=False) as session:
        return (await session.execute(text(sql), params)).scalar_one()


async def execute(db: Database, sql: str, **params: Any) -> None:
    """Raw SQL bypassing the application (to set up states the API cannot produce, like an expired token)."""
    async with db.session(write=True) as session:
        await session.execute(text(sql), params)
        await session.commit()


@dataclass
class InvenTreeAccount:
    password: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    is_staff: bool = False
    is_superuser: bool = False


@dataclass
class FakeInvenTree:
    """A tiny real HTTP server speaking the two InvenTree endpoints depotflow uses."""

    url: str = ""
    accounts: dict[str, InvenTreeAccount] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    failing: bool = False

    def add(self, username: str, password: str, **kwargs: Any) -> InvenTreeAccount:
        account = InvenTreeAccount(password=password, **kwargs)
        self.accounts[username] = account
        return account

    def revoke_tokens(self) -> None:
        self.tokens.clear()


def _handler(fake: FakeInvenTree) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            fake.requests.append(self.path)
            if fake.failing:
                self._send(500, {"detail": "server error"})
                return
            header = self.headers.get("Authorization", "")
            if self.path == "/api/user/token/":
                scheme, _, value = header.partition(" ")
                if scheme != "Basic":
                    self._send(401, {"detail": "Authentication credentials were not provided."})
                    return
                username, _, password = base64.b64decode(value).decode().partition(":")
                account = fake.accounts.get(username)
                if account is None or account.password != password:
                    self._send(401, {"detail": "Invalid username/password."})
                    return
                token = f"inv-{secrets.token_hex(20)}"
                fake.tokens[token] = username
                self._send(200, {"token": token, "name": "depotflow"})
                return
            if self.path == "/api/user/me/":
                scheme, _, value = header.partition(" ")
                username = fake.tokens.get(value) if scheme == "Token" else None
                if username is None or username not in fake.accounts:
                    self._send(401, {"detail": "Invalid token."})
                    return
                account = fake.accounts[username]
                self._send(
                    200,
                    {
                        "pk": list(fake.accounts).index(username) + 1,
                        "username": username,
                        "first_name": account.first_name,
                        "last_name": account.last_name,
                        "email": account.email,
                        "is_staff": account.is_staff,
                        "is_superuser": account.is_superuser,
                    },
                )
                return
            self._send(404, {"detail": "Not found."})

    return Handler


@contextmanager
def running_inventree() -> Iterator[FakeInvenTree]:
    """Start a FakeInvenTree on a free loopback port in a thread; stop it on exit."""
    fake = FakeInvenTree()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@asynccontextmanager
async def running_app(settings: Settings, database: Database) -> AsyncIterator[FastAPI]:
    """An app built with `settings` on `database`, started (the `client` fixture's pattern)."""
    identity_service.clear_token_cache()
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(app: FastAPI, client_ip: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` whose requests come from `client_ip`."""
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@asynccontextmanager
async def app_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app built with `settings`."""
    async with running_app(settings, database) as app, client_for(app) as c:
        yield c
