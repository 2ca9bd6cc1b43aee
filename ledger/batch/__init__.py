"""Group booking: many independent ledger transactions written inside one database transaction,
with a handful of set-based statements; `open_batch` picks the dialect's implementation once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.batch.planning import LedgerBatch
from ledger.batch.postgres import PostgresBatch
from ledger.batch.sqlite import SqliteBatch
from ledger.book import Ledger
from ledger.database import BatchConnection


def open_batch(ledger: Ledger, conn: BatchConnection) -> LedgerBatch:
    """The batch for `Database.batch()`'s connection: SQLAlchemy's on SQLite, asyncpg's own on
    PostgreSQL."""
    if isinstance(conn, AsyncConnection):
        return SqliteBatch(ledger, conn)
    return PostgresBatch(ledger, conn)
