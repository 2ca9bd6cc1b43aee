"""A stream's running total of diamonds as live subscribers see it: read once from the database,
then advanced by each gift event, without touching the database on the gift path.

The subscriber listens first and reads the total second. A gift that committed in between is
both in the total and among the events, so the read also returns the ids of the stream's most
recent gifts it counted; their events do not add again. Gifts far older than the newest one
(more than `RECENT_WINDOW` ids back) are taken as counted: their events went out long ago.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import gift_sends

RECENT_WINDOW = 10_000
"""How many gift ids below the newest one can still be on their way as events."""

_TOTAL = -1
_NEWEST = -2


@dataclass
class RunningTotal:
    """Diamonds a stream's creator received in it, as of the last gift event seen."""

    value: int
    floor: int
    """Gifts with ids up to this one are in `value`."""
    counted: set[int] = field(default_factory=set)
    """Ids above `floor` already in `value`."""

    def add(self, gift_send_id: int, diamonds: int) -> int:
        """The total after this gift; counted once however often its event arrives."""
        if gift_send_id > self.floor and gift_send_id not in self.counted:
            self.counted.add(gift_send_id)
            self.value += diamonds
        return self.value


async def read_running_total(conn: AsyncConnection, stream_id: int) -> RunningTotal:
    """The stream's total now, with the recent gifts it includes: one statement, so one snapshot
    on PostgreSQL (READ COMMITTED) as on SQLite."""
    mine = gift_sends.c.stream_id == stream_id
    newest = select(func.coalesce(func.max(gift_sends.c.id), 0)).scalar_subquery()
    statement = union_all(
        select(literal(_TOTAL), func.coalesce(func.sum(gift_sends.c.creator_diamonds), 0)).where(
            mine
        ),
        select(literal(_NEWEST), newest),
        select(gift_sends.c.id, literal(0)).where(mine, gift_sends.c.id > newest - RECENT_WINDOW),
    )
    total = newest_id = 0
    recent: set[int] = set()
    for key, value in await conn.execute(statement):
        if key == _TOTAL:
            total = int(value)
        elif key == _NEWEST:
            newest_id = int(value)
        else:
            recent.add(int(key))
    return RunningTotal(value=total, floor=newest_id - RECENT_WINDOW, counted=recent)
