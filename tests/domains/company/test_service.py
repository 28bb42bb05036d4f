"""The company service surface other domains use: get_company, get_active_supplier, company_refs."""

import pytest
from sqlalchemy import event

from depotflow.core.db import Database
from depotflow.domains.company import service as company_service
from depotflow.domains.company.errors import CompanyNotFound, NotASupplier
from tests.factories.company import make_company, make_supplier

pytestmark = pytest.mark.anyio


async def test_get_active_supplier_accepts_only_active_suppliers(database: Database) -> None:
    supplier = await make_supplier(database, code="SUP")
    retired = await make_supplier(database, code="OLD", is_active=False)
    customer = await make_company(database, code="CUS", is_customer=True)

    async with database.session(write=False) as session:
        assert (await company_service.get_active_supplier(session, supplier)).code == "SUP"
        assert (await company_service.get_company(session, retired)).code == "OLD"
        for company_id in (retired, customer):
            with pytest.raises(NotASupplier) as refused:
                await company_service.get_active_supplier(session, company_id)
            assert refused.value.details["company_id"] == company_id
        with pytest.raises(CompanyNotFound):
            await company_service.get_active_supplier(session, 9999)
        with pytest.raises(CompanyNotFound):
            await company_service.get_company(session, 9999)


async def test_company_refs_loads_a_set_of_ids_in_one_query(database: Database) -> None:
    first = await make_company(database, code="ONE")
    second = await make_company(database, code="TWO")
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            statements.append(statement)

    async with database.session(write=False) as session:
        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        try:
            refs = await company_service.company_refs(session, {first, second, 9999})
            empty = await company_service.company_refs(session, set())
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", count)

    assert {company_id: company.code for company_id, company in refs.items()} == {first: "ONE", second: "TWO"}
    assert empty == {}
    assert len(statements) == 1
