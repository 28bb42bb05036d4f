"""UI routes: stock (ui.md §4.3 C1-C2, §6.3): the lots list and a lot's detail with the tabs Details,
Quality (its QC records, with their approval panels) and Movements (its ledger with a running balance).

Read views; the only write is recording QC sampling on the Quality tab, which mirrors the lot's own
QC route (`qc.record`).
"""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from depotflow.core.errors import DepotflowError
from depotflow.domains.company import permissions as company_perms
from depotflow.domains.company import service as company_service
from depotflow.domains.identity import service as identity_service
from depotflow.domains.part import permissions as part_perms
from depotflow.domains.part import service as part_service
from depotflow.domains.stock import permissions as stock_perms
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import QC_OBJECT_TYPE, MovementKind, QcResult
from depotflow.domains.stock.errors import LotNotFound
from depotflow.domains.stock.schemas import LotFilter, LotQcRecordCreate, MovementFilter
from depotflow.ui import forms, i18n
from depotflow.ui.approval_panel import ApprovalPanel, approval_panel
from depotflow.ui.listing import fetch_list, list_query
from depotflow.ui.render import locale_of, render, ui_state
from depotflow.ui.routes.inventory import (
    ALL,
    API,
    PathId,
    decimal_value,
    id_value,
    location_rows,
    query_id,
    redirect,
    refused,
    text_value,
    tree_options,
    validate,
)
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import WebUser, web_requirement
from depotflow.ui.tabs import Tab
from depotflow.web.deps import ReadSessionDep, SessionDep

router = ui_router()

StockViewer = Annotated[WebUser, Depends(web_requirement(stock_perms.VIEW))]
QcRecorder = Annotated[WebUser, Depends(web_requirement(stock_perms.QC_RECORD))]


def _(message: str) -> str:  # marks msgids for extraction; translated at render time
    return message


MOVEMENT_LABELS = {
    MovementKind.RECEIPT.value: _("Receipt"),
    MovementKind.CONSUMPTION.value: _("Consumption"),
    MovementKind.TRANSFER_OUT.value: _("Transfer out"),
    MovementKind.TRANSFER_IN.value: _("Transfer in"),
    MovementKind.ADJUSTMENT.value: _("Adjustment"),
    MovementKind.SCRAP.value: _("Scrap"),
    MovementKind.SAMPLING.value: _("Sampling"),
    MovementKind.REVERSAL.value: _("Reversal"),
}
QC_RESULTS = (
    (QcResult.PENDING.value, _("Pending")),
    (QcResult.CONFORM.value, _("Conform")),
    (QcResult.NON_CONFORM.value, _("Non-conform")),
)


# --- the lots list -------------------------------------------------------------------------------


@router.get("/stock", openapi_extra=mirrors(f"GET {API}/stock-lots", f"GET {API}/stock-statuses"))
async def lots_list(request: Request, user: StockViewer, session: ReadSessionDep) -> Response:
    query = list_query(request)
    statuses = await stock_service.list_statuses(session)
    slugs = {s.slug for s in statuses}
    status = request.query_params.get("status") or None
    filters = LotFilter(
        part_id=query_id(request, "part"),
        location_id=query_id(request, "location"),
        status=status if status in slugs else None,
    )
    page = await fetch_list(
        query, lambda pr, sort: stock_service.list_lots(session, filters=filters, page=pr, sort=sort, search=query.q)
    )
    lots = await stock_service.lot_reads(session, page.items)
    part_display = ""
    if filters.part_id is not None and user.actor.has(part_perms.VIEW):
        found = await part_service.parts_by_id(session, {filters.part_id})
        part_display = f"{found[0].ipn} — {found[0].name}" if found else ""
    locations = await location_rows(session)
    return render(
        request,
        "pages/stock/list.html",
        {
            "page": page,
            "lots": lots,
            "q": query.q or "",
            "part": filters.part_id,
            "part_display": part_display,
            "can_pick_part": user.actor.has(part_perms.VIEW),
            "location": filters.location_id,
            "location_options": tree_options(locations, lambda loc: f"{loc.code} — {loc.name}"),
            "status": filters.status or "",
            "statuses": [s.slug for s in statuses],
            "filtered": bool(query.q or filters.part_id or filters.location_id or filters.status),
        },
        blocks=("results",),
    )


# --- a lot ---------------------------------------------------------------------------------------


def _lot_tabs(lot_id: int, counts: dict[str, int]) -> list[Tab]:
    base = f"/web/stock/lots/{lot_id}"
    return [
        Tab("details", _("Details"), base),
        Tab("quality", _("Quality"), f"{base}/quality", counts.get("quality")),
        Tab("movements", _("Movements"), f"{base}/movements", counts.get("movements")),
    ]


async def _lot_page(
    request: Request, session: AsyncSession, user: WebUser, lot_id: int, tab: str, *, status: int = 200, **ctx: Any
) -> Response:
    lot = await stock_service.get_lot(session, lot_id)
    read = (await stock_service.lot_reads(session, [lot]))[0]
    supplier = None
    if read.supplier_id is not None and user.actor.has(company_perms.VIEW):
        supplier = (await company_service.company_refs(session, {read.supplier_id})).get(read.supplier_id)
    return render(
        request,
        "pages/stock/lot.html",
        {
            "lot": read,
            "supplier": supplier,
            "tab": tab,
            "tabs": _lot_tabs(lot.id, ctx.pop("counts", {})),
            "movement_labels": MOVEMENT_LABELS,
            "can_view_orders": user.actor.has("procurement.view"),
            "records": [],
            "panels": {},
            "movements": [],
            "can_record_qc": False,
            "qc_results": QC_RESULTS,
            "values": {},
            "errors": forms.FormErrors(),
            "location_options": [],
            "usernames": {},
            "location_codes": {},
            **ctx,
        },
        status=status,
        blocks=("detail-body",),
    )


@router.get("/stock/lots/{lot_id}", openapi_extra=mirrors(f"GET {API}/stock-lots/{{lot_id}}"))
async def lot_detail(request: Request, lot_id: PathId, user: StockViewer, session: ReadSessionDep) -> Response:
    return await _lot_page(request, session, user, lot_id, "details")


@router.get("/stock/lots/{lot_id}/details", openapi_extra=mirrors(f"GET {API}/stock-lots/{{lot_id}}"))
async def lot_details_tab(request: Request, lot_id: PathId, user: StockViewer, session: ReadSessionDep) -> Response:
    return await _lot_page(request, session, user, lot_id, "details")


async def _quality_tab(
    request: Request,
    session: AsyncSession,
    user: WebUser,
    lot_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: forms.FormErrors | None = None,
    status: int = 200,
) -> Response:
    page = await stock_service.list_lot_qc_records(session, lot_id=lot_id, page=ALL, sort=None, search=None)
    records = await stock_service.qc_reads(session, page.items)
    secret = ui_state(request).settings.resolved_secret_key()
    panels: dict[int, ApprovalPanel | None] = {}
    for record in records:
        if record.flow_id is not None:
            panels[record.id] = await approval_panel(
                session, user.actor, object_type=QC_OBJECT_TYPE, object_id=record.id, secret=secret
            )
    names, _roles = await identity_service.display_names(
        session,
        user_ids=sorted(
            {r.created_by_id for r in records if r.created_by_id}
            | {r.confirmed_by_id for r in records if r.confirmed_by_id}
        ),
        role_ids=[],
    )
    can_record = user.actor.has(stock_perms.QC_RECORD)
    locations = await location_rows(session, active=True) if can_record else []
    return await _lot_page(
        request,
        session,
        user,
        lot_id,
        "quality",
        status=status,
        records=records,
        panels=panels,
        usernames=names,
        can_record_qc=can_record,
        values=values or {"sampling_date": date.today().isoformat(), "result": QcResult.PENDING.value},
        errors=errors or forms.FormErrors(),
        location_options=tree_options(locations, lambda loc: f"{loc.code} — {loc.name}"),
    )


@router.get("/stock/lots/{lot_id}/quality", openapi_extra=mirrors(f"GET {API}/stock-lots/{{lot_id}}/qc-records"))
async def lot_quality_tab(request: Request, lot_id: PathId, user: StockViewer, session: ReadSessionDep) -> Response:
    return await _quality_tab(request, session, user, lot_id)


@router.post("/stock/lots/{lot_id}/quality", openapi_extra=mirrors(f"POST {API}/stock-lots/{{lot_id}}/qc-records"))
async def lot_qc_record_create(request: Request, lot_id: PathId, user: QcRecorder, session: SessionDep) -> Response:
    await stock_service.get_lot(session, lot_id)
    form = await request.form()
    locale = locale_of(request)
    errors = forms.FormErrors()
    payload: dict[str, Any] = {
        "location_id": id_value(form.get("location_id")),
        "sampling_date": text_value(form, "sampling_date").strip() or None,
        "analysis_number": text_value(form, "analysis_number"),
        "analysis_date": text_value(form, "analysis_date").strip() or None,
        "result": text_value(form, "result") or QcResult.PENDING.value,
        "comment": text_value(form, "comment"),
    }
    sampled = decimal_value(form, "sampled_quantity", locale, errors)
    payload["sampled_quantity"] = sampled if sampled is not None else Decimal(0)
    data = validate(LotQcRecordCreate, payload, locale, errors) if not errors else None
    if data is not None:
        try:
            record = await stock_service.create_lot_qc_record(session, user.actor, lot_id=lot_id, data=data)
        except DepotflowError as exc:
            errors = await refused(session, exc, locale)
    if errors or data is None:
        return await _quality_tab(
            request, session, user, lot_id, values=forms.form_values(form), errors=errors, status=422
        )
    return redirect(
        request,
        f"/web/stock/lots/{lot_id}/quality",
        i18n.translate(locale, "QC record %(id)s was saved.", id=record.id),
    )


@router.get("/stock/lots/{lot_id}/movements", openapi_extra=mirrors(f"GET {API}/stock-lots/{{lot_id}}/movements"))
async def lot_movements_tab(request: Request, lot_id: PathId, user: StockViewer, session: ReadSessionDep) -> Response:
    lot = await stock_service.get_lot(session, lot_id)
    page = await stock_service.list_movements(
        session, filters=MovementFilter(lot_id=lot.id), page=ALL, sort="created_at", search=None
    )
    ledger = _with_balance(page.items)
    locations = await stock_service.locations_by_id(session, {m.location_id for m in page.items})
    names, _roles = await identity_service.display_names(
        session, user_ids=sorted({m.created_by_id for m in page.items if m.created_by_id}), role_ids=[]
    )
    return await _lot_page(
        request,
        session,
        user,
        lot_id,
        "movements",
        movements=list(reversed(ledger)),
        location_codes={i: loc.code for i, loc in locations.items()},
        usernames=names,
    )


def _with_balance(movements: Sequence[Any]) -> list[tuple[Any, Decimal]]:
    """Each movement (oldest first) with the lot's running balance after it."""
    total = Decimal(0)
    rows = []
    for m in movements:
        total += m.quantity
        rows.append((m, total))
    return rows


# --- ui.md §4.3 C2 spells a lot's page /web/stock/{id}[/{tab}]: those addresses lead here too ----

LOT_TABS = ("details", "quality", "movements")


@router.get("/stock/{lot_id:int}", openapi_extra=mirrors(f"GET {API}/stock-lots/{{lot_id}}"))
async def lot_short_url(lot_id: int, user: StockViewer) -> Response:
    return RedirectResponse(f"/web/stock/lots/{lot_id}", status_code=303)


@router.get("/stock/{lot_id:int}/{tab}", openapi_extra=mirrors(f"GET {API}/stock-lots/{{lot_id}}"))
async def lot_short_tab_url(lot_id: int, tab: str, user: StockViewer) -> Response:
    if tab not in LOT_TABS:
        raise LotNotFound("No such page of a lot.", details={"tab": tab[:40]})
    return RedirectResponse(f"/web/stock/lots/{lot_id}/{tab}", status_code=303)
