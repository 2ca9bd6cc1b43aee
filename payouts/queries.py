"""Reading payouts: pages of them filtered by creator, status, provider, amount and creation
time, sorted newest, oldest, largest or smallest first; how many match; all of them as CSV rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.tables import count_where
from payouts.states import PayoutStatus
from payouts.store import Payout, payout_from_row
from payouts.tables import payouts


class PayoutOrder(enum.Enum):
    """How a list of payouts is sorted; ties in amount go newest first."""

    NEWEST = "NEWEST"
    OLDEST = "OLDEST"
    LARGEST = "LARGEST"
    SMALLEST = "SMALLEST"


@dataclass(frozen=True)
class PayoutFilter:
    user_id: int | None = None
    status: PayoutStatus | None = None
    provider: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    min_diamonds: int | None = None
    max_diamonds: int | None = None


def _conditions(where: PayoutFilter) -> list[Any]:
    c = payouts.c
    conditions: list[Any] = []
    if where.user_id is not None:
        conditions.append(c.user_id == where.user_id)
    if where.status is not None:
        conditions.append(c.status == where.status.value)
    if where.provider is not None:
        conditions.append(c.provider == where.provider)
    if where.created_after is not None:
        conditions.append(c.created_at >= where.created_after)
    if where.created_before is not None:
        conditions.append(c.created_at < where.created_before)
    if where.min_diamonds is not None:
        conditions.append(c.diamonds >= where.min_diamonds)
    if where.max_diamonds is not None:
        conditions.append(c.diamonds <= where.max_diamonds)
    return conditions


async def _after(conn: AsyncConnection, order: PayoutOrder, before_id: int) -> Any:
    """The keyset condition for the rows after the payout `before_id` in `order`."""
    if order is PayoutOrder.NEWEST:
        return payouts.c.id < before_id
    if order is PayoutOrder.OLDEST:
        return payouts.c.id > before_id
    diamonds = await conn.scalar(select(payouts.c.diamonds).where(payouts.c.id == before_id))
    if diamonds is None:
        return payouts.c.id < before_id
    further = (
        payouts.c.diamonds < diamonds
        if order is PayoutOrder.LARGEST
        else payouts.c.diamonds > diamonds
    )
    return or_(further, and_(payouts.c.diamonds == diamonds, payouts.c.id < before_id))


ORDER_BY = {
    PayoutOrder.NEWEST: (payouts.c.id.desc(),),
    PayoutOrder.OLDEST: (payouts.c.id.asc(),),
    PayoutOrder.LARGEST: (payouts.c.diamonds.desc(), payouts.c.id.desc()),
    PayoutOrder.SMALLEST: (payouts.c.diamonds.asc(), payouts.c.id.desc()),
}


async def payouts_page(
    conn: AsyncConnection,
    where: PayoutFilter,
    *,
    before_id: int | None,
    limit: int,
    order: PayoutOrder = PayoutOrder.NEWEST,
) -> list[Payout]:
    """Up to `limit` payouts matching `where` in `order`, after the payout `before_id`."""
    query = select(payouts).where(*_conditions(where))
    if before_id is not None:
        query = query.where(await _after(conn, order, before_id))
    rows = await conn.execute(query.order_by(*ORDER_BY[order]).limit(limit))
    return [payout_from_row(r._mapping) for r in rows]


async def count_payouts(conn: AsyncConnection, where: PayoutFilter) -> int:
    """How many payouts match `where`."""
    return await count_where(conn, payouts, _conditions(where))


async def payout_requested_in(conn: AsyncConnection, transaction_id: int) -> int | None:
    """The payout whose request held its diamonds in ledger transaction `transaction_id`."""
    found = await conn.scalar(
        select(payouts.c.id).where(payouts.c.request_transaction_id == transaction_id)
    )
    return int(found) if found is not None else None
