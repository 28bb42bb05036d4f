"""Builders for stock data: parts to stock, locations, lots received through the ledger, and readers
of row counts and balances (to prove that a refused request wrote nothing)."""

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from depotflow.core.context import ChangeContext
from depotflow.core.db import Database
from depotflow.core.security import Actor
from depotflow.domains.part import service as part_service
from depotflow.domains.part.models import PartUnit
from depotflow.domains.part.schemas import PartCreate
from depotflow.domains.stock import service as stock_service
from depotflow.domains.stock.enums import LocationType, StatusSlug
from depotflow.domains.stock.models import StockBalance
from depotflow.domains.stock.schemas import LocationCreate

BASE = "/modules/inventory/api"
LEDGER_TABLES = ("stock_lot", "stock_movement", "stock_balance", "stock_qc_record", "audit_entry")


def _context(actor: Actor | None = None) -> ChangeContext:
    return ChangeContext(actor=actor or Actor.system("test"), reason="test setup")


async def make_part(db: Database, ipn: str, *, unit_code: str = "kg", name: str | None = None) -> int:
    """A part counted in `unit_code` (one of the seeded units)."""
    async with db.unit_of_work(_context()) as session:
        unit_id = (await session.execute(select(PartUnit.id).where(PartUnit.code == unit_code))).scalar_one()
        data = PartCreate(ipn=ipn, name=name or f"Part {ipn}", unit_id=unit_id, is_purchaseable=True)
        part = await part_service.create_part(session, Actor.system("test"), data=data)
        return part.id


async def make_location(
    db: Database,
    code: str,
    type: str = "warehouse",
    parent_id: int | None = None,
    *,
    name: str | None = None,
    is_active: bool = True,
) -> int:
    """A stock location created through the service (so codes stay unique and parents exist)."""
    async with db.unit_of_work(_context()) as session:
        data = LocationCreate(
            code=code, name=name or code, type=LocationType(type), parent_id=parent_id, is_active=is_active
        )
        location = await stock_service.create_location(session, Actor.system("test"), data=data)
        return location.id


async def make_lot(
    db: Database,
    *,
    part_id: int,
    location_id: int,
    quantity: Decimal | int | str,
    batch_code: str,
    status: str = StatusSlug.QUARANTINE.value,
    actor: Actor | None = None,
    origin_type: str = "manual",
    origin_id: int | None = None,
    expiry_date: date | None = None,
    **fields: Any,
) -> int:
    """A lot received through `stock.service.receive_lot`: the lot, its receipt movement and balance."""
    who = actor or Actor.system("test")
    async with db.unit_of_work(_context(who)) as session:
        lot = await stock_service.receive_lot(
            session,
            who,
            part_id=part_id,
            batch_code=batch_code,
            location_id=location_id,
            quantity=Decimal(quantity),
            status=await stock_service.get_status(session, status),
            origin_type=origin_type,
            origin_id=origin_id,
            expiry_date=expiry_date,
            **fields,
        )
        return lot.id


async def reverse_lot(db: Database, lot_id: int, reason: str = "received by mistake") -> None:
    """Reverse the receipt of an unused lot through the ledger."""
    async with db.unit_of_work(_context()) as session:
        lot = await stock_service.get_lot(session, lot_id)
        await stock_service.reverse_receipt(session, Actor.system("test"), lot=lot, reason=reason, has_qc_records=False)


async def set_lot_status(db: Database, lot_id: int, status: str) -> None:
    async with db.unit_of_work(_context()) as session:
        lot = await stock_service.get_lot(session, lot_id)
        await stock_service.set_status(
            session, Actor.system("test"), lot=lot, status=await stock_service.get_status(session, status)
        )


async def balance(db: Database, lot_id: int, location_id: int) -> Decimal | None:
    """The stored balance of a lot at a location (None when there is no row)."""
    async with db.session(write=False) as session:
        stmt = select(StockBalance.quantity).where(
            StockBalance.lot_id == lot_id, StockBalance.location_id == location_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()


async def row_counts(db: Database, tables: tuple[str, ...] = LEDGER_TABLES) -> dict[str, int]:
    async with db.session(write=False) as session:
        return {t: int((await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in tables}
