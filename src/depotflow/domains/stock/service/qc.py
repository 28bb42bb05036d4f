"""Quality control of lots: sampling, analysis results and their signed confirmation.

Confirming a result is an electronic signature through the approvals engine: a one-officer flow
(the confirming QC officer, must sign) on the record, signed at once with the password the caller
confirmed. The signature binds the record's content; conform releases the lot to `ok`, non-conform
moves it to `rejected`. Confirmed records are final.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.core.clock import utcnow
from depotflow.core.context import set_reason
from depotflow.core.errors import FieldError, PermissionDenied
from depotflow.core.security import Actor
from depotflow.domains.approval import service as approval_service
from depotflow.domains.approval.enums import Decision, FlowStatus, OfficerAction, OfficerKind
from depotflow.domains.approval.schemas import ObjectDescription
from depotflow.domains.audit import service as audit_service
from depotflow.domains.stock import permissions
from depotflow.domains.stock import repository as stock_repo
from depotflow.domains.stock.enums import QC_OBJECT_TYPE, QC_STAGE, QUARANTINE_SLUGS, MovementKind, QcResult, StatusSlug
from depotflow.domains.stock.errors import (
    LotNotInQuarantine,
    LotReversed,
    QcRecordConfirmed,
    QcRecordNotFound,
    QcResultPending,
    UnknownReference,
)
from depotflow.domains.stock.models import QcRecord, StockLocation, StockLot
from depotflow.domains.stock.schemas import QcRecordCreate, QcRecordRead, QcRecordUpdate
from depotflow.domains.stock.service import ledger


async def qc_reads(session: AsyncSession, records: Sequence[QcRecord]) -> list[QcRecordRead]:
    """Read models with each lot's batch code and current status, in two queries."""
    lot_ids = {r.lot_id for r in records}
    lots: dict[int, StockLot] = {}
    if lot_ids:
        rows = (await session.execute(select(StockLot).where(StockLot.id.in_(lot_ids)))).scalars().all()
        lots = {lot.id: lot for lot in rows}
    statuses = await stock_repo.statuses_by_id(session, {lot.status_id for lot in lots.values()})
    return [
        QcRecordRead(
            id=r.id,
            lot_id=r.lot_id,
            order_id=r.order_id,
            part_id=lots[r.lot_id].part_id,
            batch_code=lots[r.lot_id].batch_code,
            sampling_date=r.sampling_date,
            sampled_quantity=r.sampled_quantity,
            sampling_movement_id=r.sampling_movement_id,
            analysis_number=r.analysis_number,
            analysis_date=r.analysis_date,
            result=QcResult(r.result),
            comment=r.comment,
            confirmed=r.confirmed,
            confirmed_at=r.confirmed_at,
            confirmed_by_id=r.confirmed_by_id,
            flow_id=r.flow_id,
            lot_status=statuses[lots[r.lot_id].status_id].slug,
            created_by_id=r.created_by_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in records
    ]


async def get_qc_record(session: AsyncSession, record_id: int) -> QcRecord:
    """Raises: QcRecordNotFound."""
    record = await session.get(QcRecord, record_id)
    if record is None:
        raise QcRecordNotFound(f"QC record {record_id} does not exist.", details={"qc_id": record_id})
    return record


async def records_of_lots(session: AsyncSession, lot_ids: Sequence[int]) -> list[QcRecord]:
    if not lot_ids:
        return []
    stmt = select(QcRecord).where(QcRecord.lot_id.in_(lot_ids)).order_by(QcRecord.created_at.desc(), QcRecord.id.desc())
    return list((await session.execute(stmt)).scalars().all())


async def has_qc_records(session: AsyncSession, lot_id: int) -> bool:
    stmt = select(QcRecord.id).where(QcRecord.lot_id == lot_id).limit(1)
    return (await session.execute(stmt)).first() is not None


async def create_qc_record(
    session: AsyncSession, actor: Actor, /, *, data: QcRecordCreate, lot: StockLot, order_id: int | None = None
) -> QcRecord:
    """Record sampling and (perhaps) a first result; a sampled quantity leaves the lot as a sampling
    movement in the same transaction.

    Raises: LotReversed, UnknownReference (location), InsufficientStock.
    """
    await audit_service.lock_chain(session)
    if lot.reversed_at is not None:
        raise LotReversed(f"Lot {lot.batch_code} was reversed.", details={"lot_id": lot.id})
    record = QcRecord(
        lot_id=lot.id,
        order_id=order_id,
        sampling_date=data.sampling_date,
        sampled_quantity=data.sampled_quantity,
        analysis_number=data.analysis_number,
        analysis_date=data.analysis_date,
        result=data.result.value,
        comment=data.comment,
        confirmed=False,
        created_by_id=actor.user_id,
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    if data.sampled_quantity > 0:
        location_id = data.location_id or (await stock_repo.movements_of_lot(session, lot.id))[0].location_id
        if data.location_id is not None and await session.get(StockLocation, data.location_id) is None:
            raise UnknownReference(
                f"Location {data.location_id} does not exist.",
                fields=[FieldError(("body", "location_id"), "unknown", "no such location")],
            )
        movement = await ledger.post_movement(
            session,
            actor,
            lot=lot,
            location_id=location_id,
            kind=MovementKind.SAMPLING,
            quantity=-data.sampled_quantity,
            document_type="qc_record",
            notes=f"QC sampling {data.analysis_number}".strip(),
        )
        record.sampling_movement_id = movement.id
    session.add(record)
    await session.flush()
    return record


EDITABLE = ("sampling_date", "analysis_number", "analysis_date", "result", "comment")


async def update_qc_record(
    session: AsyncSession,
    actor: Actor,
    /,
    *,
    record: QcRecord,
    data: QcRecordUpdate,
    ip_address: str | None,
    user_agent: str | None,
    secret: str,
) -> QcRecord:
    """Change an unconfirmed record and, with `confirm`, sign its result (the caller has confirmed the
    actor's password).

    Raises: QcRecordConfirmed, PermissionDenied (confirming without qc.release), QcResultPending,
    LotNotInQuarantine, LotReversed.
    """
    await audit_service.lock_chain(session)
    await session.refresh(record)
    if record.confirmed:
        raise QcRecordConfirmed(
            f"QC record {record.id} is confirmed; record a re-test as a new record.", details={"qc_id": record.id}
        )
    changes: dict[str, Any] = {
        key: value
        for key, value in data.model_dump(include=set(EDITABLE), exclude_unset=True).items()
        if value is not None or key in ("sampling_date", "analysis_date")
    }
    if "result" in changes:
        changes["result"] = QcResult(changes["result"]).value
    for key, value in changes.items():
        setattr(record, key, value)
    if changes:
        record.updated_at = utcnow()
    await session.flush()
    if data.confirm:
        await _confirm(
            session, actor, record, reason=data.reason, ip_address=ip_address, user_agent=user_agent, secret=secret
        )
    return record


async def _confirm(
    session: AsyncSession,
    actor: Actor,
    record: QcRecord,
    *,
    reason: str | None,
    ip_address: str | None,
    user_agent: str | None,
    secret: str,
) -> None:
    if not actor.has(permissions.QC_RELEASE):
        raise PermissionDenied("Confirming a QC result needs the qc.release permission.")
    result = QcResult(record.result)
    if result is QcResult.PENDING:
        raise QcResultPending(
            "Only a conform or non-conform result can be confirmed.",
            fields=[FieldError(("body", "result"), "pending", "set the result before confirming")],
        )
    lot = await stock_repo.lock_lot(session, record.lot_id)
    assert lot is not None  # a foreign key
    if lot.reversed_at is not None:
        raise LotReversed(f"Lot {lot.batch_code} was reversed.", details={"lot_id": lot.id})
    current = await stock_repo.statuses_by_id(session, [lot.status_id])
    if current[lot.status_id].slug not in QUARANTINE_SLUGS:
        raise LotNotInQuarantine(
            f"Lot {lot.batch_code} is {current[lot.status_id].slug}, not in quarantine.",
            details={"lot_id": lot.id, "status": current[lot.status_id].slug},
        )
    assert actor.user_id is not None
    flow = await approval_service.start_flow(
        session,
        actor,
        object_type=QC_OBJECT_TYPE,
        object_id=record.id,
        stage=QC_STAGE,
        officers=[
            approval_service.Officer(
                slot=0, kind=OfficerKind.USER, action=OfficerAction.MUST_SIGN, user_id=actor.user_id
            )
        ],
    )
    meaning = "qc_released" if result is QcResult.CONFORM else "qc_rejected"
    flow = await approval_service.sign(
        session,
        actor,
        flow_id=flow.id,
        decision=Decision.APPROVE,
        meaning=meaning,
        reason=reason,
        ip_address=ip_address,
        user_agent=user_agent,
        secret=secret,
    )
    assert flow.status == FlowStatus.APPROVED.value
    target = StatusSlug.OK if result is QcResult.CONFORM else StatusSlug.REJECTED
    set_reason(session.sync_session, f"QC record {record.id}: {result.value}" + (f" — {reason}" if reason else ""))
    await ledger.set_status(session, actor, lot=lot, status=await ledger.get_status(session, target.value))
    record.confirmed = True
    record.confirmed_at = utcnow()
    record.confirmed_by_id = actor.user_id
    record.flow_id = flow.id
    await session.flush()


async def describe_qc_record(session: AsyncSession, record_id: int) -> ObjectDescription | None:
    """A QC record as signed content: the lot, the sampling and the result."""
    record = await session.get(QcRecord, record_id)
    if record is None:
        return None
    lot = await session.get(StockLot, record.lot_id)
    assert lot is not None
    return ObjectDescription(
        title=f"QC of lot {lot.batch_code}",
        link=f"/modules/inventory/api/stock-lots/{lot.id}",
        content={
            "qc_record_id": record.id,
            "lot_id": lot.id,
            "part_id": lot.part_id,
            "batch_code": lot.batch_code,
            "sampled_quantity": str(record.sampled_quantity),
            "analysis_number": record.analysis_number,
            "analysis_date": record.analysis_date.isoformat() if record.analysis_date else None,
            "result": record.result,
            "comment": record.comment,
        },
    )
