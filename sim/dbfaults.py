"""Database connections dropped mid-transaction: an armed statement pattern makes the next write
that runs it lose its connection (invalidated, then an error), so the open transaction is lost.
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
        self.armed: str | None = None
        self.dropped = 0
        event.listen(db.writer.sync_engine, "before_cursor_execute", self._before)

    def arm(self, statement: str) -> None:
        self.armed = statement

    def disarm(self) -> None:
        self.armed = None

    def _before(
        self,
        conn: Any,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if self.armed is None or not " ".join(statement.lower().split()).startswith(self.armed):
            return
        self.armed = None
        self.dropped += 1
        conn.invalidate()
        raise DroppedConnection(f"connection dropped before: {statement.split(chr(10))[0][:60]}")
