"""Database connections dropped mid-transaction: armed with a count `n`, the `n`-th write of money
or payout state that follows loses its connection (invalidated, then an error), and its transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from ledger.database import Database

STATEMENTS = (
    "insert into ledger_transfers",
    "insert into ledger_holds",
    "update ledger_holds",
    "update payouts",
    "insert into payout_events",
    "insert into payout_attempts",
    "update payout_attempts",
    "insert into provider_events",
)
"""Where in a write the connection may drop: the writes of money and of payout status."""


class DroppedConnection(Exception):
    """The simulator dropped the database connection in the middle of a transaction."""


class ConnectionDropper:
    """Arms one drop at a time on the database's write engine."""

    def __init__(self, db: Database) -> None:
        self.countdown = 0
        self.dropped_at: str | None = None
        event.listen(db.writer.sync_engine, "before_cursor_execute", self._before)

    def arm(self, nth: int) -> None:
        self.countdown = nth
        self.dropped_at = None

    def disarm(self) -> None:
        self.countdown = 0

    def _before(
        self,
        conn: Any,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if self.countdown <= 0:
            return
        words = " ".join(statement.lower().split())
        matched = next((s for s in STATEMENTS if words.startswith(s)), None)
        if matched is None:
            return
        self.countdown -= 1
        if self.countdown:
            return
        self.dropped_at = matched
        conn.invalidate()
        raise DroppedConnection(f"connection dropped at {matched}")
