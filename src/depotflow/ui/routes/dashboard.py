"""Home: the dashboard (ui.md A4): what waits for my signature, and one card per role."""

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from depotflow.core.listing import PageRequest
from depotflow.domains.approval import permissions as approval_perms
from depotflow.domains.approval import service as approval_service
from depotflow.domains.procurement import permissions as procurement_perms
from depotflow.domains.procurement import service as procurement_service
from depotflow.domains.procurement.enums import OrderState
from depotflow.domains.procurement.schemas import OrderFilter
from depotflow.domains.stock import permissions as stock_perms
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.schemas import LotFilter
from depotflow.ui.render import render
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import SignedIn
from depotflow.web.deps import ReadSessionDep

router = ui_router()

CARD_ROWS = 5


def _(message: str) -> str:  # extraction marker; the template translates
    return message


@dataclass(frozen=True, slots=True)
class Card:
    title: str  # msgid
    kind: str  # "orders" or "lots"
    rows: list[Any]
    total: int
    more_url: str


@router.get("/", openapi_extra=mirrors())
async def web_root() -> Response:
    return RedirectResponse("/web/dashboard", status_code=303)


@router.get(
    "/dashboard",
    openapi_extra=mirrors(
        "GET /api/auth/me", "GET /api/approvals/pending", "GET /modules/depo_procurement/api/purchase-orders"
    ),
)
async def dashboard(request: Request, user: SignedIn, session: ReadSessionDep) -> Response:
    """Every signed-in user's home; each card only with the permission its API list needs."""
    actor = user.actor
    can_sign = actor.has(approval_perms.SIGN)
    waiting = await approval_service.list_waiting_for(session, actor) if can_sign else []
    flows = await approval_service.flow_reads(session, waiting[:CARD_ROWS])
    cards: list[Card] = []
    first = PageRequest(offset=0, limit=CARD_ROWS)
    if actor.has(procurement_perms.ADD):
        page = await procurement_service.list_orders(
            session, filters=OrderFilter(state=OrderState.PENDING), page=first, sort=None, search=None
        )
        cards.append(
            Card(
                _("Orders waiting for approval"),
                "orders",
                list(page.items),
                page.total,
                "/web/procurement?state=pending",
            )
        )
    if actor.has(procurement_perms.RECEIVE):
        for state in (OrderState.ISSUED, OrderState.RECEIVING):
            page = await procurement_service.list_orders(
                session, filters=OrderFilter(state=state), page=first, sort=None, search=None
            )
            title = _("Orders to receive") if state is OrderState.ISSUED else _("Orders being received")
            cards.append(Card(title, "orders", list(page.items), page.total, f"/web/procurement?state={state.value}"))
    if actor.has(stock_perms.QC_RECORD) and actor.has(stock_perms.VIEW):
        lots = await stock_service.list_lots(
            session, filters=LotFilter(status="quarantine", in_stock=True), page=first, sort=None, search=None
        )
        cards.append(
            Card(_("Lots in quarantine"), "lots", list(lots.items), lots.total, "/web/stock?status=quarantine")
        )
    return render(
        request,
        "pages/dashboard.html",
        {"can_sign": can_sign, "waiting": flows, "waiting_total": len(waiting), "cards": cards},
    )
