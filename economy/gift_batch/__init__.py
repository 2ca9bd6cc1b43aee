"""The economy's side of a batch of gifts (streams, gifts, creators, sent gifts), beside the
ledger's batch on the same connection; `open_gift_batch` follows the ledger's choice of dialect.
"""

from __future__ import annotations

from economy.gift_batch.interface import GiftBatch
from economy.gift_batch.postgres import PostgresGiftBatch
from economy.gift_batch.sqlite import SqliteGiftBatch
from ledger.batch import open_batch
from ledger.batch.postgres import PostgresBatch
from ledger.batch.sqlite import SqliteBatch
from ledger.book import Ledger
from ledger.database import BatchConnection, Database


def open_gift_batch(db: Database, ledger: Ledger, conn: BatchConnection) -> GiftBatch:
    """The gift batch for `Database.batch()`'s connection, over the ledger batch `open_batch`
    chose for it."""
    batch = open_batch(ledger, conn)
    if isinstance(batch, PostgresBatch):
        return PostgresGiftBatch(batch, db)
    assert isinstance(batch, SqliteBatch)
    return SqliteGiftBatch(batch)
