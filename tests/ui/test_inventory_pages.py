"""Inventory master data pages (ui.md §4.3 C5-C9, §5.1-5.3, §5.15): parts, categories, locations,
companies with supplier parts, and the typeahead lookups, driven through the real app."""

import re
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from depotflow.core.db import Database
from depotflow.domains.company.models import SupplierPart
from depotflow.domains.part.models import Part, PartCategory, PartUnit
from depotflow.domains.stock.models import StockLocation
from tests.factories.company import make_company, make_part, make_supplier, make_supplier_part
from tests.factories.identity import make_user
from tests.factories.stock import make_location
from tests.ui.conftest import WebClient, sign_in, text_of

pytestmark = pytest.mark.anyio

PART_EDITOR = ["part.view", "part.add", "part.change", "stock.view"]
MASTER = [
    "part.view",
    "part.add",
    "part.change",
    "company.view",
    "company.add",
    "company.change",
    "stock.view",
    "stock.manage_locations",
]


async def count(database: Database, model: type, *where: object) -> int:
    async with database.session(write=False) as session:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)  # type: ignore[arg-type]
        return int((await session.execute(stmt)).scalar_one())


async def unit_id(database: Database, code: str = "kg") -> int:
    async with database.session(write=False) as session:
        return int((await session.execute(select(PartUnit.id).where(PartUnit.code == code))).scalar_one())


async def signed_in(client: httpx.AsyncClient, database: Database, username: str, permissions: list[str]) -> WebClient:
    """A fresh browser session of a new user holding exactly `permissions` (earlier sessions are dropped)."""
    user = await make_user(database, username=username, permissions=permissions)
    client.cookies.clear()
    return await sign_in(client, user)


# --- parts ---------------------------------------------------------------------------------------


async def test_parts_list_search_and_htmx_partial(client: httpx.AsyncClient, database: Database) -> None:
    await make_part(database, ipn="API-001", name="Paracetamol")
    await make_part(database, ipn="EXC-002", name="Lactose")
    web = await signed_in(client, database, "ana", ["part.view"])

    page = await web.get("/web/inventory/parts")
    assert page.status_code == 200
    assert "API-001" in page.text
    assert "EXC-002" in page.text
    assert page.text.count("<h1") == 1

    found = await web.get("/web/inventory/parts", params={"q": "paracet"})
    assert "API-001" in found.text
    assert "EXC-002" not in found.text

    partial = await web.get("/web/inventory/parts", params={"q": "lact"}, target="results")
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert "<h1" not in partial.text
    assert "EXC-002" in partial.text
    assert "API-001" not in partial.text
    assert '<th scope="col"' in partial.text

    nothing = await web.get("/web/inventory/parts", params={"q": "zzz"}, target="results")
    assert "No parts match these filters." in nothing.text

    # A sort key the repository does not know falls back to the default order, never an error.
    odd = await web.get("/web/inventory/parts", params={"sort": "-bogus", "page": "x"})
    assert odd.status_code == 200


async def test_create_part_happy_path(client: httpx.AsyncClient, database: Database) -> None:
    kg = await unit_id(database)
    web = await signed_in(client, database, "ana", PART_EDITOR)
    form = await web.get("/web/inventory/parts/new")
    assert form.status_code == 200
    assert 'for="f-ipn"' in form.text
    assert 'id="f-ipn"' in form.text

    resp = await web.post(
        "/web/inventory/parts/new",
        {"ipn": "API-100", "name": "Ibuprofen", "unit_id": str(kg), "is_active": "true", "is_purchaseable": "true"},
    )
    assert resp.status_code == 303, resp.text
    location = resp.headers["location"]
    assert re.fullmatch(r"/web/inventory/parts/\d+", location)
    async with database.session(write=False) as session:
        part = (await session.execute(select(Part).where(Part.ipn == "API-100"))).scalar_one()
    assert part.name == "Ibuprofen"
    assert part.is_purchaseable
    assert not part.requires_qc_release
    detail = await web.get(location)
    assert detail.status_code == 200
    assert "Part API-100 was created." in detail.text  # the flash
    assert "Ibuprofen" in detail.text


async def test_duplicate_ipn_is_422_with_the_typed_values_and_no_row(
    client: httpx.AsyncClient, database: Database
) -> None:
    await make_part(database, ipn="API-001", name="Paracetamol")
    kg = await unit_id(database)
    web = await signed_in(client, database, "ana", PART_EDITOR)
    before = await count(database, Part)

    resp = await web.post(
        "/web/inventory/parts/new",
        {"ipn": "api-001", "name": "Typed name", "description": "typed description", "unit_id": str(kg)},
    )
    assert resp.status_code == 422
    assert 'value="api-001"' in resp.text
    assert 'value="Typed name"' in resp.text
    assert "typed description" in resp.text
    assert "Another part already has this IPN." in resp.text
    assert 'aria-invalid="true"' in resp.text
    assert await count(database, Part) == before

    # Malformed input: missing name, a unit id that is no number, an oversized description.
    bad = await web.post(
        "/web/inventory/parts/new", {"ipn": "NEW-1", "name": "", "unit_id": "abc", "description": "x" * 6000}
    )
    assert bad.status_code == 422
    assert 'value="NEW-1"' in bad.text
    assert "This field is required." in bad.text
    assert await count(database, Part) == before


async def test_edit_part_saves_and_refuses_a_taken_ipn(client: httpx.AsyncClient, database: Database) -> None:
    first = await make_part(database, ipn="A-1", name="First")
    await make_part(database, ipn="B-2", name="Second")
    kg = await unit_id(database, "pcs")
    web = await signed_in(client, database, "ana", PART_EDITOR)
    form = await web.get(f"/web/inventory/parts/{first}/edit")
    assert form.status_code == 200
    assert 'value="A-1"' in form.text

    taken = await web.post(f"/web/inventory/parts/{first}/edit", {"ipn": "B-2", "name": "Renamed", "unit_id": str(kg)})
    assert taken.status_code == 422
    assert 'value="Renamed"' in taken.text
    async with database.session(write=False) as session:
        part = await session.get(Part, first)
        assert part is not None
        assert (part.ipn, part.name) == ("A-1", "First")

    saved = await web.post(
        f"/web/inventory/parts/{first}/edit", {"ipn": "A-1", "name": "Renamed", "unit_id": str(kg), "is_active": "true"}
    )
    assert saved.status_code == 303
    async with database.session(write=False) as session:
        part = await session.get(Part, first)
        assert part is not None
        assert part.name == "Renamed"
        assert part.is_active


async def test_a_viewer_sees_no_new_or_edit_and_is_refused_on_post(
    client: httpx.AsyncClient, database: Database
) -> None:
    part_id = await make_part(database, ipn="API-001", name="Paracetamol")
    kg = await unit_id(database)
    web = await signed_in(client, database, "vic", ["part.view"])
    listing = await web.get("/web/inventory/parts")
    assert "/web/inventory/parts/new" not in listing.text
    detail = await web.get(f"/web/inventory/parts/{part_id}")
    assert detail.status_code == 200
    assert f"/web/inventory/parts/{part_id}/edit" not in detail.text
    categories = await web.get("/web/inventory/categories")
    assert "/web/inventory/categories/new" not in categories.text

    before = await count(database, Part)
    assert (await web.get("/web/inventory/parts/new")).status_code == 403
    created = await web.post("/web/inventory/parts/new", {"ipn": "X-1", "name": "X", "unit_id": str(kg)})
    assert created.status_code == 403
    edited = await web.post(
        f"/web/inventory/parts/{part_id}/edit", {"ipn": "API-001", "name": "Hacked", "unit_id": str(kg)}
    )
    assert edited.status_code == 403
    assert await count(database, Part) == before
    async with database.session(write=False) as session:
        part = await session.get(Part, part_id)
        assert part is not None
        assert part.name == "Paracetamol"
    # Tabs of other domains need their own permission.
    assert (await web.get(f"/web/inventory/parts/{part_id}/stock")).status_code == 403
    assert (await web.get(f"/web/inventory/parts/{part_id}/suppliers")).status_code == 403


async def test_part_tabs_are_path_segments_and_load_as_htmx_fragments(
    client: httpx.AsyncClient, database: Database
) -> None:
    part_id = await make_part(database, ipn="API-001", name="Paracetamol")
    supplier = await make_supplier(database, code="SUP-1", name="Pharma SRL")
    await make_supplier_part(
        database, supplier_id=supplier, part_id=part_id, supplier_code="PH-77", price=Decimal("12.5"), currency="RON"
    )
    web = await signed_in(client, database, "ana", ["part.view", "company.view", "stock.view"])
    page = await web.get(f"/web/inventory/parts/{part_id}/suppliers")
    assert page.status_code == 200
    assert 'aria-current="page">Suppliers' in page.text
    assert "PH-77" in page.text
    assert "Pharma SRL" in page.text
    frag = await web.get(f"/web/inventory/parts/{part_id}/stock", target="detail-body")
    assert frag.status_code == 200
    assert "<h1" not in frag.text
    assert "No stock of this part yet." in frag.text


# --- categories ----------------------------------------------------------------------------------


async def test_categories_tree_create_move_and_cycle(client: httpx.AsyncClient, database: Database) -> None:
    web = await signed_in(client, database, "ana", ["part.view", "part.add", "part.change"])
    assert (await web.post("/web/inventory/categories/new", {"name": "Raw materials"})).status_code == 303
    async with database.session(write=False) as session:
        parent = (await session.execute(select(PartCategory).where(PartCategory.name == "Raw materials"))).scalar_one()
    form = await web.get(f"/web/inventory/categories/new?parent={parent.id}")
    assert f'<option value="{parent.id}" selected' in form.text
    child = await web.post("/web/inventory/categories/new", {"name": "Excipients", "parent_id": str(parent.id)})
    assert child.status_code == 303
    async with database.session(write=False) as session:
        excipients = (await session.execute(select(PartCategory).where(PartCategory.name == "Excipients"))).scalar_one()
    assert excipients.parent_id == parent.id

    tree = await web.get("/web/inventory/categories")
    assert tree.status_code == 200
    rows = re.findall(r'<tr data-depth="(\d)">.*?</tr>', tree.text, re.S)
    assert rows == ["0", "1"]
    assert tree.text.index("Raw materials") < tree.text.index("Excipients")

    # A sibling with the same name, and a move under its own child, are refused; nothing changes.
    same = await web.post("/web/inventory/categories/new", {"name": "excipients", "parent_id": str(parent.id)})
    assert same.status_code == 422
    assert "A category with this name already exists there." in same.text
    # The edit form never offers the category itself or its descendants as parent.
    edit_form = await web.get(f"/web/inventory/categories/{parent.id}/edit")
    assert f'<option value="{excipients.id}"' not in edit_form.text
    cycle = await web.post(
        f"/web/inventory/categories/{parent.id}/edit", {"name": "Raw materials", "parent_id": str(excipients.id)}
    )
    assert cycle.status_code == 422
    assert 'id="e-parent_id"' in cycle.text
    assert await count(database, PartCategory) == 2
    async with database.session(write=False) as session:
        again = await session.get(PartCategory, parent.id)
        assert again is not None
        assert again.parent_id is None

    # A category in use cannot be deleted; an empty one can.
    refused = await web.post(f"/web/inventory/categories/{parent.id}/delete")
    assert refused.status_code == 303
    assert await count(database, PartCategory) == 2
    deleted = await web.post(f"/web/inventory/categories/{excipients.id}/delete")
    assert deleted.status_code == 303
    assert await count(database, PartCategory) == 1


# --- locations -----------------------------------------------------------------------------------


async def test_locations_tree_create_and_code_taken(client: httpx.AsyncClient, database: Database) -> None:
    web = await signed_in(client, database, "ana", ["stock.view", "stock.manage_locations"])
    site = await web.post(
        "/web/inventory/locations/new", {"code": "WH", "name": "Warehouse", "type": "warehouse", "is_active": "true"}
    )
    assert site.status_code == 303
    site_id = int(site.headers["location"].rsplit("/", 1)[1])
    shelf = await web.post(
        "/web/inventory/locations/new",
        {"code": "WH-A1", "name": "Shelf A1", "type": "warehouse", "parent_id": str(site_id), "is_active": "true"},
    )
    assert shelf.status_code == 303
    tree = await web.get("/web/inventory/locations")
    assert re.findall(r'<tr data-depth="(\d)">', tree.text) == ["0", "1"]
    detail = await web.get(site.headers["location"])
    assert detail.status_code == 200
    assert "WH-A1" in detail.text

    before = await count(database, StockLocation)
    taken = await web.post("/web/inventory/locations/new", {"code": "wh", "name": "Typed", "type": "warehouse"})
    assert taken.status_code == 422
    assert "Another location already has this code." in taken.text
    assert 'value="Typed"' in taken.text
    bad_type = await web.post("/web/inventory/locations/new", {"code": "X1", "name": "X", "type": "spaceship"})
    assert bad_type.status_code == 422
    assert 'id="e-type"' in bad_type.text
    assert await count(database, StockLocation) == before

    viewer = await signed_in(client, database, "vic", ["stock.view"])
    listing = await viewer.get("/web/inventory/locations")
    assert "/web/inventory/locations/new" not in listing.text
    refused = await viewer.post("/web/inventory/locations/new", {"code": "V1", "name": "V", "type": "warehouse"})
    assert refused.status_code == 403
    assert await count(database, StockLocation) == before


# --- companies and supplier parts ----------------------------------------------------------------


async def test_companies_list_filter_and_create(client: httpx.AsyncClient, database: Database) -> None:
    await make_supplier(database, code="SUP-1", name="Pharma SRL")
    await make_company(database, code="CUS-1", name="Clinic SA", is_customer=True)
    web = await signed_in(client, database, "ana", ["company.view", "company.add", "company.change"])
    suppliers = await web.get("/web/inventory/companies", params={"kind": "supplier"}, target="results")
    assert "Pharma SRL" in suppliers.text
    assert "Clinic SA" not in suppliers.text

    created = await web.post(
        "/web/inventory/companies/new",
        {"code": "SUP-2", "name": "Chem GmbH", "is_supplier": "true", "is_active": "true", "currency": "eur"},
    )
    assert created.status_code == 303
    detail = await web.get(created.headers["location"])
    assert "Chem GmbH" in detail.text
    assert "EUR" in detail.text

    dup = await web.post("/web/inventory/companies/new", {"code": "sup-1", "name": "Typed Co", "currency": "EUR"})
    assert dup.status_code == 422
    assert 'value="Typed Co"' in dup.text
    assert "Another company already has this code." in dup.text
    bad = await web.post(
        "/web/inventory/companies/new", {"code": "OK-1", "name": "Bad", "currency": "EURO", "email": "nope"}
    )
    assert bad.status_code == 422
    assert 'id="e-currency"' in bad.text
    assert 'id="e-email"' in bad.text


async def test_add_supplier_part(client: httpx.AsyncClient, database: Database) -> None:
    supplier = await make_supplier(database, code="SUP-1", name="Pharma SRL", currency="RON")
    part_id = await make_part(database, ipn="API-001", name="Paracetamol", unit="kg")
    web = await signed_in(client, database, "ana", ["company.view", "company.add", "part.view"])
    tab = await web.get(f"/web/inventory/companies/{supplier}/supplier-parts")
    assert tab.status_code == 200
    assert "Add supplier part" in tab.text
    assert 'hx-get="/web/lookup/parts"' in tab.text

    resp = await web.post(
        f"/web/inventory/companies/{supplier}/supplier-parts",
        {
            "part_id": str(part_id),
            "supplier_code": "PH-77",
            "pack_quantity": "25",
            "price": "1,234.50",
            "lead_time_days": "14",
        },
    )
    assert resp.status_code == 303, resp.text
    async with database.session(write=False) as session:
        sp = (await session.execute(select(SupplierPart))).scalar_one()
    assert (sp.supplier_code, sp.pack_quantity, sp.price, sp.currency, sp.lead_time_days) == (
        "PH-77",
        Decimal(25),
        Decimal("1234.5"),
        "RON",
        14,
    )
    listing = await web.get(resp.headers["location"])
    assert "PH-77" in listing.text
    assert "API-001" in listing.text

    # The same code again, a bad number, a missing part: 422, the values kept, nothing written.
    dup = await web.post(
        f"/web/inventory/companies/{supplier}/supplier-parts",
        {"part_id": str(part_id), "supplier_code": "ph-77", "description": "typed"},
    )
    assert dup.status_code == 422
    assert "This supplier already sells a part under this code." in dup.text
    assert 'value="typed"' in dup.text
    assert 'value="API-001 — Paracetamol"' in dup.text  # the combobox shows the chosen part again
    bad = await web.post(
        f"/web/inventory/companies/{supplier}/supplier-parts",
        {"part_id": "", "supplier_code": "NEW", "pack_quantity": "2,5"},
    )
    assert bad.status_code == 422
    assert 'id="e-part_id"' in bad.text
    assert 'id="e-pack_quantity"' in bad.text
    assert await count(database, SupplierPart) == 1

    # A company that is not a supplier offers no form, and a post is refused.
    customer = await make_company(database, code="CUS-1", is_customer=True)
    assert "Add supplier part" not in (await web.get(f"/web/inventory/companies/{customer}/supplier-parts")).text
    refused = await web.post(
        f"/web/inventory/companies/{customer}/supplier-parts", {"part_id": str(part_id), "supplier_code": "X"}
    )
    assert refused.status_code == 422
    assert "not an active supplier" in refused.text
    assert await count(database, SupplierPart) == 1


# --- lookups -------------------------------------------------------------------------------------


async def test_lookups_return_options(client: httpx.AsyncClient, database: Database) -> None:
    part_id = await make_part(database, ipn="API-001", name="Paracetamol", unit="kg")
    await make_part(database, ipn="EXC-002", name="Lactose")
    supplier = await make_supplier(database, code="SUP-1", name="Pharma SRL")
    await make_company(database, code="CUS-1", name="Pharma Clinic", is_customer=True)
    await make_supplier_part(database, supplier_id=supplier, part_id=part_id, supplier_code="PH-77")
    location = await make_location(database, "WH-RM", name="Raw materials")
    web = await signed_in(client, database, "ana", ["part.view", "company.view", "stock.view"])

    parts = await web.get("/web/lookup/parts", params={"q": "para"})
    assert parts.status_code == 200
    assert f'data-value="{part_id}"' in parts.text
    assert 'role="option"' in parts.text
    assert "<small" in parts.text
    assert "kg" in parts.text
    assert "EXC-002" not in parts.text
    assert parts.text.count('role="option"') == 1

    suppliers = await web.get("/web/lookup/suppliers", params={"q": "pharma"})
    assert f'data-value="{supplier}"' in suppliers.text
    assert "Pharma Clinic" not in suppliers.text

    sps = await web.get("/web/lookup/supplier-parts", params={"supplier": str(supplier), "q": ""})
    assert "PH-77" in sps.text
    assert "API-001" in sps.text
    other = await web.get("/web/lookup/supplier-parts", params={"supplier": "999999"})
    assert 'role="option"' not in other.text

    locations = await web.get("/web/lookup/locations", params={"q": "wh"})
    assert f'data-value="{location}"' in locations.text

    many = [await make_part(database, ipn=f"BULK-{n:02d}") for n in range(25)]
    assert len(many) == 25
    capped = await web.get("/web/lookup/parts", params={"q": "bulk"})
    assert capped.text.count('role="option"') == 20


async def test_lookups_need_the_list_permission(client: httpx.AsyncClient, database: Database) -> None:
    web = await signed_in(client, database, "nobody", [])
    for url in ("/web/lookup/parts", "/web/lookup/suppliers", "/web/lookup/supplier-parts", "/web/lookup/locations"):
        assert (await web.get(url, params={"q": "a"})).status_code == 403, url
    parts_only = await signed_in(client, database, "pia", ["part.view"])
    assert (await parts_only.get("/web/lookup/parts")).status_code == 200
    assert (await parts_only.get("/web/lookup/suppliers")).status_code == 403
    assert (await parts_only.get("/web/lookup/locations")).status_code == 403


# --- errors and formats --------------------------------------------------------------------------


async def test_unknown_ids_are_404(client: httpx.AsyncClient, database: Database) -> None:
    web = await signed_in(client, database, "ana", MASTER)
    for url in (
        "/web/inventory/parts/999999",
        "/web/inventory/parts/999999/edit",
        "/web/inventory/parts/999999/stock",
        "/web/inventory/parts/999999/suppliers",
        "/web/inventory/categories/999999/edit",
        "/web/inventory/companies/999999",
        "/web/inventory/companies/999999/supplier-parts",
        "/web/inventory/locations/999999",
        "/web/inventory/locations/999999/edit",
    ):
        resp = await web.get(url)
        assert resp.status_code == 404, url
        assert "Not found" in resp.text
    posted = await web.post("/web/inventory/parts/999999/edit", {"ipn": "X", "name": "X"})
    assert posted.status_code == 404
    assert (await web.get("/web/inventory/parts/0")).status_code == 422


async def test_romanian_locale_shows_and_reads_decimal_commas(client: httpx.AsyncClient, database: Database) -> None:
    supplier = await make_supplier(database, code="SUP-1", name="Pharma SRL", currency="RON")
    part_id = await make_part(database, ipn="API-001", name="Paracetamol", unit="kg")
    await make_supplier_part(
        database, supplier_id=supplier, part_id=part_id, supplier_code="PH-1", pack_quantity=Decimal("1250.5")
    )
    web = await signed_in(client, database, "ana", ["company.view", "company.add", "part.view"])
    client.cookies.set("df_lang", "ro")
    tab = await web.get(f"/web/inventory/companies/{supplier}/supplier-parts")
    assert "1.250,5" in text_of(tab.text)
    assert 'lang="ro"' in tab.text

    # A Romanian user types comma decimals; an English-style "2.5" is refused, never guessed.
    ok = await web.post(
        f"/web/inventory/companies/{supplier}/supplier-parts",
        {"part_id": str(part_id), "supplier_code": "PH-2", "pack_quantity": "2,5"},
    )
    assert ok.status_code == 303
    refused = await web.post(
        f"/web/inventory/companies/{supplier}/supplier-parts",
        {"part_id": str(part_id), "supplier_code": "PH-3", "pack_quantity": "2.5"},
    )
    assert refused.status_code == 422
    async with database.session(write=False) as session:
        packs = (await session.execute(select(SupplierPart.pack_quantity).order_by(SupplierPart.id))).scalars().all()
    assert list(packs) == [Decimal("1250.5"), Decimal("2.5")]

    with_header = await signed_in(client, database, "radu", ["part.view", "company.view"])
    page = await with_header.get(
        f"/web/inventory/parts/{part_id}/suppliers", headers={"Accept-Language": "ro-RO,ro;q=0.9"}
    )
    assert "1.250,5" in text_of(page.text)


async def test_every_form_and_tab_renders(client: httpx.AsyncClient, database: Database) -> None:
    part_id = await make_part(database, ipn="API-001", name="Paracetamol")
    supplier = await make_supplier(database, code="SUP-1", name="Pharma SRL")
    location = await make_location(database, "WH-RM", name="Raw materials")
    web = await signed_in(client, database, "ana", MASTER)
    for url in (
        "/web/inventory/parts/new",
        f"/web/inventory/parts/{part_id}/details",
        f"/web/inventory/parts/{part_id}/stock",
        "/web/inventory/categories/new",
        "/web/inventory/companies",
        "/web/inventory/companies/new",
        f"/web/inventory/companies/{supplier}/details",
        f"/web/inventory/companies/{supplier}/edit",
        "/web/inventory/locations/new",
        f"/web/inventory/locations/{location}/edit",
    ):
        resp = await web.get(url)
        assert resp.status_code == 200, url
        assert resp.text.count("<h1") == 1, url
    tab = await web.get(f"/web/inventory/companies/{supplier}/supplier-parts", target="detail-body")
    assert tab.status_code == 200
    assert "<h1" not in tab.text
    assert 'aria-current="page">Supplier parts' in tab.text
    edited = await web.post(
        f"/web/inventory/companies/{supplier}/edit",
        {"code": "SUP-1", "name": "Pharma Renamed", "currency": "RON", "is_supplier": "true", "is_active": "true"},
    )
    assert edited.status_code == 303
    moved = await web.post(
        f"/web/inventory/locations/{location}/edit", {"code": "WH-RM", "name": "Renamed", "type": "laboratory"}
    )
    assert moved.status_code == 303
    detail = await web.get(f"/web/inventory/locations/{location}")
    assert "Renamed" in detail.text
    assert "Laboratory" in detail.text
