"""The ledger consistency check: the balances and lots must agree with the append-only movements.

Everything is recomputed in SQL with GROUP BY (a handful of queries whatever the number of lots);
only the rows that disagree come back. Problems found:

- `balance_mismatch`: a stored balance differs from the sum of the lot's movements at the location;
- `missing_balance`: movements at a location with no balance row;
- `extra_balance`: a balance row no movement accounts for;
- `negative_balance`: a stored balance, or the movements at a location, adding up below zero;
- `receipt`: a lot's movements do not start with exactly one receipt (or it has none);
- `received_quantity`: the first receipt differs from the lot's received quantity;
- `reversed_not_empty`: a reversed lot whose movements do not add up to zero.
"""

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from depotflow.domains.stock import repository as stock_repo
from depotflow.domains.stock.enums import MovementKind
from depotflow.domains.stock.schemas import ConsistencyProblem, ConsistencyReport


def _problem(kind: str, lot_id: int | None, location_id: int | None, detail: str) -> ConsistencyProblem:
    return ConsistencyProblem(kind=kind, lot_id=lot_id, location_id=location_id, detail=detail)


async def _balance_problems(session: AsyncSession) -> list[ConsistencyProblem]:
    problems: list[ConsistencyProblem] = []
    for lot_id, location_id, total, stored in await stock_repo.ledger_balance_mismatches(session):
        if stored is None:
            problems.append(
                _problem(
                    "missing_balance", lot_id, location_id, f"movements add up to {total} but there is no balance row"
                )
            )
        elif stored != total:
            problems.append(
                _problem("balance_mismatch", lot_id, location_id, f"balance is {stored}, movements add up to {total}")
            )
        if total < 0:
            problems.append(_problem("negative_balance", lot_id, location_id, f"movements add up to {total}"))
    for lot_id, location_id, stored in await stock_repo.balances_without_movements(session):
        problems.append(_problem("extra_balance", lot_id, location_id, f"balance row of {stored} without any movement"))
    for lot_id, location_id, stored in await stock_repo.negative_balances(session):
        problems.append(_problem("negative_balance", lot_id, location_id, f"stored balance is {stored}"))
    return problems


async def _lot_problems(session: AsyncSession) -> list[ConsistencyProblem]:
    problems: list[ConsistencyProblem] = []
    receipt = MovementKind.RECEIPT.value
    for row in await stock_repo.suspicious_lots(session, receipt):
        if row.movements == 0:
            problems.append(_problem("receipt", row.lot_id, None, "the lot has no movements, not even its receipt"))
        elif row.receipts != 1 or row.first_kind != receipt:
            problems.append(
                _problem(
                    "receipt",
                    row.lot_id,
                    None,
                    f"movements start with {row.first_kind!r} and hold {row.receipts} receipts; expected one receipt first",
                )
            )
        if row.first_receipt_quantity is not None and row.first_receipt_quantity != row.received_quantity:
            problems.append(
                _problem(
                    "received_quantity",
                    row.lot_id,
                    None,
                    f"first receipt is {row.first_receipt_quantity}, the lot says {row.received_quantity} received",
                )
            )
        if row.reversed and row.total != Decimal(0):
            problems.append(
                _problem("reversed_not_empty", row.lot_id, None, f"reversed, but its movements add up to {row.total}")
            )
    return problems


async def check_ledger(session: AsyncSession) -> ConsistencyReport:
    """Recompute balances and lot invariants from the movement ledger and report every disagreement."""
    lots, movements, balances = await stock_repo.ledger_counts(session)
    problems = await _balance_problems(session) + await _lot_problems(session)
    problems.sort(key=lambda p: (p.lot_id or 0, p.location_id or 0, p.kind))
    return ConsistencyReport(ok=not problems, lots=lots, movements=movements, balances=balances, problems=problems)
