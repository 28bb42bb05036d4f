"""Stock pages (ui.md §4.3 C1-C2, §6.3): the lots list with its filters, and a lot's detail with the
tabs Details, Quality and Movements, for lots made by the stock factories and received through a
purchase order."""

import re

import httpx
import pytest

from depotflow.core.db import Database
from tests.factories.identity import make_user
from tests.factories.procurement import PROCUREMENT, issued_order, line_ids, make_plant, ok, receipt, receive
from tests.factories.stock import make_location, make_lot, make_part, row_counts
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

VIEWER = ["stock.view", "part.view"]


async def signed_in(client: httpx.AsyncClient, database: Database, username: str, permissions: list[str]) -> WebClient:
    user = await make_user(database, username=username, permissions=permissions)
    client.cookies.clear()
    return await sign_in(client, user)


async def two_lots(database: Database) -> tuple[int, int, int, int]:
    part = await make_part(database, "API-001", name="Paracetamol")
    other = await make_part(database, "EXC-002", name="Lactose")
    wh = await make_location(database, "WH-RM", name="Raw materials")
    lab = await make_location(database, "LAB", "laboratory")
    first = await make_lot(database, part_id=part, location_id=wh, quantity="1250.5", batch_code="B-2026-001")
    second = await make_lot(database, part_id=other, location_id=lab, quantity="40", batch_code="L-77", status="ok")
    return first, second, part, lab


async def test_lots_list_filters_search_and_htmx_partial(client: httpx.AsyncClient, database: Database) -> None:
    _first, _second, part, lab = await two_lots(database)
    web = await signed_in(client, database, "ana", VIEWER)
    page = await web.get("/web/stock")
    assert page.status_code == 200
    assert "B-2026-001" in page.text
    assert "L-77" in page.text
    assert 'data-state="quarantine"' in page.text
    assert 'data-state="ok"' in page.text
    assert page.text.count("<h1") == 1

    by_batch = await web.get("/web/stock", params={"q": "b-2026"}, target="results")
    assert "<html" not in by_batch.text
    assert "B-2026-001" in by_batch.text
    assert "L-77" not in by_batch.text
    by_status = await web.get("/web/stock", params={"status": "ok"}, target="results")
    assert "L-77" in by_status.text
    assert "B-2026-001" not in by_status.text
    by_part = await web.get("/web/stock", params={"part": str(part)})
    assert "B-2026-001" in by_part.text
    assert "L-77" not in by_part.text
    assert 'value="API-001 — Paracetamol"' in by_part.text  # the part picker shows the filter
    by_location = await web.get("/web/stock", params={"location": str(lab)}, target="results")
    assert "L-77" in by_location.text
    assert "B-2026-001" not in by_location.text
    nothing = await web.get("/web/stock", params={"q": "nope"}, target="results")
    assert "No lots match these filters." in nothing.text
    # Hand-edited filters never break the page.
    odd = await web.get("/web/stock", params={"status": "bogus", "part": "abc", "sort": "zzz", "size": "7"})
    assert odd.status_code == 200
    assert "B-2026-001" in odd.text


async def test_lot_tabs_for_a_lot_received_through_an_order(client: httpx.AsyncClient, database: Database) -> None:
    plant = await make_plant(client, database)
    order = await issued_order(client, plant)
    (line,) = await line_ids(client, plant, order["id"])
    lot = ok(await receive(client, plant, order["id"], receipt(line, "60", batch_code="B-2026-001")), 201)
    record = ok(
        await client.post(
            f"{PROCUREMENT}/purchase-orders/{order['id']}/qc-records",
            json={
                "lot_id": lot["id"],
                "sampling_date": "2026-11-21",
                "sampled_quantity": "0.5",
                "analysis_number": "BA-1",
            },
            headers=plant.qc.headers,
        ),
        201,
    )
    web = await sign_in(client, plant.qc)

    details = await web.get(f"/web/stock/lots/{lot['id']}")
    assert details.status_code == 200
    text = text_of(details.text)
    assert "B-2026-001" in text
    assert "API-001" in text
    assert "59.5 kg" in text  # on hand after sampling
    assert order["reference"] in text
    assert 'data-state="quarantine"' in details.text
    assert 'aria-current="page">Details' in details.text

    quality = await web.get(f"/web/stock/lots/{lot['id']}/quality")
    assert quality.status_code == 200
    assert f"QC record {record['id']}" in quality.text
    assert 'data-state="pending"' in quality.text  # the result's state badge
    assert "BA-1" in quality.text
    assert "Not confirmed" in quality.text
    assert 'aria-current="page">Quality' in quality.text

    movements = await web.get(f"/web/stock/lots/{lot['id']}/movements", target="detail-body")
    assert movements.status_code == 200
    assert "<h1" not in movements.text
    kinds = re.findall(r'<tr data-kind="(\w+)">', movements.text)
    assert kinds == ["sampling", "receipt"]  # newest first
    ledger = text_of(movements.text)
    assert "+60 kg" in ledger
    assert "-0.5 kg" in ledger
    assert "59.5 kg" in ledger
    assert "WH-RM" in ledger
    assert "otto" in ledger

    # Confirming the result signs it through the approvals engine: the record shows its panel.
    ok(
        await client.patch(
            f"{PROCUREMENT}/purchase-orders/{order['id']}/qc-records/{record['id']}",
            json={"result": "conform", "confirm": True, "password": plant.qc.password},
            headers=plant.qc.headers,
        )
    )
    released = await web.get(f"/web/stock/lots/{lot['id']}/quality")
    assert 'data-state="conform"' in released.text
    assert "Not confirmed" not in released.text
    assert f'id="approval-panel-stock-qc_record-{record["id"]}"' in released.text
    assert 'data-state="approved"' in released.text
    assert 'data-state="ok"' in released.text  # the lot's own badge in the header

    # ui.md's short address of a lot leads to the same page.
    short = await web.get(f"/web/stock/{lot['id']}/quality")
    assert short.status_code == 303
    assert short.headers["location"] == f"/web/stock/lots/{lot['id']}/quality"


async def test_record_qc_sampling_from_the_quality_tab(client: httpx.AsyncClient, database: Database) -> None:
    first, _second, _part, _lab = await two_lots(database)
    web = await signed_in(client, database, "quinn", ["stock.view", "qc.record"])
    tab = await web.get(f"/web/stock/lots/{first}/quality")
    assert "Record sampling and result" in tab.text

    before = await row_counts(database)
    bad = await web.post(
        f"/web/stock/lots/{first}/quality",
        {"sampled_quantity": "abc", "analysis_number": "typed-no", "result": "pending"},
    )
    assert bad.status_code == 422
    assert 'id="e-sampled_quantity"' in bad.text
    assert 'value="typed-no"' in bad.text
    too_much = await web.post(f"/web/stock/lots/{first}/quality", {"sampled_quantity": "5000", "result": "pending"})
    assert too_much.status_code == 422
    bad_result = await web.post(f"/web/stock/lots/{first}/quality", {"result": "great"})
    assert bad_result.status_code == 422
    assert 'id="e-result"' in bad_result.text
    assert await row_counts(database) == before

    saved = await web.post(
        f"/web/stock/lots/{first}/quality",
        {"sampling_date": "2026-11-21", "sampled_quantity": "0.5", "analysis_number": "BA-9", "result": "pending"},
    )
    assert saved.status_code == 303
    after = await row_counts(database)
    assert after["stock_qc_record"] == before["stock_qc_record"] + 1
    assert after["stock_movement"] == before["stock_movement"] + 1
    page = await web.get(saved.headers["location"])
    assert "BA-9" in page.text
    assert "was saved" in page.text

    viewer = await signed_in(client, database, "vic", VIEWER)
    assert "Record sampling and result" not in (await viewer.get(f"/web/stock/lots/{first}/quality")).text
    refused = await viewer.post(f"/web/stock/lots/{first}/quality", {"sampled_quantity": "1", "result": "pending"})
    assert refused.status_code == 403
    assert (await row_counts(database))["stock_qc_record"] == after["stock_qc_record"]


async def test_stock_pages_need_stock_view_and_unknown_lots_are_404(
    client: httpx.AsyncClient, database: Database
) -> None:
    first, _second, _part, _lab = await two_lots(database)
    nobody = await signed_in(client, database, "nobody", ["part.view"])
    for url in ("/web/stock", f"/web/stock/lots/{first}", f"/web/stock/lots/{first}/movements"):
        assert (await nobody.get(url)).status_code == 403, url
    web = await signed_in(client, database, "ana", VIEWER)
    for url in ("/web/stock/lots/999999", "/web/stock/lots/999999/quality", "/web/stock/lots/999999/movements"):
        resp = await web.get(url)
        assert resp.status_code == 404, url
        assert "Not found" in resp.text
    assert (await web.get("/web/stock/lots/999999/unknown-tab")).status_code == 404


async def test_romanian_locale_renders_quantities_with_commas(client: httpx.AsyncClient, database: Database) -> None:
    first, _second, _part, _lab = await two_lots(database)
    web = await signed_in(client, database, "ana", VIEWER)
    english = text_of((await web.get(f"/web/stock/lots/{first}")).text)
    assert "1,250.5 kg" in english
    client.cookies.set("df_lang", "ro")
    page = await web.get(f"/web/stock/lots/{first}")
    assert "1.250,5 kg" in text_of(page.text)
    listing = await web.get("/web/stock", target="results")
    assert "1.250,5 kg" in text_of(listing.text)
    ledger = await web.get(f"/web/stock/lots/{first}/movements", headers={"Accept-Language": "ro"})
    assert "+1.250,5 kg" in text_of(ledger.text)
