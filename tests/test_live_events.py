"""Live events are published after the transaction that caused them commits, and only then: a
refused, rolled-back or replayed gift publishes nothing. Gifts sent together are booked
together (the gift desk) and each exactly as if alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

import economy.gifting as gifting_module
from economy.app import Economy
from economy.events import (
    EventBus,
    GiftReceived,
    WalletChanged,
    decode_event,
    encode_event,
    gift_topic,
    wallet_topic,
)
from economy.fanout import SubscriberTooSlow
from economy.gifting import send_gift
from economy.stream_totals import read_running_total
from economy.tables import gift_sends
from kernel.errors import DomainError
from ledger import verify_ledger
from ledger.accounts import read_balance


async def drain(subscription: Any, settle: float = 0.05) -> list[Any]:
    await asyncio.sleep(settle)
    events: list[Any] = subscription.drain()
    return events


async def assert_ledger_clean(eco: Economy) -> None:
    async with eco.db.read() as conn:
        assert await verify_ledger(conn) == []


async def test_a_gift_is_published_once_it_is_visible_to_everyone(
    economy: Economy, live_stream: Any, gift: Any, funded_viewer: Any
) -> None:
    live = await live_stream()
    rose = await gift("Rose", 1)
    ann = await funded_viewer(10)
    seen: list[tuple[int, int]] = []

    async def watch() -> None:
        with economy.events.subscribe(gift_topic(live.stream.id)) as sub:
            event = await anext(aiter(sub))
            assert isinstance(event, GiftReceived)
            # Read from another connection at the moment the event arrives: already committed.
            async with economy.db.read() as conn:
                rows = await conn.scalar(
                    select(func.count()).where(gift_sends.c.id == event.gift_send_id)
                )
                balance = await read_balance(conn, live.creator.diamond_account_id)
            seen.append((int(rows or 0), balance.balance))

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    await send_gift(economy, ann, stream_id=live.stream.id, gift_id=rose.id, quantity=3, key="k")
    await asyncio.wait_for(watcher, 5)
    assert seen == [(1, 3)]


async def test_refused_and_replayed_gifts_publish_nothing(
    economy: Economy, live_stream: Any, gift: Any, funded_viewer: Any
) -> None:
    live = await live_stream()
    rose = await gift("Rose", 1)
    ann = await funded_viewer(5)
    gift_args = {"stream_id": live.stream.id, "gift_id": rose.id}
    await send_gift(economy, ann, quantity=2, key="first", **gift_args)
    with economy.events.subscribe(
        gift_topic(live.stream.id), wallet_topic(ann.id), wallet_topic(live.creator.id)
    ) as sub:
        replay = await send_gift(economy, ann, quantity=2, key="first", **gift_args)
        with pytest.raises(DomainError) as short:
            await send_gift(economy, ann, quantity=50, key="too-much", **gift_args)
        with pytest.raises(DomainError) as conflict:
            await send_gift(economy, ann, quantity=1, key="first", **gift_args)
        with pytest.raises(DomainError) as own:
            await send_gift(economy, live.creator, quantity=1, key="own", **gift_args)
        events = await drain(sub)
    assert replay.replayed
    assert (short.value.code, conflict.value.code, own.value.code) == (
        "INSUFFICIENT_COINS",
        "IDEMPOTENCY_CONFLICT",
        "CANNOT_GIFT_OWN_STREAM",
    )
    assert events == []


async def test_a_gift_rolled_back_after_the_ledger_wrote_publishes_nothing(
    economy: Economy,
    live_stream: Any,
    gift: Any,
    funded_viewer: Any,
    row_counts: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = await live_stream()
    rose = await gift("Rose", 1)
    ann = await funded_viewer(5)
    before = await row_counts()
    real_row = gifting_module.gift_send_row

    def broken_row(*args: Any) -> dict[str, int]:
        row = real_row(*args)
        return {**row, "quantity": 0}  # breaks a CHECK constraint: the insert fails

    monkeypatch.setattr(gifting_module, "gift_send_row", broken_row)
    monkeypatch.setattr("economy.gift_desk.gift_send_row", broken_row)
    with economy.events.subscribe(gift_topic(live.stream.id), wallet_topic(ann.id)) as sub:
        with pytest.raises(Exception, match=r"(?i)check|constraint"):
            await send_gift(
                economy, ann, stream_id=live.stream.id, gift_id=rose.id, quantity=1, key="x"
            )
        events = await drain(sub)
    assert events == []
    assert await row_counts() == before


async def test_a_gift_publishes_the_gift_and_both_wallets(
    economy: Economy, live_stream: Any, gift: Any, funded_viewer: Any
) -> None:
    live = await live_stream()
    panda = await gift("Panda", 5)
    ann = await funded_viewer(20, "viewer:ann")
    with economy.events.subscribe(
        gift_topic(live.stream.id), wallet_topic(ann.id), wallet_topic(live.creator.id)
    ) as sub:
        sent = await send_gift(
            economy, ann, stream_id=live.stream.id, gift_id=panda.id, quantity=2, key="p"
        )
        events = await drain(sub)
    [landed] = [e for e in events if isinstance(e, GiftReceived)]
    wallets = sorted((e.user_id, e.asset, e.change) for e in events if isinstance(e, WalletChanged))
    assert (landed.gift_send_id, landed.gift_name, landed.sender_name) == (
        sent.sent.id,
        "Panda",
        "viewer:ann",
    )
    assert (landed.quantity, landed.coins, landed.diamonds) == (2, 10, 10)
    assert wallets == sorted([(ann.id, "COIN", -10), (live.creator.id, "DIAMOND", 10)])


def test_events_survive_the_wire_format() -> None:
    from datetime import UTC, datetime

    from tests.live_fixtures import payout_changed

    event = payout_changed(1, 2, "PAID", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert decode_event(encode_event(event)) == event
    with pytest.raises(ValueError, match="not an event"):
        decode_event({"kind": "nope"})


async def test_a_subscriber_that_falls_behind_is_dropped_and_the_others_keep_up() -> None:
    bus = EventBus(queue_size=16)
    topic = gift_topic(1)
    slow, fast = bus.subscribe(topic), bus.subscribe(topic)
    received: list[int] = []

    async def keep_up() -> None:
        async for event in fast:
            assert isinstance(event, WalletChanged)
            received.append(event.change)
            if len(received) == 100:
                return

    reader = asyncio.create_task(keep_up())
    for n in range(100):
        bus.hub.dispatch([topic], _wallet(n))  # publishing never waits for anyone
        await asyncio.sleep(0)
    await asyncio.wait_for(reader, 5)
    assert received == list(range(100))
    assert slow.closed
    assert bus.hub.subscribers(topic) == 1
    with pytest.raises(SubscriberTooSlow):
        slow.drain()
    await bus.close()


def _wallet(n: int) -> WalletChanged:
    return WalletChanged(
        user_id=1,
        account_id=1,
        asset="COIN",
        change=n,
        reason="GIFT",
        transaction_id=n,
        committed_at=0.0,
    )


async def test_gifts_sent_at_once_are_booked_together_each_exactly_once(
    economy: Economy, live_stream: Any, gift: Any, funded_viewer: Any, balance_of: Any
) -> None:
    live = await live_stream()
    rose = await gift("Rose", 1)
    viewers = [await funded_viewer(3) for _ in range(40)]
    desk = economy.gift_desk
    batches_before = desk.batches

    async def send(n: int, key: str) -> Any:
        return await send_gift(
            economy,
            viewers[n % 40],
            stream_id=live.stream.id,
            gift_id=rose.id,
            quantity=2,
            key=key,
        )

    # 40 viewers with 3 coins each send a 2-coin gift twice (the second is refused), and each
    # first gift is also retried with its key (a replay).
    calls = [send(n, f"a{n}") for n in range(40)]
    calls += [send(n, f"b{n}") for n in range(40)]
    calls += [send(n, f"a{n}") for n in range(40)]
    results = await asyncio.gather(*calls, return_exceptions=True)

    booked = [r for r in results if not isinstance(r, BaseException) and not r.replayed]
    replayed = [r for r in results if not isinstance(r, BaseException) and r.replayed]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(booked) == 40
    assert len({r.sent.id for r in booked}) == 40
    assert {r.sent.id for r in replayed} <= {r.sent.id for r in booked}
    assert len(replayed) + len(refused) == 80
    assert {r.code for r in refused} == {"INSUFFICIENT_COINS"}
    assert desk.batches - batches_before < 40 + 40  # many gifts per transaction
    assert await balance_of(live.creator.diamond_account_id) == 80
    for viewer in viewers:
        assert await balance_of(viewer.coin_account_id) == 1
    await assert_ledger_clean(economy)


async def test_the_same_senders_gifts_go_in_separate_batches_and_all_book(
    economy: Economy, live_stream: Any, gift: Any, funded_viewer: Any, balance_of: Any
) -> None:
    live = await live_stream()
    rose = await gift("Rose", 1)
    ann = await funded_viewer(10)
    results = await asyncio.gather(
        *(
            send_gift(
                economy, ann, stream_id=live.stream.id, gift_id=rose.id, quantity=1, key=f"s{n}"
            )
            for n in range(10)
        )
    )
    assert sorted(r.sent.id for r in results) == sorted({r.sent.id for r in results})
    assert await balance_of(ann.coin_account_id) == 0
    await assert_ledger_clean(economy)


async def test_one_gift_at_a_time_when_batching_is_off(
    start_economy: Any, live_stream: Any, gift: Any, funded_viewer: Any
) -> None:
    eco = await start_economy(gift_batch_size=1)
    live = await live_stream()
    rose = await gift("Rose", 1)
    ann = await funded_viewer(4)
    with eco.events.subscribe(gift_topic(live.stream.id)) as sub:
        results = await asyncio.gather(
            *(
                send_gift(
                    eco, ann, stream_id=live.stream.id, gift_id=rose.id, quantity=1, key=f"o{n}"
                )
                for n in range(4)
            )
        )
        events = await drain(sub)
    assert eco.gift_desk.batches == 0
    assert sorted(e.gift_send_id for e in events) == sorted(r.sent.id for r in results)


async def test_the_running_total_starts_from_the_database_and_counts_each_gift_once(
    economy: Economy, live_stream: Any, gift: Any, funded_viewer: Any
) -> None:
    live = await live_stream()
    rose = await gift("Rose", 1)
    ann = await funded_viewer(10)
    sent = [
        await send_gift(
            economy, ann, stream_id=live.stream.id, gift_id=rose.id, quantity=q, key=f"t{q}"
        )
        for q in (1, 2)
    ]
    async with economy.db.read() as conn:
        total = await read_running_total(conn, live.stream.id)
    assert total.value == 3
    assert {r.sent.id for r in sent} <= total.counted
    # An event for a gift already in the total does not add again; a new one does, once.
    assert total.add(sent[1].sent.id, 2) == 3
    newest = max(r.sent.id for r in sent)
    assert total.add(newest + 1, 5) == 8
    assert total.add(newest + 1, 5) == 8
    # Far older gifts than the newest are taken as counted.
    assert total.add(total.floor, 100) == 8
