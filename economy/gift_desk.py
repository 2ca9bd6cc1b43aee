"""The gift desk: gifts sent at the same time in this process are booked together, many to one
database transaction (group commit), so that a storm of gifts costs a few statements and one
commit per batch instead of a dozen statements and a commit per gift.

A gift waits only while earlier batches are being written: an idle desk books a lone gift at
once. Each gift in a batch is checked on its own (stream live, gift available, coins enough, key
new), refused on its own, and booked as its own ledger transaction (`ledger.batch`; the economy's
statements for the batch, per dialect, are `economy.gift_batch`). A batch
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
from typing import TYPE_CHECKING

from economy.catalog import Gift
from economy.events import Event, now
from economy.gift_batch import open_gift_batch
from economy.gift_batch.interface import GiftBatch
from economy.gifting import (
    GiftOrder,
    GiftResult,
    GiftSent,
    gift_details,
    gift_events,
    gift_moves,
    gift_send_row,
    gift_sent_by_transaction,
    idempotency_conflict,
    insufficient_coins,
    refuse_gift,
    send_one,
)
from economy.users import User
from kernel.bounded import BoundedCache
from kernel.errors import DomainError
from kernel.logs import unbound_context
from kernel.metrics import GIFT_BATCH_SIZE, GIFTS_BOOKED
from ledger import InsufficientFunds
from ledger.batch.planning import BatchRetry, Entry
from ledger.database import BatchConnection
from settings.rates import GiftSplit

if TYPE_CHECKING:
    from economy.app import Economy

log = logging.getLogger(__name__)

POSTGRES_BATCHES_IN_FLIGHT = 2
"""Batches written at once on PostgreSQL (SQLite writes one transaction at a time anyway)."""
EXTRA_BATCH_AT_LEAST = 8
"""While a batch is being written, another opens only for at least this many waiting gifts:
fewer wait for the one in flight and go with the rest, in one larger batch, when it is done."""
MAX_ATTEMPTS = 3

CREATORS_KEPT = 10_000
"""Creators remembered per process (least recently used forgotten first)."""


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
        self._creators: BoundedCache[int, User] = BoundedCache(CREATORS_KEPT)
        """Users never change their id or wallets: recently seen creators are cached."""
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
            task = asyncio.create_task(
                self._book(batch), name="gift-batch", context=unbound_context()
            )
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
            if not result.replayed:
                GIFTS_BOOKED.inc()
            if not waiting.answer.done():
                waiting.answer.set_result(result)

    async def _creators_of(self, gift_batch: GiftBatch, ids: set[int]) -> dict[int, User]:
        """The creators with these ids, read once and then from the bounded cache."""
        known = {i: user for i in ids if (user := self._creators.get(i)) is not None}
        missing = ids - known.keys()
        if missing:
            fetched = await gift_batch.creators(sorted(missing))
            for creator_id, creator in fetched.items():
                self._creators.put(creator_id, creator)
            known.update(fetched)
        return known

    async def _book_in(self, conn: BatchConnection, batch: Sequence[_Waiting]) -> list[_Outcome]:
        outcomes: list[_Outcome | None] = [None] * len(batch)
        gift_batch = open_gift_batch(self._eco.db, self._eco.ledger, conn)
        look = await gift_batch.first_look([w.order for w in batch])
        fresh: list[int] = []
        for index, waiting in enumerate(batch):
            request = waiting.order.request
            found = look.used_keys.get((request.scope, request.key))
            if found is None:
                fresh.append(index)
            elif found[0] == request.request_hash:
                outcomes[index] = _Replay(found[1])
            else:
                outcomes[index] = idempotency_conflict()
        creator_ids = {s.creator_id for s in look.streams.values()}
        creators = await self._creators_of(gift_batch, creator_ids)
        entries: list[Entry] = []
        planned: list[tuple[int, Gift, User, GiftSplit]] = []
        for index in fresh:
            order = batch[index].order
            stream = look.streams.get(order.stream_id)
            gift = look.gifts.get(order.gift_id)
            try:
                refuse_gift(order, stream, gift)
            except DomainError as refusal:
                outcomes[index] = refusal
                continue
            assert stream is not None
            assert gift is not None
            creator = creators[stream.creator_id]
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
            booked = await gift_batch.ledger.record(entries, first_look=look.available)
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
            inserted = await gift_batch.insert_gift_sends(rows)
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
        GIFT_BATCH_SIZE.observe(len(batch))
        GIFTS_BOOKED.inc(sum(isinstance(o, _Booked) for o in outcomes))
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
                # A refusal is an answer, not a crash: without its traceback, whose frames hold
                # this batch (and so this future), the answer makes no reference cycle.
                waiting.answer.set_exception(outcome.with_traceback(None))
        self._eco.events.publish(*events)
        if replays:
            async with self._eco.db.read() as conn:
                for waiting, transaction_id in replays:
                    sent = await gift_sent_by_transaction(conn, transaction_id)
                    assert sent is not None
                    _answer(waiting, GiftResult(sent=sent, replayed=True))


def _answer(waiting: _Waiting, result: GiftResult) -> None:
    if not waiting.answer.done():
        waiting.answer.set_result(result)
