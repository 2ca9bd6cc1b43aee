"""What was booked, read back: an account's transfers, newest first, keyset-paged, each signed
as the account saw it (positive in, negative out), and where each hold stands.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.tables import holds, transactions, transfers

HistoryRow = tuple[int, int, str, int, datetime]
"""(transfer id, transaction id, transaction kind, signed amount, created at)."""


async def account_history(
    conn: AsyncConnection, account_id: int, *, before_id: int | None, limit: int
) -> list[HistoryRow]:
    """Up to `limit` transfers touching the account, newest first, older than `before_id`."""
    touches = (transfers.c.debit_account_id == account_id) | (
        transfers.c.credit_account_id == account_id
    )
    query = (
        select(
            transfers.c.id,
            transfers.c.transaction_id,
            transactions.c.kind,
            transfers.c.amount,
            transfers.c.credit_account_id,
            transfers.c.created_at,
        )
        .join(transactions, transactions.c.id == transfers.c.transaction_id)
        .where(touches)
    )
    if before_id is not None:
        query = query.where(transfers.c.id < before_id)
    rows = await conn.execute(query.order_by(transfers.c.id.desc()).limit(limit))
    return [
        (int(t), int(x), kind, int(a) if int(credit) == account_id else -int(a), at)
        for t, x, kind, a, credit, at in rows
    ]


async def hold_statuses(conn: AsyncConnection) -> dict[int, str]:
    """Every hold's status (PENDING, POSTED or VOIDED), by hold id."""
    rows = await conn.execute(select(holds.c.id, holds.c.status))
    return {int(i): str(status) for i, status in rows}
