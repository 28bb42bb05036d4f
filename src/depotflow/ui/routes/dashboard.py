"""Home: the dashboard (ui.md A4)."""

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from depotflow.domains.approval import permissions as approval_perms
from depotflow.domains.approval import service as approval_service
from depotflow.ui.render import render
from depotflow.ui.routing import mirrors, ui_router
from depotflow.ui.session import SignedIn
from depotflow.web.deps import ReadSessionDep

router = ui_router()


@router.get("/", openapi_extra=mirrors())
async def web_root() -> Response:
    return RedirectResponse("/web/dashboard", status_code=303)


@router.get("/dashboard", openapi_extra=mirrors("GET /api/auth/me", "GET /api/approvals/pending"))
async def dashboard(request: Request, user: SignedIn, session: ReadSessionDep) -> Response:
    """Every signed-in user's home; the approvals waiting for them only with approval.sign, as the API."""
    can_sign = user.actor.has(approval_perms.SIGN)
    waiting = await approval_service.list_waiting_for(session, user.actor) if can_sign else []
    flows = await approval_service.flow_reads(session, waiting[:5])
    return render(
        request, "pages/dashboard.html", {"can_sign": can_sign, "waiting": flows, "waiting_total": len(waiting)}
    )
