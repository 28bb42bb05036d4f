"""UI routes: inventory master data (ui.md §4.3 C5-C9) and the typeahead lookups (§5.15).

Parts (list, detail with tabs, create, edit), part categories and stock locations (trees), companies
with their supplier parts, and `/web/lookup/*`, which answer `<li role="option">` items for the
combobox. Every route calls the domain services in-process and requires the permission of the API
route it mirrors.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from depotflow.core.errors import DepotflowError, NotFound, PermissionDenied
from depotflow.core.listing import PageRequest
from depotflow.domains.company import permissions as company_perms
from depotflow.domains.company import service as company_service
from depotflow.domains.company.schemas import (
    CompanyCreate,
    CompanyFilter,
    CompanyUpdate,
    SupplierPartCreate,
    SupplierPartFilter,
)
from depotflow.domains.part import permissions as part_perms
from depotflow.domains.part import service as part_service
from depotflow.domains.part.schemas import (
    MAX_ID,
    CategoryCreate,
    CategoryFilter,
    CategoryUpdate,
    PartCreate,
    PartFilter,
    PartUpdate,
    UnitFilter,
)
from depotflow.domains.stock import permissions as stock_perms
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import LocationType
from depotflow.domains.stock.schemas import LocationCreate, LocationFilter, LocationUpdate, LotFilter
from depotflow.ui import forms, i18n
from depotflow.ui.listing import fetch_list, list_query
from depotflow.ui.render import flash, locale_of, render, render_fragment
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import WebUser, web_requirement
from depotflow.ui.tabs import Tab
from depotflow.web.deps import ReadSessionDep, SessionDep

router = ui_router()

API = "/modules/inventory/api"
LOOKUP_LIMIT = 20
ALL = PageRequest(offset=0, limit=None)

PathId = Annotated[int, Path(gt=0, le=MAX_ID)]
PartViewer = Annotated[WebUser, Depends(web_requirement(part_perms.VIEW))]
PartAdder = Annotated[WebUser, Depends(web_requirement(part_perms.ADD))]
PartChanger = Annotated[WebUser, Depends(web_requirement(part_perms.CHANGE))]
CompanyViewer = Annotated[WebUser, Depends(web_requirement(company_perms.VIEW))]
CompanyAdder = Annotated[WebUser, Depends(web_requirement(company_perms.ADD))]
CompanyChanger = Annotated[WebUser, Depends(web_requirement(company_perms.CHANGE))]
StockViewer = Annotated[WebUser, Depends(web_requirement(stock_perms.VIEW))]
LocationManager = Annotated[WebUser, Depends(web_requirement(stock_perms.MANAGE_LOCATIONS))]


def _(message: str) -> str:  # marks msgids for extraction; translated at render time
    return message


# Domain error codes shown on one field of the form (the services raise them without a field).
DOMAIN_FIELDS: Mapping[str, tuple[str, str]] = {
    "part.ipn_taken": ("ipn", _("Another part already has this IPN.")),
    "part.category_name_taken": ("name", _("A category with this name already exists there.")),
    "company.code_taken": ("code", _("Another company already has this code.")),
    "company.supplier_code_taken": ("supplier_code", _("This supplier already sells a part under this code.")),
    "stock.location_code_taken": ("code", _("Another location already has this code.")),
}
# Messages for field errors the services name by code.
FIELD_CODES: Mapping[str, str] = {
    "unknown": _("Choose one of the options."),
    "cycle": _("A node cannot be moved under itself or one of its descendants."),
    "inactive": _("The chosen location is inactive."),
    "not_a_supplier": _("The company is not an active supplier."),
    "taken": _("This value is already used."),
}


# --- small helpers shared with routes/stock.py ---------------------------------------------------


def require_permission(user: WebUser, permission: str) -> None:
    """A second permission a page needs besides its route's (e.g. part.view on a part's Stock tab)."""
    if not user.actor.has(permission):
        raise PermissionDenied(
            "You do not have permission to perform this action.", details={"required_permission": permission}
        )


def domain_errors(exc: DepotflowError, locale: str) -> forms.FormErrors:
    """A refused write as form errors: known codes on their field, the rest through `from_domain`."""
    mapped = DOMAIN_FIELDS.get(exc.code)
    if mapped is not None:
        return forms.FormErrors(fields={mapped[0]: i18n.translate(locale, mapped[1])})
    errors = forms.FormErrors()
    for f in exc.fields:
        name = forms.field_name(f.loc)
        message = FIELD_CODES.get(f.code)
        errors.add(name, i18n.translate(locale, message) if message else forms.message_for(f.code, locale, f.msg))
    if not exc.fields:
        errors.add(None, forms.message_for(exc.code, locale, fallback=exc.message))
    return errors


async def refused(session: AsyncSession, exc: DepotflowError, locale: str) -> forms.FormErrors:
    """Undo whatever the refused write flushed (the unit of work would commit it) and describe it.
    Permission and not-found errors are not form errors: they go on to the error page."""
    await session.rollback()
    if isinstance(exc, PermissionDenied | NotFound):
        raise exc
    return domain_errors(exc, locale)


def id_value(raw: object) -> object:
    """A posted id: "" → None, digits → int, anything else as typed (the schema refuses it)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) <= 19 else text


def query_id(request: Request, name: str) -> int | None:
    """A filter id from the URL; malformed values are ignored (a hand-edited URL shows a page)."""
    raw = (request.query_params.get(name) or "").strip()
    return int(raw) if raw.isdigit() and 0 < len(raw) <= 18 else None


def query_flag(request: Request, name: str) -> bool | None:
    return {"yes": True, "no": False}.get(request.query_params.get(name) or "")


def text_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def flag(form: FormData, name: str) -> bool:
    return text_value(form, name) not in ("", "false", "0")


def decimal_value(form: FormData, name: str, locale: str, errors: forms.FormErrors) -> Decimal | None:
    """A decimal typed in the page's locale; empty is None; a malformed one adds a field error."""
    text = text_value(form, name).strip()
    if not text:
        return None
    try:
        return i18n.parse_decimal_input(text, locale)
    except ValueError as exc:
        errors.add(name, forms.message_for(str(exc), locale))
        return None


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], payload: dict[str, Any], locale: str, errors: forms.FormErrors) -> M | None:
    """`payload` as `model`, or None with the problems added to `errors`. The forms here are flat, so
    an error belongs to the top-level field it starts at (a union's branch names are dropped)."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err.get("loc", ())
            errors.add(str(loc[0]) if loc else None, forms.message_for(str(err.get("type")), locale))
        return None


def redirect(request: Request, url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, request, message)
    return response


class Node(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def parent_id(self) -> int | None: ...


N = TypeVar("N", bound=Node)


def tree_rows(nodes: Iterable[N], key: Callable[[N], str]) -> list[tuple[N, int]]:
    """The nodes depth first (siblings by `key`) with their depth; nodes whose parent is missing are
    roots, and a cycle in the data never loops."""
    items = list(nodes)
    ids = {n.id for n in items}
    children: dict[int | None, list[N]] = {}
    for n in items:
        parent = n.parent_id if n.parent_id in ids else None
        children.setdefault(parent, []).append(n)
    rows: list[tuple[N, int]] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int) -> None:
        for n in sorted(children.get(parent, []), key=key):
            if n.id in seen:
                continue
            seen.add(n.id)
            rows.append((n, depth))
            walk(n.id, depth + 1)

    walk(None, 0)
    rows.extend((n, 0) for n in items if n.id not in seen)
    return rows


def tree_options(
    rows: Sequence[tuple[N, int]], label: Callable[[N], str], exclude: int | None = None
) -> list[tuple[int, str]]:
    """(id, indented label) pairs for a select; `exclude` leaves out a node and its subtree."""
    options: list[tuple[int, str]] = []
    skip_below: int | None = None
    for node, depth in rows:
        if skip_below is not None and depth > skip_below:
            continue
        skip_below = None
        if node.id == exclude:
            skip_below = depth
            continue
        options.append((node.id, "\u2014 " * depth + label(node)))
    return options


# --- parts ---------------------------------------------------------------------------------------

PART_FLAGS = (
    ("is_active", _("Active")),
    ("is_purchaseable", _("Purchaseable")),
    ("is_salable", _("Salable")),
    ("is_component", _("Component")),
    ("is_assembly", _("Assembly")),
    ("requires_qc_release", _("Requires QC release")),
    ("tracks_batch", _("Tracks batches")),
    ("tracks_expiry", _("Tracks expiry")),
)
PART_DEFAULTS = {"is_active": True, "requires_qc_release": True, "tracks_batch": True, "tracks_expiry": True}


async def category_rows(session: AsyncSession) -> list[tuple[Any, int]]:
    page = await part_service.list_categories(session, filters=CategoryFilter(), page=ALL, sort=None, search=None)
    return tree_rows(page.items, key=lambda c: c.name.lower())


async def location_rows(session: AsyncSession, *, active: bool | None = None) -> list[tuple[Any, int]]:
    page = await stock_service.list_locations(
        session, filters=LocationFilter(is_active=active), page=ALL, sort=None, search=None
    )
    return tree_rows(page.items, key=lambda loc: loc.code.lower())


@router.get("/inventory/parts", openapi_extra=mirrors(f"GET {API}/parts"))
async def parts_list(request: Request, user: PartViewer, session: ReadSessionDep) -> Response:
    query = list_query(request)
    filters = PartFilter(category_id=query_id(request, "category"), is_active=query_flag(request, "active"))
    page = await fetch_list(
        query,
        lambda pr, sort: part_service.list_parts(session, filters=filters, page=pr, sort=sort, search=query.q),
    )
    reads = await part_service.part_reads(session, list(page.items))
    categories = await category_rows(session)
    return render(
        request,
        "pages/inventory/parts/list.html",
        {
            "page": page,
            "rows": reads,
            "q": query.q or "",
            "category": filters.category_id,
            "active": request.query_params.get("active") or "",
            "category_options": tree_options(categories, lambda c: c.name),
            "filtered": bool(query.q or filters.category_id or filters.is_active is not None),
            "can_add": user.actor.has(part_perms.ADD),
        },
        blocks=("results",),
    )


async def _part_form(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    *,
    values: Mapping[str, Any],
    errors: forms.FormErrors,
    part: Any = None,
    status: int = 200,
) -> Response:
    units = await part_service.list_units(session, filters=UnitFilter(), page=ALL, sort=None, search=None)
    categories = await category_rows(session)
    locations = await location_rows(session, active=True) if user.actor.has(stock_perms.VIEW) else None
    return render(
        request,
        "pages/inventory/parts/form.html",
        {
            "part": part,
            "values": values,
            "errors": errors,
            "flags": PART_FLAGS,
            "unit_options": [(u.id, f"{u.code} — {u.name}") for u in units.items],
            "category_options": tree_options(categories, lambda c: c.name),
            "location_options": tree_options(locations, lambda loc: f"{loc.code} — {loc.name}") if locations else None,
        },
        status=status,
        blocks=("part-form",),
    )


def _part_payload(form: FormData, *, with_location: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ipn": text_value(form, "ipn"),
        "name": text_value(form, "name"),
        "description": text_value(form, "description"),
        "category_id": id_value(form.get("category_id")),
        "unit_id": id_value(form.get("unit_id")),
    }
    if with_location:
        payload["default_location_id"] = id_value(form.get("default_location_id"))
    payload.update({name: flag(form, name) for name, _label in PART_FLAGS})
    return payload


@router.get("/inventory/parts/new", openapi_extra=mirrors(f"POST {API}/parts"))
async def part_new(request: Request, user: PartAdder, session: ReadSessionDep) -> Response:
    return await _part_form(request, session, user, values=PART_DEFAULTS, errors=forms.FormErrors())


@router.post("/inventory/parts/new", openapi_extra=mirrors(f"POST {API}/parts"))
async def part_create(request: Request, user: PartAdder, session: SessionDep) -> Response:
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    payload = _part_payload(form, with_location=user.actor.has(stock_perms.VIEW))
    data = validate(PartCreate, payload, locale, errors)
    if data is not None:
        try:
            part = await part_service.create_part(session, user.actor, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
    if errors or data is None:
        return await _part_form(request, session, user, values=_form_state(form), errors=errors, status=422)
    return redirect(
        request, f"/web/inventory/parts/{part.id}", i18n.translate(locale, "Part %(ipn)s was created.", ipn=part.ipn)
    )


def _form_state(form: FormData) -> dict[str, Any]:
    """What the user typed, with unchecked checkboxes as False (so the form shows them unchecked)."""
    values: dict[str, Any] = dict(forms.form_values(form))
    for name, _label in PART_FLAGS:
        values[name] = flag(form, name)
    return values


async def _part_tabs(user: WebUser, part_id: int, counts: Mapping[str, int] | None = None) -> list[Tab]:
    base = f"/web/inventory/parts/{part_id}"
    counts = counts or {}
    tabs = [Tab("details", _("Details"), base)]
    if user.actor.has(stock_perms.VIEW):
        tabs.append(Tab("stock", _("Stock"), f"{base}/stock", counts.get("stock")))
    if user.actor.has(company_perms.VIEW):
        tabs.append(Tab("suppliers", _("Suppliers"), f"{base}/suppliers", counts.get("suppliers")))
    return tabs


async def _part_page(
    request: Request, session: AsyncSession, user: WebUser, part_id: int, tab: str, **ctx: Any
) -> Response:
    part = await part_service.get_part(session, part_id)
    read = (await part_service.part_reads(session, [part]))[0]
    location = None
    if read.default_location_id is not None and user.actor.has(stock_perms.VIEW):
        location = (await stock_service.locations_by_id(session, {read.default_location_id})).get(
            read.default_location_id
        )
    return render(
        request,
        "pages/inventory/parts/detail.html",
        {
            "part": read,
            "default_location": location,
            "tab": tab,
            "tabs": await _part_tabs(user, part.id),
            "flags": PART_FLAGS,
            "can_change": user.actor.has(part_perms.CHANGE),
            "page": None,
            "lots": [],
            "supplier_parts": [],
            **ctx,
        },
        blocks=("detail-body", "results"),
    )


@router.get("/inventory/parts/{part_id}", openapi_extra=mirrors(f"GET {API}/parts/{{part_id}}"))
async def part_detail(request: Request, part_id: PathId, user: PartViewer, session: ReadSessionDep) -> Response:
    return await _part_page(request, session, user, part_id, "details")


@router.get("/inventory/parts/{part_id}/details", openapi_extra=mirrors(f"GET {API}/parts/{{part_id}}"))
async def part_details_tab(request: Request, part_id: PathId, user: PartViewer, session: ReadSessionDep) -> Response:
    return await _part_page(request, session, user, part_id, "details")


@router.get("/inventory/parts/{part_id}/stock", openapi_extra=mirrors(f"GET {API}/stock-lots"))
async def part_stock_tab(request: Request, part_id: PathId, user: StockViewer, session: ReadSessionDep) -> Response:
    require_permission(user, part_perms.VIEW)
    await part_service.get_part(session, part_id)
    query = list_query(request)
    filters = LotFilter(part_id=part_id)
    page = await fetch_list(
        query, lambda pr, sort: stock_service.list_lots(session, filters=filters, page=pr, sort=sort, search=query.q)
    )
    lots = await stock_service.lot_reads(session, page.items)
    return await _part_page(request, session, user, part_id, "stock", page=page, lots=lots)


@router.get("/inventory/parts/{part_id}/suppliers", openapi_extra=mirrors(f"GET {API}/supplier-parts"))
async def part_suppliers_tab(
    request: Request, part_id: PathId, user: CompanyViewer, session: ReadSessionDep
) -> Response:
    require_permission(user, part_perms.VIEW)
    await part_service.get_part(session, part_id)
    query = list_query(request)
    filters = SupplierPartFilter(part_id=part_id)
    page = await fetch_list(
        query,
        lambda pr, sort: company_service.list_supplier_parts(
            session, filters=filters, page=pr, sort=sort, search=query.q
        ),
    )
    supplier_parts = await company_service.supplier_part_reads(session, list(page.items))
    return await _part_page(request, session, user, part_id, "suppliers", page=page, supplier_parts=supplier_parts)


@router.get("/inventory/parts/{part_id}/edit", openapi_extra=mirrors(f"PUT {API}/parts/{{part_id}}"))
async def part_edit(request: Request, part_id: PathId, user: PartChanger, session: ReadSessionDep) -> Response:
    part = await part_service.get_part(session, part_id)
    values = {
        "ipn": part.ipn,
        "name": part.name,
        "description": part.description,
        "category_id": part.category_id,
        "unit_id": part.unit_id,
        "default_location_id": part.default_location_id,
        **{name: getattr(part, name) for name, _label in PART_FLAGS},
    }
    return await _part_form(request, session, user, values=values, errors=forms.FormErrors(), part=part)


@router.post("/inventory/parts/{part_id}/edit", openapi_extra=mirrors(f"PUT {API}/parts/{{part_id}}"))
async def part_update(request: Request, part_id: PathId, user: PartChanger, session: SessionDep) -> Response:
    part = await part_service.get_part(session, part_id)
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    payload = _part_payload(form, with_location=user.actor.has(stock_perms.VIEW))
    data = validate(PartUpdate, payload, locale, errors)
    if data is not None:
        try:
            part = await part_service.update_part(session, user.actor, part_id=part_id, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
            part = await part_service.get_part(session, part_id)
    if errors or data is None:
        return await _part_form(request, session, user, values=_form_state(form), errors=errors, part=part, status=422)
    return redirect(
        request, f"/web/inventory/parts/{part.id}", i18n.translate(locale, "Part %(ipn)s was saved.", ipn=part.ipn)
    )


# --- categories ----------------------------------------------------------------------------------


@router.get("/inventory/categories", openapi_extra=mirrors(f"GET {API}/categories"))
async def categories_list(request: Request, user: PartViewer, session: ReadSessionDep) -> Response:
    rows = await category_rows(session)
    return render(
        request,
        "pages/inventory/categories/list.html",
        {
            "rows": rows,
            "can_add": user.actor.has(part_perms.ADD),
            "can_change": user.actor.has(part_perms.CHANGE),
        },
    )


async def _category_form(
    request: Request,
    session: AsyncSession,
    *,
    values: Mapping[str, Any],
    errors: forms.FormErrors,
    category: Any = None,
    status: int = 200,
) -> Response:
    rows = await category_rows(session)
    exclude = category.id if category is not None else None
    return render(
        request,
        "pages/inventory/categories/form.html",
        {
            "category": category,
            "values": values,
            "errors": errors,
            "parent_options": tree_options(rows, lambda c: c.name, exclude=exclude),
        },
        status=status,
    )


def _category_payload(form: FormData) -> dict[str, Any]:
    return {
        "name": text_value(form, "name"),
        "parent_id": id_value(form.get("parent_id")),
        "description": text_value(form, "description"),
    }


@router.get("/inventory/categories/new", openapi_extra=mirrors(f"POST {API}/categories"))
async def category_new(request: Request, user: PartAdder, session: ReadSessionDep) -> Response:
    return await _category_form(
        request, session, values={"parent_id": query_id(request, "parent")}, errors=forms.FormErrors()
    )


@router.post("/inventory/categories/new", openapi_extra=mirrors(f"POST {API}/categories"))
async def category_create(request: Request, user: PartAdder, session: SessionDep) -> Response:
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    data = validate(CategoryCreate, _category_payload(form), locale, errors)
    if data is not None:
        try:
            category = await part_service.create_category(session, user.actor, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
    if errors or data is None:
        return await _category_form(request, session, values=forms.form_values(form), errors=errors, status=422)
    return redirect(
        request,
        "/web/inventory/categories",
        i18n.translate(locale, "Category %(name)s was created.", name=category.name),
    )


@router.get("/inventory/categories/{category_id}/edit", openapi_extra=mirrors(f"PUT {API}/categories/{{category_id}}"))
async def category_edit(request: Request, category_id: PathId, user: PartChanger, session: ReadSessionDep) -> Response:
    category = await part_service.get_category(session, category_id)
    values = {"name": category.name, "parent_id": category.parent_id, "description": category.description}
    return await _category_form(request, session, values=values, errors=forms.FormErrors(), category=category)


@router.post("/inventory/categories/{category_id}/edit", openapi_extra=mirrors(f"PUT {API}/categories/{{category_id}}"))
async def category_update(request: Request, category_id: PathId, user: PartChanger, session: SessionDep) -> Response:
    category = await part_service.get_category(session, category_id)
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    data = validate(CategoryUpdate, _category_payload(form), locale, errors)
    if data is not None:
        try:
            category = await part_service.update_category(session, user.actor, category_id=category_id, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
            category = await part_service.get_category(session, category_id)
    if errors or data is None:
        return await _category_form(
            request, session, values=forms.form_values(form), errors=errors, category=category, status=422
        )
    return redirect(
        request, "/web/inventory/categories", i18n.translate(locale, "Category %(name)s was saved.", name=category.name)
    )


@router.post(
    "/inventory/categories/{category_id}/delete", openapi_extra=mirrors(f"DELETE {API}/categories/{{category_id}}")
)
async def category_delete(request: Request, category_id: PathId, user: PartChanger, session: SessionDep) -> Response:
    locale = locale_of(request)
    category = await part_service.get_category(session, category_id)
    name = category.name
    try:
        await part_service.delete_category(session, user.actor, category_id=category_id)
    except DepotflowError as exc:
        errors = await refused(session, exc, locale)
        response = RedirectResponse("/web/inventory/categories", status_code=303)
        message = i18n.translate(locale, "Category %(name)s was not deleted: it has subcategories or parts.", name=name)
        flash(
            response,
            request,
            message if exc.code == "part.category_in_use" else "; ".join(errors.summary),
            level="error",
        )
        return response
    return redirect(
        request, "/web/inventory/categories", i18n.translate(locale, "Category %(name)s was deleted.", name=name)
    )


# --- locations -----------------------------------------------------------------------------------

LOCATION_TYPES = (
    (LocationType.WAREHOUSE.value, _("Warehouse")),
    (LocationType.PRODUCTION.value, _("Production")),
    (LocationType.LABORATORY.value, _("Laboratory")),
    (LocationType.OTHER.value, _("Other")),
)


@router.get("/inventory/locations", openapi_extra=mirrors(f"GET {API}/locations"))
async def locations_list(request: Request, user: StockViewer, session: ReadSessionDep) -> Response:
    rows = await location_rows(session)
    return render(
        request,
        "pages/inventory/locations/list.html",
        {
            "rows": rows,
            "types": dict(LOCATION_TYPES),
            "can_manage": user.actor.has(stock_perms.MANAGE_LOCATIONS),
        },
    )


async def _location_form(
    request: Request,
    session: AsyncSession,
    *,
    values: Mapping[str, Any],
    errors: forms.FormErrors,
    location: Any = None,
    status: int = 200,
) -> Response:
    rows = await location_rows(session)
    exclude = location.id if location is not None else None
    return render(
        request,
        "pages/inventory/locations/form.html",
        {
            "location": location,
            "values": values,
            "errors": errors,
            "types": LOCATION_TYPES,
            "parent_options": tree_options(rows, lambda loc: f"{loc.code} — {loc.name}", exclude=exclude),
        },
        status=status,
    )


def _location_payload(form: FormData) -> dict[str, Any]:
    return {
        "code": text_value(form, "code"),
        "name": text_value(form, "name"),
        "type": text_value(form, "type"),
        "parent_id": id_value(form.get("parent_id")),
        "description": text_value(form, "description"),
        "is_active": flag(form, "is_active"),
    }


def _location_state(form: FormData) -> dict[str, Any]:
    return {**forms.form_values(form), "is_active": flag(form, "is_active")}


@router.get("/inventory/locations/new", openapi_extra=mirrors(f"POST {API}/locations"))
async def location_new(request: Request, user: LocationManager, session: ReadSessionDep) -> Response:
    values = {"parent_id": query_id(request, "parent"), "type": LocationType.WAREHOUSE.value, "is_active": True}
    return await _location_form(request, session, values=values, errors=forms.FormErrors())


@router.post("/inventory/locations/new", openapi_extra=mirrors(f"POST {API}/locations"))
async def location_create(request: Request, user: LocationManager, session: SessionDep) -> Response:
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    data = validate(LocationCreate, _location_payload(form), locale, errors)
    if data is not None:
        try:
            location = await stock_service.create_location(session, user.actor, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
    if errors or data is None:
        return await _location_form(request, session, values=_location_state(form), errors=errors, status=422)
    return redirect(
        request,
        f"/web/inventory/locations/{location.id}",
        i18n.translate(locale, "Location %(code)s was created.", code=location.code),
    )


@router.get("/inventory/locations/{location_id}", openapi_extra=mirrors(f"GET {API}/locations/{{location_id}}"))
async def location_detail(
    request: Request, location_id: PathId, user: StockViewer, session: ReadSessionDep
) -> Response:
    location = await stock_service.get_location(session, location_id)
    read = (await stock_service.location_reads(session, [location]))[0]
    rows = await location_rows(session)
    children = [(n, d) for n, d in rows if n.parent_id == location.id]
    query = list_query(request)
    filters = LotFilter(location_id=location.id)
    page = await fetch_list(
        query, lambda pr, sort: stock_service.list_lots(session, filters=filters, page=pr, sort=sort, search=query.q)
    )
    lots = await stock_service.lot_reads(session, page.items)
    return render(
        request,
        "pages/inventory/locations/detail.html",
        {
            "location": read,
            "children": [n for n, _d in children],
            "types": dict(LOCATION_TYPES),
            "page": page,
            "lots": lots,
            "can_manage": user.actor.has(stock_perms.MANAGE_LOCATIONS),
        },
        blocks=("results",),
    )


@router.get("/inventory/locations/{location_id}/edit", openapi_extra=mirrors(f"PUT {API}/locations/{{location_id}}"))
async def location_edit(
    request: Request, location_id: PathId, user: LocationManager, session: ReadSessionDep
) -> Response:
    location = await stock_service.get_location(session, location_id)
    values = {
        "code": location.code,
        "name": location.name,
        "type": location.type,
        "parent_id": location.parent_id,
        "description": location.description,
        "is_active": location.is_active,
    }
    return await _location_form(request, session, values=values, errors=forms.FormErrors(), location=location)


@router.post("/inventory/locations/{location_id}/edit", openapi_extra=mirrors(f"PUT {API}/locations/{{location_id}}"))
async def location_update(
    request: Request, location_id: PathId, user: LocationManager, session: SessionDep
) -> Response:
    location = await stock_service.get_location(session, location_id)
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    data = validate(LocationUpdate, _location_payload(form), locale, errors)
    if data is not None:
        try:
            location = await stock_service.update_location(session, user.actor, location_id=location_id, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
            location = await stock_service.get_location(session, location_id)
    if errors or data is None:
        return await _location_form(
            request, session, values=_location_state(form), errors=errors, location=location, status=422
        )
    return redirect(
        request,
        f"/web/inventory/locations/{location.id}",
        i18n.translate(locale, "Location %(code)s was saved.", code=location.code),
    )


# --- companies and supplier parts ----------------------------------------------------------------

COMPANY_FLAGS = (
    ("is_supplier", _("Supplier")),
    ("is_manufacturer", _("Manufacturer")),
    ("is_customer", _("Customer")),
    ("is_active", _("Active")),
)
COMPANY_TEXTS = (
    "tax_id",
    "registration_number",
    "currency",
    "payment_terms",
    "delivery_terms",
    "bank_account",
    "email",
    "phone",
    "website",
    "notes",
)
COMPANY_KINDS = (
    ("supplier", _("Suppliers")),
    ("manufacturer", _("Manufacturers")),
    ("customer", _("Customers")),
)


@router.get("/inventory/companies", openapi_extra=mirrors(f"GET {API}/companies"))
async def companies_list(request: Request, user: CompanyViewer, session: ReadSessionDep) -> Response:
    query = list_query(request)
    kind = request.query_params.get("kind") or ""
    filters = CompanyFilter(
        is_supplier=True if kind == "supplier" else None,
        is_manufacturer=True if kind == "manufacturer" else None,
        is_customer=True if kind == "customer" else None,
        is_active=query_flag(request, "active"),
    )
    page = await fetch_list(
        query,
        lambda pr, sort: company_service.list_companies(session, filters=filters, page=pr, sort=sort, search=query.q),
    )
    return render(
        request,
        "pages/inventory/companies/list.html",
        {
            "page": page,
            "rows": page.items,
            "q": query.q or "",
            "kind": kind,
            "kinds": COMPANY_KINDS,
            "active": request.query_params.get("active") or "",
            "filtered": bool(query.q or kind or filters.is_active is not None),
            "can_add": user.actor.has(company_perms.ADD),
        },
        blocks=("results",),
    )


async def _company_form(
    request: Request, *, values: Mapping[str, Any], errors: forms.FormErrors, company: Any = None, status: int = 200
) -> Response:
    return render(
        request,
        "pages/inventory/companies/form.html",
        {"company": company, "values": values, "errors": errors, "flags": COMPANY_FLAGS},
        status=status,
    )


def _company_payload(form: FormData) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": text_value(form, "code"), "name": text_value(form, "name")}
    payload.update({name: text_value(form, name) for name in COMPANY_TEXTS})
    payload.update({name: flag(form, name) for name, _label in COMPANY_FLAGS})
    return payload


def _company_state(form: FormData) -> dict[str, Any]:
    return {**forms.form_values(form), **{name: flag(form, name) for name, _label in COMPANY_FLAGS}}


@router.get("/inventory/companies/new", openapi_extra=mirrors(f"POST {API}/companies"))
async def company_new(request: Request, user: CompanyAdder) -> Response:
    values = {"is_supplier": True, "is_active": True, "currency": "EUR"}
    return await _company_form(request, values=values, errors=forms.FormErrors())


@router.post("/inventory/companies/new", openapi_extra=mirrors(f"POST {API}/companies"))
async def company_create(request: Request, user: CompanyAdder, session: SessionDep) -> Response:
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    data = validate(CompanyCreate, _company_payload(form), locale, errors)
    if data is not None:
        try:
            company = await company_service.create_company(session, user.actor, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
    if errors or data is None:
        return await _company_form(request, values=_company_state(form), errors=errors, status=422)
    return redirect(
        request,
        f"/web/inventory/companies/{company.id}",
        i18n.translate(locale, "Company %(code)s was created.", code=company.code),
    )


async def _company_page(
    request: Request, session: AsyncSession, user: WebUser, company_id: int, tab: str, status: int = 200, **ctx: Any
) -> Response:
    company = await company_service.get_company(session, company_id)
    base = f"/web/inventory/companies/{company.id}"
    tabs = [Tab("details", _("Details"), base), Tab("supplier-parts", _("Supplier parts"), f"{base}/supplier-parts")]
    return render(
        request,
        "pages/inventory/companies/detail.html",
        {
            "company": company_service.company_read(company),
            "tab": tab,
            "tabs": tabs,
            "flags": COMPANY_FLAGS,
            "can_change": user.actor.has(company_perms.CHANGE),
            "page": None,
            "supplier_parts": [],
            "can_add_part": False,
            "values": {},
            "part_display": "",
            "errors": forms.FormErrors(),
            **ctx,
        },
        status=status,
        blocks=("detail-body", "results"),
    )


@router.get("/inventory/companies/{company_id}", openapi_extra=mirrors(f"GET {API}/companies/{{company_id}}"))
async def company_detail(
    request: Request, company_id: PathId, user: CompanyViewer, session: ReadSessionDep
) -> Response:
    return await _company_page(request, session, user, company_id, "details")


@router.get("/inventory/companies/{company_id}/details", openapi_extra=mirrors(f"GET {API}/companies/{{company_id}}"))
async def company_details_tab(
    request: Request, company_id: PathId, user: CompanyViewer, session: ReadSessionDep
) -> Response:
    return await _company_page(request, session, user, company_id, "details")


async def _supplier_parts_tab(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    company_id: int,
    *,
    values: Mapping[str, Any] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    company = await company_service.get_company(session, company_id)
    query = list_query(request)
    filters = SupplierPartFilter(supplier_id=company.id)
    page = await fetch_list(
        query,
        lambda pr, sort: company_service.list_supplier_parts(
            session, filters=filters, page=pr, sort=sort, search=query.q
        ),
    )
    reads = await company_service.supplier_part_reads(session, list(page.items))
    values = dict(values or {"pack_quantity": "1"})
    part_display = ""
    chosen = values.get("part_id")
    if isinstance(chosen, str) and chosen.isdigit() and user.actor.has(part_perms.VIEW):
        found = await part_service.parts_by_id(session, {int(chosen)})
        part_display = f"{found[0].ipn} — {found[0].name}" if found else ""
    return await _company_page(
        request,
        session,
        user,
        company_id,
        "supplier-parts",
        status=status,
        page=page,
        supplier_parts=reads,
        can_add_part=user.actor.has(company_perms.ADD) and company.is_supplier and company.is_active,
        values=values,
        part_display=part_display,
        errors=errors or forms.FormErrors(),
    )


@router.get(
    "/inventory/companies/{company_id}/supplier-parts",
    openapi_extra=mirrors(f"GET {API}/companies/{{company_id}}/supplier-parts"),
)
async def company_supplier_parts(
    request: Request, company_id: PathId, user: CompanyViewer, session: ReadSessionDep
) -> Response:
    return await _supplier_parts_tab(request, session, user, company_id)


SUPPLIER_PART_TEXTS = ("supplier_code", "description", "supplier_unit", "notes")


@router.post("/inventory/companies/{company_id}/supplier-parts", openapi_extra=mirrors(f"POST {API}/supplier-parts"))
async def supplier_part_create(
    request: Request, company_id: PathId, user: CompanyAdder, session: SessionDep
) -> Response:
    await company_service.get_company(session, company_id)
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    payload: dict[str, Any] = {"supplier_id": company_id, "part_id": id_value(form.get("part_id"))}
    payload.update({name: text_value(form, name) for name in SUPPLIER_PART_TEXTS})
    pack = decimal_value(form, "pack_quantity", locale, errors)
    if pack is not None:
        payload["pack_quantity"] = pack
    payload["price"] = decimal_value(form, "price", locale, errors)
    currency = text_value(form, "currency").strip()
    payload["currency"] = currency or None
    lead = text_value(form, "lead_time_days").strip()
    if lead:
        if lead.isdigit() and len(lead) <= 9:
            payload["lead_time_days"] = int(lead)
        else:
            errors.add("lead_time_days", forms.message_for("int_parsing", locale))
    if payload["part_id"] is None:
        errors.add("part_id", forms.message_for("missing", locale))
    data = validate(SupplierPartCreate, payload, locale, errors) if not errors else None
    if data is not None:
        try:
            await company_service.create_supplier_part(session, user.actor, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
    if errors or data is None:
        return await _supplier_parts_tab(
            request, session, user, company_id, values=forms.form_values(form), errors=errors, status=422
        )
    return redirect(
        request,
        f"/web/inventory/companies/{company_id}/supplier-parts",
        i18n.translate(locale, "Supplier part %(code)s was added.", code=data.supplier_code),
    )


@router.get("/inventory/companies/{company_id}/edit", openapi_extra=mirrors(f"PUT {API}/companies/{{company_id}}"))
async def company_edit(request: Request, company_id: PathId, user: CompanyChanger, session: ReadSessionDep) -> Response:
    company = await company_service.get_company(session, company_id)
    values = {"code": company.code, "name": company.name}
    values.update({name: getattr(company, name) for name in COMPANY_TEXTS})
    values.update({name: getattr(company, name) for name, _label in COMPANY_FLAGS})
    return await _company_form(request, values=values, errors=forms.FormErrors(), company=company)


@router.post("/inventory/companies/{company_id}/edit", openapi_extra=mirrors(f"PUT {API}/companies/{{company_id}}"))
async def company_update(request: Request, company_id: PathId, user: CompanyChanger, session: SessionDep) -> Response:
    company = await company_service.get_company(session, company_id)
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    data = validate(CompanyUpdate, _company_payload(form), locale, errors)
    if data is not None:
        try:
            company = await company_service.update_company(session, user.actor, company_id=company_id, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
            company = await company_service.get_company(session, company_id)
    if errors or data is None:
        return await _company_form(request, values=_company_state(form), errors=errors, company=company, status=422)
    return redirect(
        request,
        f"/web/inventory/companies/{company.id}",
        i18n.translate(locale, "Company %(code)s was saved.", code=company.code),
    )


# --- typeahead lookups (ui.md §5.15) -------------------------------------------------------------

LookupQ = Annotated[str, Query(max_length=200)]


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    value: int
    label: str
    hint: str = ""


def _options(request: Request, options: list[Option]) -> Response:
    return render_fragment(request, "partials/lookup_options.html", {"options": options[:LOOKUP_LIMIT]})


FIRST = PageRequest(offset=0, limit=LOOKUP_LIMIT)


@router.get("/lookup/parts", openapi_extra=mirrors(f"GET {API}/parts"))
async def lookup_parts(request: Request, user: PartViewer, session: ReadSessionDep, q: LookupQ = "") -> Response:
    page = await part_service.list_parts(
        session, filters=PartFilter(is_active=True), page=FIRST, sort=None, search=q.strip() or None
    )
    reads = await part_service.part_reads(session, list(page.items))
    return _options(request, [Option(f"opt-part-{p.id}", p.id, f"{p.ipn} — {p.name}", p.unit_code) for p in reads])


@router.get("/lookup/suppliers", openapi_extra=mirrors(f"GET {API}/companies"))
async def lookup_suppliers(request: Request, user: CompanyViewer, session: ReadSessionDep, q: LookupQ = "") -> Response:
    page = await company_service.list_companies(
        session,
        filters=CompanyFilter(is_supplier=True, is_active=True),
        page=FIRST,
        sort=None,
        search=q.strip() or None,
    )
    return _options(request, [Option(f"opt-supplier-{c.id}", c.id, c.name, c.code) for c in page.items])


@router.get("/lookup/supplier-parts", openapi_extra=mirrors(f"GET {API}/supplier-parts"))
async def lookup_supplier_parts(
    request: Request,
    user: CompanyViewer,
    session: ReadSessionDep,
    q: LookupQ = "",
    supplier: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
) -> Response:
    page = await company_service.list_supplier_parts(
        session,
        filters=SupplierPartFilter(supplier_id=supplier, is_active=True),
        page=FIRST,
        sort=None,
        search=q.strip() or None,
    )
    reads = await company_service.supplier_part_reads(session, list(page.items))
    return _options(
        request,
        [
            Option(f"opt-supplier-part-{sp.id}", sp.id, sp.supplier_code, f"{sp.part_ipn} — {sp.part_name}")
            for sp in reads
        ],
    )


@router.get("/lookup/locations", openapi_extra=mirrors(f"GET {API}/locations"))
async def lookup_locations(request: Request, user: StockViewer, session: ReadSessionDep, q: LookupQ = "") -> Response:
    page = await stock_service.list_locations(
        session, filters=LocationFilter(is_active=True), page=FIRST, sort=None, search=q.strip() or None
    )
    reads = await stock_service.location_reads(session, page.items)
    return _options(
        request, [Option(f"opt-location-{loc.id}", loc.id, f"{loc.code} — {loc.name}", loc.path) for loc in reads]
    )
