"""The gift desk: gifts sent at the same time in this process are booked together, many to one
database transaction (group commit), so that a storm of gifts costs a few statements and one
commit per batch instead of a dozen statements and a commit per gift.

A gift waits only while earlier batches are being written: an idle desk books a lone gift at
once. Each gift in a batch is checked on its own (stream live, gift available, coins enough, key
new), refused on its own, and booked as its own ledger transaction (`ledger.batch`). A batch
holds at most one gift per sender, so each viewer's debit is tested against their own row. When
a batch cannot go through as a whole (a key claimed concurrently, a balance that moved, anything
unexpected) it is rolled back, and its gifts are booked one at a time (`gifting.send_one`),
which gives each the answer it would have had alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.catalog import Gift, gift_from_row, gifts_by_ids
from economy.events import Event, now
from economy.gifting import (
    GiftOrder,
    GiftResult,
    GiftSent,
    gift_details,
    gift_events,
    gift_moves,
    gift_send_row,
    gift_sent_by_transaction,
    gift_sent_from_row,
    idempotency_conflict,
    insufficient_coins,
    refuse_gift,
    send_one,
)
from economy.streams import Stream, stream_from_row, streams_by_ids
from economy.tables import gift_sends
from economy.users import User, user_from_row
from economy.users import by_ids as users_by_ids
from kernel.errors import DomainError
from ledger import InsufficientFunds
from ledger.batch import open_batch
from ledger.batch.planning import BatchRetry, Entry
from ledger.database import BatchConnection
from settings.rates import GiftSplit

log = logging.getLogger(__name__)

POSTGRES_BATCHES_IN_FLIGHT = 2
"""Batches written at once on PostgreSQL (SQLite writes one transaction at a time anyway)."""
EXTRA_BATCH_AT_LEAST = 8
"""While a batch is being written, another opens only for at least this many waiting gifts:
fewer wait for the one in flight and go with the rest, in one larger batch, when it is done."""
MAX_ATTEMPTS = 3


def desk_of(eco: Economy) -> GiftDesk:
    """The economy's desk, opened on first use."""
    if eco.gift_desk is None:
        eco.gift_desk = GiftDesk(eco)
    return eco.gift_desk


@dataclass
class _Waiting:
    order: GiftOrder
    answer: asyncio.Future[GiftResult]


@dataclass(frozen=True)
class _Booked:
    sent: GiftSent
    gift: Gift
    creator: User


@dataclass(frozen=True)
class _Replay:
    transaction_id: int


_Outcome = _Booked | _Replay | DomainError


class GiftDesk:
    def __init__(self, eco: Economy) -> None:
        self._eco = eco
        self._batch_size = eco.settings.gift_batch_size
        self._in_flight_limit = 1 if eco.db.sqlite else POSTGRES_BATCHES_IN_FLIGHT
        self._queue: deque[_Waiting] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._creators: dict[int, User] = {}
        """Users never change their id or wallets: creators are cached for good."""
        self.batches = 0
        self.booked = 0

    async def send(self, order: GiftOrder) -> GiftResult:
        answer: asyncio.Future[GiftResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(order, answer))
        self._start_batches()
        return await answer

    async def close(self) -> None:
        """Wait for the batches being written."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start_batches(self) -> None:
        while self._queue and len(self._tasks) < self._in_flight_limit:
            if self._tasks and len(self._queue) < EXTRA_BATCH_AT_LEAST:
                return
            batch = self._take()
            task = asyncio.create_task(self._book(batch), name="gift-batch")
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a gift batch failed", exc_info=task.exception())
        self._start_batches()

    def _take(self) -> list[_Waiting]:
        """Up to a batch of the oldest gifts, one per sender; the others keep their place."""
        batch: list[_Waiting] = []
        later: list[_Waiting] = []
        senders: set[int] = set()
        while self._queue and len(batch) < self._batch_size:
            waiting = self._queue.popleft()
            if waiting.order.sender.id in senders:
                later.append(waiting)
            else:
                senders.add(waiting.order.sender.id)
                batch.append(waiting)
        self._queue.extendleft(reversed(later))
        return batch

    async def _book(self, batch: list[_Waiting]) -> None:
        todo = batch
        for _attempt in range(MAX_ATTEMPTS):
            try:
                async with self._eco.db.batch() as conn:
                    outcomes = await self._book_in(conn, todo)
            except BatchRetry as retry:
                alone = [todo[i] for i in retry.entries]
                alone_ids = {id(w) for w in alone}
                todo = [w for w in todo if id(w) not in alone_ids]
                await asyncio.gather(*(self._alone(w) for w in alone))
                if not todo:
                    return
                continue
            except Exception:
                log.exception("a batch of %d gifts failed; booking them one by one", len(todo))
                break
            await self._settle(todo, outcomes, now())
            return
        await asyncio.gather(*(self._alone(w) for w in todo))

    async def _alone(self, waiting: _Waiting) -> None:
        try:
            result = await send_one(self._eco, waiting.order)
        except Exception as exc:
            if not waiting.answer.done():
                waiting.answer.set_exception(exc)
        else:
            if not waiting.answer.done():
                waiting.answer.set_result(result)

    async def _book_in(self, conn: BatchConnection, batch: Sequence[_Waiting]) -> list[_Outcome]:
        outcomes: list[_Outcome | None] = [None] * len(batch)
        known, stream_rows, gift_rows, balances = await _first_look(conn, [w.order for w in batch])
        fresh: list[int] = []
        for index, waiting in enumerate(batch):
            request = waiting.order.request
            found = known.get((request.scope, request.key))
            if found is None:
                fresh.append(index)
            elif found[0] == request.request_hash:
                outcomes[index] = _Replay(found[1])
            else:
                outcomes[index] = idempotency_conflict()
        await self._load_creators(conn, {s.creator_id for s in stream_rows.values()})
        entries: list[Entry] = []
        planned: list[tuple[int, Gift, User, GiftSplit]] = []
        for index in fresh:
            order = batch[index].order
            stream = stream_rows.get(order.stream_id)
            gift = gift_rows.get(order.gift_id)
            try:
                refuse_gift(order, stream, gift)
            except DomainError as refusal:
                outcomes[index] = refusal
                continue
            assert stream is not None
            assert gift is not None
            creator = self._creators[stream.creator_id]
            split = self._eco.settings.gift_rate.split(gift.coins * order.quantity)
            planned.append((index, gift, creator, split))
            entries.append(
                Entry(
                    kind="GIFT",
                    moves=gift_moves(self._eco, order.sender, creator, split),
                    details=gift_details(order),
                    idempotency=order.request,
                )
            )
        try:
            booked = await open_batch(self._eco.ledger, conn).record(entries, first_look=balances)
        except BatchRetry as retry:
            raise BatchRetry([planned[i][0] for i in retry.entries], str(retry)) from None
        rows: list[dict[str, int]] = []
        kept: list[tuple[int, Gift, User]] = []
        for (index, gift, creator, split), result in zip(planned, booked, strict=True):
            order = batch[index].order
            if isinstance(result, InsufficientFunds):
                outcomes[index] = insufficient_coins(split, order, gift)
                continue
            rows.append(gift_send_row(order, creator, split, result))
            kept.append((index, gift, creator))
        if rows:
            inserted = await _insert_gift_sends(conn, rows)
            for (index, gift, creator), sent in zip(kept, inserted, strict=True):
                outcomes[index] = _Booked(sent, gift, creator)
        self.batches += 1
        self.booked += len(rows)
        assert all(o is not None for o in outcomes)
        return [o for o in outcomes if o is not None]

    async def _settle(
        self, batch: Sequence[_Waiting], outcomes: Sequence[_Outcome], committed_at: float
    ) -> None:
        """Answer every gift of a committed batch, and publish the ones booked."""
        events: list[Event] = []
        replays: list[tuple[_Waiting, int]] = []
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, _Booked):
                events.extend(
                    gift_events(
                        outcome.sent,
                        outcome.gift,
                        waiting.order.sender,
                        outcome.creator,
                        committed_at,
                    )
                )
                _answer(waiting, GiftResult(sent=outcome.sent, replayed=False))
            elif isinstance(outcome, _Replay):
                replays.append((waiting, outcome.transaction_id))
            elif not waiting.answer.done():
                waiting.answer.set_exception(outcome)
        self._eco.events.publish(*events)
        if replays:
            async with self._eco.db.read() as conn:
                for waiting, transaction_id in replays:
                    sent = await gift_sent_by_transaction(conn, transaction_id)
                    assert sent is not None
                    _answer(waiting, GiftResult(sent=sent, replayed=True))

    async def _load_creators(self, conn: BatchConnection, ids: set[int]) -> None:
        missing = sorted(ids - self._creators.keys())
        if not missing:
            return
        if isinstance(conn, AsyncConnection):
            self._creators.update(await users_by_ids(conn, missing))
            return
        for row in await conn.fetch(_PG_USERS, missing):
            if row["coin_account_id"] is not None:
                self._creators[int(row["id"])] = user_from_row(row)


def _answer(waiting: _Waiting, result: GiftResult) -> None:
    if not waiting.answer.done():
        waiting.answer.set_result(result)


_Known = dict[tuple[str, str], tuple[str, int]]
"""Idempotency keys already used: (scope, key) -> (request hash, transaction)."""


async def _first_look(
    conn: BatchConnection, orders: Sequence[GiftOrder]
) -> tuple[_Known, dict[int, Stream], dict[int, Gift], dict[int, int] | None]:
    """The orders' keys already used, their streams, their gifts and (PostgreSQL) what the
    senders' coin wallets hold, unlocked: one round trip on PostgreSQL."""
    stream_ids = sorted({o.stream_id for o in orders})
    gift_ids = sorted({o.gift_id for o in orders})
    if isinstance(conn, AsyncConnection):
        return (
            await _known_keys(conn, orders),
            await streams_by_ids(conn, stream_ids),
            await gifts_by_ids(conn, gift_ids),
            None,
        )
    keys, found_streams, found_gifts, balances = (
        await conn.fetch(
            _PG_FIRST_LOOK,
            [o.request.scope for o in orders],
            [o.request.key for o in orders],
            stream_ids,
            gift_ids,
            sorted({o.sender.coin_account_id for o in orders}),
        )
    )[0]
    return (
        {(s, k): (h, int(t)) for s, k, h, t in keys},
        {int(r["id"]): stream_from_row(r) for r in found_streams},
        {int(r["id"]): gift_from_row(r) for r in found_gifts},
        {int(a): int(v) for a, v in balances},
    )


async def _known_keys(conn: AsyncConnection, orders: Sequence[GiftOrder]) -> _Known:
    """SQLite: the orders' keys already used."""
    pairs = [(o.request.scope, o.request.key) for o in orders]
    if not pairs:
        return {}
    # A join with the pairs, not a row-value IN: SQLite scans the whole table for the latter,
    # and probes the primary key once per pair for the former.
    placeholders = ", ".join(f"(:s{n}, :k{n})" for n in range(len(pairs)))
    rows = await conn.execute(
        text(
            "SELECT k.scope, k.key, k.request_hash, k.transaction_id "  # noqa: S608 - placeholders
            f"FROM (VALUES {placeholders}) AS asked "
            "JOIN ledger_idempotency_keys AS k "
            "ON k.scope = asked.column1 AND k.key = asked.column2"
        ),
        {f"{c}{n}": v for n, pair in enumerate(pairs) for c, v in zip("sk", pair, strict=True)},
    )
    return {(s, k): (h, int(t)) for s, k, h, t in rows}


async def _insert_gift_sends(conn: BatchConnection, rows: list[dict[str, int]]) -> list[GiftSent]:
    """The rows, as booked, in the given order."""
    if not isinstance(conn, AsyncConnection):
        inserted = await conn.fetch(
            _PG_GIFT_SENDS, *([row[name] for row in rows] for name in _GIFT_SEND_COLUMNS)
        )
        by_transaction = {int(r["transaction_id"]): gift_sent_from_row(r) for r in inserted}
        return [by_transaction[row["transaction_id"]] for row in rows]
    # SQLite: one multi-row insert and one read back (an ordered RETURNING would insert the
    # rows one statement at a time there).
    await conn.execute(insert(gift_sends), rows)
    booked = await conn.execute(
        select(gift_sends).where(
            gift_sends.c.transaction_id.in_([r["transaction_id"] for r in rows])
        )
    )
    by_transaction = {int(r.transaction_id): gift_sent_from_row(r._mapping) for r in booked}
    return [by_transaction[row["transaction_id"]] for row in rows]


# PostgreSQL (asyncpg itself): fixed statements over arrays, prepared once per connection.
# Arrays of whole rows come back as asyncpg records with the tables' column names.
_PG_FIRST_LOOK = (
    "SELECT ARRAY(SELECT (k.scope, k.key, k.request_hash, k.transaction_id)"
    " FROM ledger_idempotency_keys AS k JOIN unnest($1::VARCHAR[], $2::VARCHAR[])"
    " AS asked(scope, key) ON k.scope = asked.scope AND k.key = asked.key),"
    " ARRAY(SELECT s FROM streams AS s WHERE s.id = ANY($3::BIGINT[])),"
    " ARRAY(SELECT g FROM gifts AS g WHERE g.id = ANY($4::BIGINT[])),"
    " ARRAY(SELECT a FROM (SELECT account_id, balance - held FROM ledger_balances"
    " WHERE account_id = ANY($5::BIGINT[]) AND shard = 0) AS a)"
)
_PG_USERS = "SELECT * FROM users WHERE id = ANY($1::BIGINT[])"
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
_PG_GIFT_SENDS = (
    "INSERT INTO gift_sends (transaction_id, stream_id, gift_id, sender_id, creator_id, "
    "quantity, coins, creator_diamonds, platform_diamonds) SELECT * FROM unnest("
    "$1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::INTEGER[], "
    "$7::BIGINT[], $8::BIGINT[], $9::BIGINT[]) RETURNING *"
)
