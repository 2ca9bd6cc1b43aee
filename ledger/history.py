"""What was booked, read back: the ledger transactions that moved an account's balance or what
it holds, newest first and keyset-paged by transaction, how many they are, and where each hold
stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.tables import count_where
from ledger.tables import holds, transactions, transfers


@dataclass(frozen=True)
class Booked:
    """One ledger transaction as booked: its kind, details and time."""

    id: int
    kind: str
    details: Mapping[str, Any]
    created_at: datetime


def _moved(account_id: int) -> Any:
    """The transfers that moved the account's balance."""
    return (transfers.c.debit_account_id == account_id) | (
        transfers.c.credit_account_id == account_id
    )


def _held(account_id: int, column: Any) -> list[Any]:
    """The holds on the account that `column` (placing or resolving) ties to a transaction."""
    return [holds.c.debit_account_id == account_id, column.is_not(None)]


async def count_moves(conn: AsyncConnection, account_id: int) -> int:
    """How many transactions moved the account's balance or what it holds: every page of
    `balance_moves` and `hold_moves` together, each transaction once."""
    moves = union(
        select(transfers.c.transaction_id.label("id")).where(_moved(account_id)),
        *(
            select(column.label("id")).where(*_held(account_id, column))
            for column in (holds.c.transaction_id, holds.c.resolved_transaction_id)
        ),
    ).subquery()
    return await count_where(conn, moves, [])


async def balance_moves(
    conn: AsyncConnection, account_id: int, *, before_id: int | None, limit: int
) -> dict[int, int]:
    """The newest `limit` transactions (older than `before_id`) that moved the account's
    balance, each with its net change to it (positive in, negative out)."""
    signed = case(
        (transfers.c.credit_account_id == account_id, transfers.c.amount),
        else_=-transfers.c.amount,
    )
    query = select(transfers.c.transaction_id, func.sum(signed)).where(_moved(account_id))
    if before_id is not None:
        query = query.where(transfers.c.transaction_id < before_id)
    rows = await conn.execute(
        query.group_by(transfers.c.transaction_id)
        .order_by(transfers.c.transaction_id.desc())
        .limit(limit)
    )
    return {int(t): int(amount) for t, amount in rows}


async def hold_moves(
    conn: AsyncConnection, account_id: int, *, before_id: int | None, limit: int
) -> dict[int, int]:
    """The newest `limit` transactions' change to what the account holds: a hold placed adds to
    it, a hold posted or voided takes it away."""
    changes: dict[int, int] = {}
    for column, sign in ((holds.c.transaction_id, 1), (holds.c.resolved_transaction_id, -1)):
        query = select(column, holds.c.amount).where(*_held(account_id, column))
        if before_id is not None:
            query = query.where(column < before_id)
        for t, amount in await conn.execute(query.order_by(column.desc()).limit(limit)):
            changes[int(t)] = changes.get(int(t), 0) + sign * int(amount)
    return changes


async def transactions_by_id(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Booked]:
    rows = await conn.execute(
        select(
            transactions.c.id,
            transactions.c.kind,
            transactions.c.details,
            transactions.c.created_at,
        ).where(transactions.c.id.in_(list(ids)))
    )
    return {int(r.id): Booked(int(r.id), str(r.kind), r.details or {}, r.created_at) for r in rows}


async def hold_statuses(conn: AsyncConnection) -> dict[int, str]:
    """Every hold's status (PENDING, POSTED or VOIDED), by hold id."""
    rows = await conn.execute(select(holds.c.id, holds.c.status))
    return {int(i): str(status) for i, status in rows}
