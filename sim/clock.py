"""The simulated clock: time moves as the tests move it, by ageing the stored times the payout
pipeline schedules by (leases, next attempts, last checks, first sends), in whole quanta.

Both clocks of the service stay real (`kernel.clock.utcnow` and the database's `now()`), so they
never disagree with each other; advancing the simulated clock by `d` moves every stored moment
`d` into the past, which is what `d` passing would have done. Every step is a multiple of
`QUANTUM`, and the pipeline's periods are too, so the real seconds a run takes (far below one
quantum) never change a decision: the same seed takes the same path.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from kernel.clock import as_utc
from ledger.database import Database
from payouts.dispatch import PARKED
from payouts.tables import payout_attempts, payouts

QUANTUM = timedelta(minutes=15)
"""The smallest step of the simulated clock; every period of the simulated policy is a multiple."""

_PAYOUT_TIMES = ("next_attempt_at", "lease_until", "updated_at", "first_sent_at", "created_at")


class SimClock:
    """How far the simulated clock has moved, and the one way to move it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.elapsed = timedelta(0)

    def label(self) -> str:
        hours, rest = divmod(int(self.elapsed.total_seconds()), 3600)
        return f"t+{hours}h{rest // 60:02d}m"

    async def advance(self, quanta: int) -> None:
        """Let `quanta` quanta pass: every scheduling time in the payouts moves that far back."""
        if quanta <= 0:
            return
        step = QUANTUM * quanta
        self.elapsed += step
        async with self.db.write() as conn:
            rows = await conn.execute(select(payouts.c.id, *[payouts.c[n] for n in _PAYOUT_TIMES]))
            for row in rows.all():
                changes = _aged(row._mapping, _PAYOUT_TIMES, step)
                if changes:
                    await conn.execute(
                        update(payouts).where(payouts.c.id == row.id).values(**changes)
                    )
            attempts = await conn.execute(
                select(payout_attempts.c.id, payout_attempts.c.first_sent_at)
            )
            for row in attempts.all():
                changes = _aged(row._mapping, ("first_sent_at",), step)
                if changes:
                    await conn.execute(
                        update(payout_attempts)
                        .where(payout_attempts.c.id == row.id)
                        .values(**changes)
                    )


def _aged(row: Any, names: tuple[str, ...], step: timedelta) -> dict[str, datetime]:
    """The row's times `step` earlier; a parked payout (waiting for FINANCE) stays parked."""
    changes: dict[str, datetime] = {}
    for name in names:
        moment = row[name]
        if moment is None:
            continue
        moment = as_utc(moment)
        if moment >= PARKED - timedelta(days=3650):
            continue
        changes[name] = moment - step
    return changes
