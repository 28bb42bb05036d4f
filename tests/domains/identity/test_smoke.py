"""A first end-to-end check of login and /me on both databases."""

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import make_admin

pytestmark = pytest.mark.anyio


async def test_admin_logs_in_and_reads_me(client: httpx.AsyncClient, database: Database) -> None:
    admin = await make_admin(database)

    response = await client.post("/api/auth/login", json={"username": admin.username, "password": admin.password})

    assert response.status_code == 200, response.text
    token = response.json()["token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "root"
    assert me.json()["is_staff"] is True
