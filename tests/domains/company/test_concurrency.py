"""Parallel creates of one company code (or one supplier code) store exactly one row; the others answer 409."""

import asyncio

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.audit import entries
from tests.factories.company import make_part, make_supplier
from tests.factories.identity import make_user

pytestmark = pytest.mark.anyio

BASE = "/modules/inventory/api"
PARALLEL = 6


async def test_parallel_creates_of_one_code_store_one_company(client: httpx.AsyncClient, database: Database) -> None:
    editor = await make_user(database, username="cora", permissions=["company.add", "company.view"])
    body = {"code": "RACE-1", "name": "Race"}

    responses = await asyncio.gather(
        *(client.post(f"{BASE}/companies", json=body, headers=editor.headers) for _ in range(PARALLEL))
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * (PARALLEL - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"company.code_taken"}
    assert len(await entries(database, action="company.create")) == 1


async def test_parallel_creates_of_one_supplier_code_store_one_supplier_part(
    client: httpx.AsyncClient, database: Database
) -> None:
    editor = await make_user(database, username="cora", permissions=["company.add", "company.view"])
    supplier = await make_supplier(database, code="SUP")
    part = await make_part(database, ipn="P-1")
    body = {"supplier_id": supplier, "part_id": part, "supplier_code": "RACE-1"}

    responses = await asyncio.gather(
        *(client.post(f"{BASE}/supplier-parts", json=body, headers=editor.headers) for _ in range(PARALLEL))
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * (PARALLEL - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"company.supplier_code_taken"}
    assert len(await entries(database, action="company_supplier_part.create")) == 1
