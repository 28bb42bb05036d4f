"""Native routes of the audit trail: /api/audit."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from depotflow.core.security import Actor
from depotflow.domains.audit import permissions
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.schemas import AuditEntryRead, AuditFilter, VerifyReport
from depotflow.web.deps import ListEnvelope, ListParamsDep, ReadSessionDep, SessionDep, envelope, require

AuditViewer = Annotated[Actor, Depends(require(permissions.VIEW))]

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("/", response_model=ListEnvelope[AuditEntryRead])
async def list_audit_entries(
    actor: AuditViewer, session: SessionDep, params: ListParamsDep, filters: Annotated[AuditFilter, Query()]
) -> ListEnvelope[AuditEntryRead]:
    """The trail, newest first. Filters: action, username, entity_type, entity_id, since, until, request_id."""
    page = await audit_service.list_entries(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, [AuditEntryRead.model_validate(audit_service.entry_as_dict(e)) for e in page.items])


@router.get("/actions", response_model=list[str])
async def list_audit_actions(actor: AuditViewer, session: SessionDep) -> list[str]:
    """Every action recorded so far, sorted."""
    return await audit_service.list_actions(session)


@router.get("/verify", response_model=VerifyReport)
async def verify_audit_chain(actor: AuditViewer, session: ReadSessionDep) -> VerifyReport:
    """Walk the hash chain: `ok`, how many entries were checked, and the first problem found."""
    return await audit_service.verify(session)


CSV_RESPONSE: dict[int | str, dict[str, object]] = {200: {"content": {"text/csv": {}}, "description": "The entries"}}


@router.get("/export.csv", response_class=StreamingResponse, responses=CSV_RESPONSE)
async def export_audit_csv(
    request: Request, actor: AuditViewer, filters: Annotated[AuditFilter, Query()]
) -> StreamingResponse:
    """The entries the filters select as CSV (UTF-8 with BOM), oldest first, streamed. Cells that a
    spreadsheet would run as a formula (starting with = + - @) get a leading quote."""
    return StreamingResponse(
        export_stream(request, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"', "X-Content-Type-Options": "nosniff"},
    )


async def export_stream(request: Request, filters: AuditFilter) -> AsyncIterator[bytes]:
    """The CSV body; it reads on its own session, since the response outlives the request's."""
    async with request.app.state.db.session(write=False) as session:
        async for chunk in audit_service.export_csv(session, filters=filters):
            yield chunk.encode("utf-8")
