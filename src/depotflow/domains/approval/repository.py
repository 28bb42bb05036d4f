"""SQL of the approval domain."""

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.listing import ColumnLike, Listing, SortField
from depotflow.domains.approval.models import ApprovalFlow, ApprovalSignature, ApprovalTemplate
from depotflow.domains.approval.schemas import FlowFilter, TemplateFilter

TEMPLATE_SORTABLE: dict[str, ColumnLike] = {
    "name": ApprovalTemplate.name,
    "object_type": ApprovalTemplate.object_type,
    "created_at": ApprovalTemplate.created_at,
}
TEMPLATE_SEARCHABLE: Sequence[ColumnLike] = (ApprovalTemplate.name, ApprovalTemplate.object_type)
FLOW_SORTABLE: dict[str, ColumnLike] = {
    "created_at": ApprovalFlow.created_at,
    "updated_at": ApprovalFlow.updated_at,
    "status": ApprovalFlow.status,
    "object_type": ApprovalFlow.object_type,
}
FLOW_SEARCHABLE: Sequence[ColumnLike] = (ApprovalFlow.title, ApprovalFlow.object_type)
FLOW_LISTING = Listing(
    sortable=FLOW_SORTABLE,
    pk=ApprovalFlow.id,
    default_sort=[SortField("created_at", descending=True)],
    searchable=FLOW_SEARCHABLE,
)
TEMPLATE_LISTING = Listing(
    sortable=TEMPLATE_SORTABLE, pk=ApprovalTemplate.id, default_sort=[SortField("name")], searchable=TEMPLATE_SEARCHABLE
)


def select_templates(f: TemplateFilter) -> Select[ApprovalTemplate]:
    stmt = select(ApprovalTemplate)
    if f.object_type is not None:
        stmt = stmt.where(ApprovalTemplate.object_type == f.object_type)
    if f.stage is not None:
        stmt = stmt.where(ApprovalTemplate.stage == f.stage)
    if f.is_active is not None:
        stmt = stmt.where(ApprovalTemplate.is_active.is_(f.is_active))
    return stmt


def select_flows(f: FlowFilter) -> Select[ApprovalFlow]:
    stmt = select(ApprovalFlow)
    if f.object_type is not None:
        stmt = stmt.where(ApprovalFlow.object_type == f.object_type)
    if f.object_id is not None:
        stmt = stmt.where(ApprovalFlow.object_id == f.object_id)
    if f.stage is not None:
        stmt = stmt.where(ApprovalFlow.stage == f.stage)
    if f.status is not None:
        stmt = stmt.where(ApprovalFlow.status == f.status)
    return stmt


def select_open_flows() -> Select[ApprovalFlow]:
    return select(ApprovalFlow).where(ApprovalFlow.status.in_(("pending", "in_progress")))


async def find_template(session: AsyncSession, template_id: int) -> ApprovalTemplate | None:
    return await session.get(ApprovalTemplate, template_id)


async def find_active_template(session: AsyncSession, object_type: str, stage: str) -> ApprovalTemplate | None:
    stmt = (
        select(ApprovalTemplate)
        .where(
            ApprovalTemplate.object_type == object_type,
            ApprovalTemplate.stage == stage,
            ApprovalTemplate.is_active.is_(True),
        )
        .order_by(ApprovalTemplate.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def template_in_use(session: AsyncSession, template_id: int) -> bool:
    stmt = select(ApprovalFlow.id).where(ApprovalFlow.template_id == template_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def find_flow(session: AsyncSession, flow_id: int) -> ApprovalFlow | None:
    return await session.get(ApprovalFlow, flow_id)


async def lock_flow(session: AsyncSession, flow_id: int) -> ApprovalFlow | None:
    stmt = (
        select(ApprovalFlow)
        .where(ApprovalFlow.id == flow_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_flow_for(session: AsyncSession, object_type: str, object_id: int, stage: str) -> ApprovalFlow | None:
    stmt = select(ApprovalFlow).where(
        ApprovalFlow.object_type == object_type, ApprovalFlow.object_id == object_id, ApprovalFlow.stage == stage
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def flows_for(
    session: AsyncSession, object_type: str, object_ids: Sequence[int], stage: str
) -> list[ApprovalFlow]:
    if not object_ids:
        return []
    stmt = select(ApprovalFlow).where(
        ApprovalFlow.object_type == object_type,
        ApprovalFlow.object_id.in_(set(object_ids)),
        ApprovalFlow.stage == stage,
    )
    return list((await session.execute(stmt)).scalars().all())


async def signatures_of(session: AsyncSession, flow_ids: Sequence[int]) -> dict[int, list[ApprovalSignature]]:
    out: dict[int, list[ApprovalSignature]] = {flow_id: [] for flow_id in flow_ids}
    if not flow_ids:
        return out
    stmt = select(ApprovalSignature).where(ApprovalSignature.flow_id.in_(flow_ids)).order_by(ApprovalSignature.id)
    for signature in (await session.execute(stmt)).scalars():
        out[signature.flow_id].append(signature)
    return out
