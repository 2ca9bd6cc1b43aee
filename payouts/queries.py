"""Reading payouts: one by id, and pages of them newest first, filtered by creator, status,
provider and creation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from payouts.states import PayoutStatus
from payouts.store import Payout, payout_from_row
from payouts.tables import payouts


@dataclass(frozen=True)
class PayoutFilter:
    user_id: int | None = None
    status: PayoutStatus | None = None
    provider: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def payouts_page(
    conn: AsyncConnection, where: PayoutFilter, *, before_id: int | None, limit: int
) -> list[Payout]:
    query = select(payouts)
    if where.user_id is not None:
        query = query.where(payouts.c.user_id == where.user_id)
    if where.status is not None:
        query = query.where(payouts.c.status == where.status.value)
    if where.provider is not None:
        query = query.where(payouts.c.provider == where.provider)
    if where.created_after is not None:
        query = query.where(payouts.c.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(payouts.c.created_at < where.created_before)
    if before_id is not None:
        query = query.where(payouts.c.id < before_id)
    rows = await conn.execute(query.order_by(payouts.c.id.desc()).limit(limit))
    return [payout_from_row(r._mapping) for r in rows]
