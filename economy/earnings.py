"""A creator's earnings per day: the diamonds their gifts brought, counted by UTC calendar day
over a bounded range, every day present (zero when nothing came), for a chart of the trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import gift_sends
from kernel.clock import as_utc
from kernel.errors import DomainError

MAX_DAYS = 366
"""The longest range one question covers."""


@dataclass(frozen=True)
class DayEarnings:
    day: date
    diamonds: int
    gifts: int


def check_range(since: date, until: date) -> None:
    """Refuse a range that runs backwards or is longer than `MAX_DAYS`."""
    if until < since:
        raise DomainError("INVALID_RANGE", "'until' is before 'since'", "until")
    if (until - since).days + 1 > MAX_DAYS:
        raise DomainError("INVALID_RANGE", f"ask for at most {MAX_DAYS} days at once", "since")


async def earnings_by_day(
    conn: AsyncConnection, creator_id: int, since: date, until: date
) -> list[DayEarnings]:
    """Each day from `since` to `until` (both included, UTC) with the diamonds the creator
    received from gifts that day and how many gift sends brought them."""
    check_range(since, until)
    start = datetime.combine(since, time.min, tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
    rows = await conn.execute(
        select(gift_sends.c.created_at, gift_sends.c.creator_diamonds).where(
            gift_sends.c.creator_id == creator_id,
            gift_sends.c.created_at >= start,
            gift_sends.c.created_at < end,
        )
    )
    diamonds: dict[date, int] = {}
    gifts: dict[date, int] = {}
    for created_at, earned in rows:
        day = as_utc(created_at).date()
        diamonds[day] = diamonds.get(day, 0) + int(earned)
        gifts[day] = gifts.get(day, 0) + 1
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    return [DayEarnings(d, diamonds.get(d, 0), gifts.get(d, 0)) for d in days]
