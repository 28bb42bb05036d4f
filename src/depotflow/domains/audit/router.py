"""Native routes of the audit trail: /api/audit."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from depotflow.core.security import Actor
from depotflow.domains.audit import permissions
from depotflow.domains.audit import service as audit_service
from depotflow.domains.audit.schemas import AuditEntryRead, AuditFilter
from depotflow.web.deps import ListEnvelope, ListParamsDep, SessionDep, envelope, require

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
