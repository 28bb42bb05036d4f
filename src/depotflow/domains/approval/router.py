"""Native routes of approvals: /api/approvals (templates, flows, signatures, verification)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from depotflow.core.listing import PageRequest
from depotflow.core.security import Actor
from depotflow.domains.approval import permissions
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.errors import UnknownObjectType
from depotflow.domains.approval.schemas import (
    MAX_ID,
    FlowContent,
    FlowCreate,
    FlowFilter,
    FlowRead,
    FlowVerification,
    SignRequest,
    TemplateCreate,
    TemplateFilter,
    TemplateRead,
    TemplateUpdate,
    WithdrawRequest,
)
from depotflow.domains.identity import service as identity_service
from depotflow.web.deps import (
    ListEnvelope,
    ListParamsDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    client_ip,
    envelope,
    require,
)

Viewer = Annotated[Actor, Depends(require(permissions.VIEW))]
Creator = Annotated[Actor, Depends(require(permissions.CREATE))]
Signer = Annotated[Actor, Depends(require(permissions.SIGN))]
Withdrawer = Annotated[Actor, Depends(require(permissions.WITHDRAW))]
TemplateManager = Annotated[Actor, Depends(require(permissions.TEMPLATES_MANAGE))]
PathId = Annotated[int, Path(gt=0, le=MAX_ID)]

router = APIRouter(prefix="/api/approvals", tags=["approvals"])


@router.get("/templates", response_model=ListEnvelope[TemplateRead])
async def list_templates(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[TemplateFilter, Query()]
) -> ListEnvelope[TemplateRead]:
    """Approval templates. Filters: object_type, stage, is_active. Sortable: name, object_type, created_at."""
    page = await approval_service.list_templates(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await approval_service.template_reads(session, page.items))


@router.post("/templates", response_model=TemplateRead, status_code=status.HTTP_201_CREATED)
async def create_template(body: TemplateCreate, actor: TemplateManager, session: SessionDep) -> TemplateRead:
    """Define who must (and who may) sign objects of a type and stage."""
    template = await approval_service.create_template(session, actor, data=body)
    return await approval_service.template_read(session, template)


@router.get("/templates/{template_id}", response_model=TemplateRead)
async def get_template(template_id: PathId, actor: Viewer, session: SessionDep) -> TemplateRead:
    """One template."""
    return await approval_service.template_read(session, await approval_service.get_template(session, template_id))


@router.put("/templates/{template_id}", response_model=TemplateRead)
async def update_template(
    template_id: PathId, body: TemplateUpdate, actor: TemplateManager, session: SessionDep
) -> TemplateRead:
    """Change a template; flows already started keep their officers."""
    template = await approval_service.update_template(session, actor, template_id=template_id, data=body)
    return await approval_service.template_read(session, template)


@router.delete("/templates/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(template_id: PathId, actor: TemplateManager, session: SessionDep) -> Response:
    """Delete an unused template; one that flows came from is deactivated instead."""
    await approval_service.retire_template(session, actor, template_id=template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/flows", response_model=ListEnvelope[FlowRead])
async def list_flows(
    actor: Viewer, session: SessionDep, params: ListParamsDep, filters: Annotated[FlowFilter, Query()]
) -> ListEnvelope[FlowRead]:
    """Approval flows. Filters: object_type, object_id, stage, status. Sortable: created_at, updated_at, status."""
    page = await approval_service.list_flows(
        session, filters=filters, page=params.page, sort=params.sort, search=params.search
    )
    return envelope(page, await approval_service.flow_reads(session, page.items))


@router.post("/flows", response_model=FlowRead, status_code=status.HTTP_201_CREATED)
async def create_flow(body: FlowCreate, actor: Creator, session: SessionDep) -> FlowRead:
    """Start the approval of an object from a template (the active one for its type and stage by default)."""
    flow = await approval_service.start_flow(
        session,
        actor,
        object_type=body.object_type,
        object_id=body.object_id,
        stage=body.stage,
        template_id=body.template_id,
    )
    return (await approval_service.flow_reads(session, [flow]))[0]


@router.get("/pending", response_model=ListEnvelope[FlowRead])
async def list_pending(actor: Signer, session: SessionDep) -> ListEnvelope[FlowRead]:
    """Open flows waiting for the current user's signature."""
    flows = await approval_service.list_waiting_for(session, actor)
    items = await approval_service.flow_reads(session, flows)
    return ListEnvelope[FlowRead](items=items, total=len(items), offset=0, limit=None)


@router.get("/flows/object/{object_type}/{object_id}", response_model=ListEnvelope[FlowRead])
async def get_flows_for_object(
    object_type: Annotated[str, Path(max_length=100)], object_id: PathId, actor: Viewer, session: SessionDep
) -> ListEnvelope[FlowRead]:
    """Every flow (one per stage) of one object.

    Raises: UnknownObjectType (a mistyped type would otherwise look like an object without flows).
    """
    known = approval_service.registered_object_types()
    if object_type not in known:
        raise UnknownObjectType(f"'{object_type}' is not an approvable object type.", details={"known": known})
    page = await approval_service.list_flows(
        session,
        filters=FlowFilter(object_type=object_type, object_id=object_id),
        page=PageRequest(offset=0, limit=None),
        sort="created_at",
        search=None,
    )
    items = await approval_service.flow_reads(session, page.items)
    return ListEnvelope[FlowRead](items=items, total=len(items), offset=0, limit=None)


@router.get("/flows/{flow_id}", response_model=FlowRead)
async def get_flow(flow_id: PathId, actor: Viewer, session: SessionDep) -> FlowRead:
    """One flow with its officers and signatures."""
    return (await approval_service.flow_reads(session, [await approval_service.get_flow(session, flow_id)]))[0]


@router.get("/flows/{flow_id}/content", response_model=FlowContent)
async def get_flow_content(flow_id: PathId, actor: Viewer, session: SessionDep) -> FlowContent:
    """What a signature would sign now: the object's title, link, canonical content and its digest."""
    flow = await approval_service.get_flow(session, flow_id)
    description = await approval_service.describe_object(session, flow.object_type, flow.object_id)
    return FlowContent(**description.model_dump(), content_digest=approval_service.content_digest(description.content))


@router.post("/flows/{flow_id}/sign", response_model=FlowRead)
async def sign_flow(
    flow_id: PathId,
    body: SignRequest,
    request: Request,
    actor: Signer,
    read_session: ReadSessionDep,
    session: SessionDep,
    settings: SettingsDep,
) -> FlowRead:
    """Sign (approve or reject) with a re-entered password; IP and user agent come from the request."""
    await identity_service.reauthenticate(
        read_session,
        session,
        actor,
        password=body.password,
        ip_address=client_ip(request),
        security=settings.security,
        identity=settings.identity,
        purpose="the signature",
    )
    flow = await approval_service.sign(
        session,
        actor,
        flow_id=flow_id,
        decision=body.decision,
        meaning=body.meaning,
        reason=body.reason,
        ip_address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        secret=settings.resolved_secret_key(),
        expected_digest=body.expected_digest,
    )
    return (await approval_service.flow_reads(session, [flow]))[0]


@router.delete("/flows/{flow_id}/signatures/{user_id}", response_model=FlowRead)
async def withdraw_signature(
    flow_id: PathId,
    user_id: PathId,
    body: WithdrawRequest,
    actor: Withdrawer,
    session: SessionDep,
    settings: SettingsDep,
) -> FlowRead:
    """Withdraw a user's signature (kept in the record, marked withdrawn, with the reason)."""
    flow = await approval_service.withdraw_signature(
        session, actor, flow_id=flow_id, user_id=user_id, reason=body.reason, secret=settings.resolved_secret_key()
    )
    return (await approval_service.flow_reads(session, [flow]))[0]


@router.get("/flows/{flow_id}/verify", response_model=FlowVerification)
async def verify_flow(flow_id: PathId, actor: Viewer, session: SessionDep, settings: SettingsDep) -> FlowVerification:
    """Recompute every signature's seal and compare the signed content with the object today."""
    return await approval_service.verify_flow(session, flow_id=flow_id, secret=settings.resolved_secret_key())
