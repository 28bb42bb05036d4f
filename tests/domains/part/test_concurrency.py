"""Parallel creates of one IPN store exactly one part; the others answer 409 part.ipn_taken."""

import asyncio

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

PARALLEL = 6


async def test_parallel_creates_of_one_ipn_store_one_part(client: httpx.AsyncClient, database: Database) -> None:
    editor = await make_user(database, username="pia", permissions=["part.add", "part.view"])
    body = {"ipn": "RACE-1", "name": "Race", "unit_id": 1}

    responses = await asyncio.gather(
        *(client.post("/modules/inventory/api/parts", json=body, headers=editor.headers) for _ in range(PARALLEL))
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * (PARALLEL - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"part.ipn_taken"}
    assert len(await entries(database, action="part.create")) == 1
