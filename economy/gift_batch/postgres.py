"""The gift batch on PostgreSQL, over asyncpg itself: the streams and gifts are read in the
ledger batch's first look (one round trip for both), the sent gifts go in as one array insert.
"""

from __future__ import annotations

from collections.abc import Sequence

from economy.catalog import gift_from_row
from economy.gift_batch.interface import GiftBatch, GiftLook
from economy.gifting import GiftOrder, GiftSent, gift_sent_from_row
from economy.streams import stream_from_row
from economy.users import User, by_ids
from ledger.batch.postgres import AlsoRead, PostgresBatch
from ledger.database import Database


class PostgresGiftBatch(GiftBatch):
    ledger: PostgresBatch

    def __init__(self, ledger: PostgresBatch, db: Database) -> None:
        self.ledger = ledger
        self.conn = ledger.conn
        self._db = db

    async def first_look(self, orders: Sequence[GiftOrder]) -> GiftLook:
        look = await self.ledger.first_look(
            [o.request for o in orders],
            {o.sender.coin_account_id for o in orders},
            also=(
                AlsoRead(_STREAMS, (sorted({o.stream_id for o in orders}),)),
                AlsoRead(_GIFTS, (sorted({o.gift_id for o in orders}),)),
            ),
        )
        found_streams, found_gifts = look.also
        return GiftLook(
            used_keys=look.used_keys,
            streams={int(r["id"]): stream_from_row(r) for r in found_streams},
            gifts={int(r["id"]): gift_from_row(r) for r in found_gifts},
            available=look.available,
        )

    async def creators(self, ids: Sequence[int]) -> dict[int, User]:
        # Users are committed before their streams and never change their wallets: a read
        # outside the batch's transaction sees them, through the one users reader.
        async with self._db.read() as conn:
            return await by_ids(conn, ids)

    async def insert_gift_sends(self, rows: Sequence[dict[str, int]]) -> list[GiftSent]:
        inserted = await self.conn.fetch(
            _GIFT_SENDS, *([row[name] for row in rows] for name in _GIFT_SEND_COLUMNS)
        )
        by_transaction = {int(r["transaction_id"]): gift_sent_from_row(r) for r in inserted}
        return [by_transaction[row["transaction_id"]] for row in rows]


# Fixed statements over arrays, prepared once per connection. Arrays of whole rows come back as
# asyncpg records with the tables' column names.
_STREAMS = "ARRAY(SELECT s FROM streams AS s WHERE s.id = ANY({}::BIGINT[]))"
_GIFTS = "ARRAY(SELECT g FROM gifts AS g WHERE g.id = ANY({}::BIGINT[]))"
_GIFT_SEND_COLUMNS = (
    "transaction_id",
    "stream_id",
    "gift_id",
    "sender_id",
    "creator_id",
    "quantity",
    "coins",
    "creator_diamonds",
    "platform_diamonds",
)
_GIFT_SENDS = (
    "INSERT INTO gift_sends (transaction_id, stream_id, gift_id, sender_id, creator_id, "
    "quantity, coins, creator_diamonds, platform_diamonds) SELECT * FROM unnest("
    "$1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::INTEGER[], "
    "$7::BIGINT[], $8::BIGINT[], $9::BIGINT[]) RETURNING *"
)
