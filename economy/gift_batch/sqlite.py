"""The gift batch on SQLite, over SQLAlchemy on the batch's own connection: one statement per
read (SQLite has no round trips to save), the sent gifts as one multi-row insert.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select

from economy.catalog import gifts_by_ids
from economy.gift_batch.interface import GiftBatch, GiftLook
from economy.gifting import GiftOrder, GiftSent, gift_sent_from_row
from economy.streams import streams_by_ids
from economy.tables import gift_sends
from economy.users import User, by_ids
from ledger.batch.sqlite import SqliteBatch


class SqliteGiftBatch(GiftBatch):
    ledger: SqliteBatch

    def __init__(self, ledger: SqliteBatch) -> None:
        self.ledger = ledger
        self.conn = ledger.conn

    async def first_look(self, orders: Sequence[GiftOrder]) -> GiftLook:
        look = await self.ledger.first_look([o.request for o in orders], ())
        return GiftLook(
            used_keys=look.used_keys,
            streams=await streams_by_ids(self.conn, sorted({o.stream_id for o in orders})),
            gifts=await gifts_by_ids(self.conn, sorted({o.gift_id for o in orders})),
            available=None,
        )

    async def creators(self, ids: Sequence[int]) -> dict[int, User]:
        return await by_ids(self.conn, ids)

    async def insert_gift_sends(self, rows: Sequence[dict[str, int]]) -> list[GiftSent]:
        # One multi-row insert and one read back (an ordered RETURNING would insert the rows
        # one statement at a time here).
        await self.conn.execute(insert(gift_sends), list(rows))
        booked = await self.conn.execute(
            select(gift_sends).where(
                gift_sends.c.transaction_id.in_([r["transaction_id"] for r in rows])
            )
        )
        by_transaction = {int(r.transaction_id): gift_sent_from_row(r._mapping) for r in booked}
        return [by_transaction[row["transaction_id"]] for row in rows]
