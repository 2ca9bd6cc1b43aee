"""Idempotency keys: a (scope, key) names one transaction forever. The same request replays it,
a different one conflicts, and racing duplicates still book exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.gifting import send_gift
from kernel.errors import DomainError
from ledger import (
    Asset,
    BalancePolicy,
    IdempotencyConflict,
    IdempotentRequest,
    InsufficientFunds,
    Outcome,
    Transfer,
    open_account,
    run_once,
    verify_ledger,
)
from ledger.accounts import read_balance

COIN = Asset.COIN.value
SCOPE = "test:spend"


class Wallets:
    """A wallet holding coins and a sink to spend them into, with an idempotent `spend`."""

    def __init__(self, eco: Economy, wallet: int, sink: int) -> None:
        self.eco = eco
        self.wallet = wallet
        self.sink = sink

    def spend_work(
        self, amount: int, request: IdempotentRequest
    ) -> Callable[[AsyncConnection], Awaitable[int]]:
        async def work(conn: AsyncConnection) -> int:
            return await self.eco.ledger.record(
                conn,
                "SPEND",
                [Transfer(self.wallet, self.sink, COIN, amount)],
                idempotency=request,
            )

        return work

    async def spend(self, amount: int, key: str, scope: str = SCOPE) -> Outcome:
        request = IdempotentRequest.of(scope, key, {"amount": amount})
        return await run_once(self.eco.db, request, self.spend_work(amount, request))

    async def balance(self) -> int:
        async with self.eco.db.read() as conn:
            return (await read_balance(conn, self.wallet)).balance


@pytest.fixture
async def wallets(economy: Economy) -> Wallets:
    async with economy.db.write() as conn:
        issuer = await open_account(conn, "test", "issuer", COIN, policy=BalancePolicy.UNBOUNDED)
        wallet = await open_account(conn, "test", "wallet", COIN)
        sink = await open_account(conn, "test", "sink", COIN, shards=8)
        await economy.ledger.record(conn, "FUND", [Transfer(issuer.id, wallet.id, COIN, 1_000)])
    return Wallets(economy, wallet.id, sink.id)


async def assert_sound(eco: Economy) -> None:
    async with eco.db.read() as conn:
        assert await verify_ledger(conn) == []


async def test_the_same_key_and_request_replays_the_first_transaction(
    wallets: Wallets, row_counts: Any
) -> None:
    first = await wallets.spend(100, "key-1")
    counts = await row_counts()

    again = await wallets.spend(100, "key-1")

    assert first == Outcome(first.transaction_id, replayed=False)
    assert again == Outcome(first.transaction_id, replayed=True)
    assert await wallets.balance() == 900  # debited once
    assert await row_counts() == counts
    await assert_sound(wallets.eco)


def test_a_request_is_fingerprinted_by_its_canonical_json() -> None:
    one = IdempotentRequest.of(SCOPE, "k", {"a": 1, "b": [1, 2]})
    same = IdempotentRequest.of(SCOPE, "k", {"b": [1, 2], "a": 1})
    other = IdempotentRequest.of(SCOPE, "k", {"a": 1, "b": [2, 1]})
    assert one == same
    assert one.request_hash != other.request_hash
    assert len(one.request_hash) == 64


async def test_the_same_key_with_another_request_conflicts_and_writes_nothing(
    wallets: Wallets, row_counts: Any
) -> None:
    await wallets.spend(100, "key-1")
    counts = await row_counts()

    with pytest.raises(IdempotencyConflict) as conflict:
        await wallets.spend(101, "key-1")

    assert (conflict.value.scope, conflict.value.key) == (SCOPE, "key-1")
    assert await wallets.balance() == 900
    assert await row_counts() == counts
    await assert_sound(wallets.eco)


async def test_a_key_belongs_to_its_scope(wallets: Wallets) -> None:
    mine = await wallets.spend(10, "shared-key", scope="test:alice")
    theirs = await wallets.spend(10, "shared-key", scope="test:bob")

    assert not mine.replayed
    assert not theirs.replayed
    assert mine.transaction_id != theirs.transaction_id
    assert await wallets.balance() == 980


async def test_a_refused_request_does_not_use_up_its_key(wallets: Wallets) -> None:
    with pytest.raises(InsufficientFunds):
        await wallets.spend(5_000, "key-big")

    outcome = await wallets.spend(1_000, "key-big-retry")
    assert not outcome.replayed
    assert await wallets.balance() == 0
    # The refused key was rolled back with its transaction: it may now carry another request.
    with pytest.raises(InsufficientFunds):
        await wallets.spend(1, "key-big")


async def test_racing_duplicates_book_exactly_one_transaction(
    wallets: Wallets, row_counts: Any
) -> None:
    counts = await row_counts()

    outcomes = await asyncio.gather(*(wallets.spend(25, "racing-key") for _ in range(20)))

    winners = {o.transaction_id for o in outcomes}
    assert len(winners) == 1, outcomes
    assert Counter(o.replayed for o in outcomes) == {True: 19, False: 1}
    after = await row_counts()
    assert after["ledger_transactions"] == counts["ledger_transactions"] + 1
    assert after["ledger_transfers"] == counts["ledger_transfers"] + 1
    assert after["ledger_idempotency_keys"] == counts["ledger_idempotency_keys"] + 1
    assert await wallets.balance() == 975
    await assert_sound(wallets.eco)


async def test_racing_requests_under_one_key_let_one_win_and_the_others_conflict(
    wallets: Wallets,
) -> None:
    results = await asyncio.gather(
        *(wallets.spend(amount, "contested-key") for amount in range(1, 11)),
        return_exceptions=True,
    )

    won = [r for r in results if isinstance(r, Outcome)]
    conflicts = [r for r in results if isinstance(r, IdempotencyConflict)]
    assert (len(won), len(conflicts)) == (1, 9), results
    amount = results.index(won[0]) + 1
    assert await wallets.balance() == 1_000 - amount
    await assert_sound(wallets.eco)


async def test_racing_duplicate_gifts_are_sent_once(
    economy: Economy,
    funded_viewer: Any,
    live_stream: Any,
    gift: Any,
    balance_of: Any,
    row_counts: Any,
) -> None:
    viewer = await funded_viewer(100)
    live = await live_stream()
    panda = await gift("Panda", 5)
    counts = await row_counts()

    results = await asyncio.gather(
        *(
            send_gift(
                economy, viewer, stream_id=live.stream.id, gift_id=panda.id, quantity=2, key="tap"
            )
            for _ in range(20)
        )
    )

    assert len({r.sent.id for r in results}) == 1
    assert len({r.sent.transaction_id for r in results}) == 1
    assert Counter(r.replayed for r in results) == {True: 19, False: 1}
    after = await row_counts()
    assert after["gift_sends"] == counts["gift_sends"] + 1
    assert after["ledger_transactions"] == counts["ledger_transactions"] + 1
    assert await balance_of(viewer.coin_account_id) == 90
    assert await balance_of(live.creator.diamond_account_id) == 10

    with pytest.raises(DomainError) as conflict:
        await send_gift(
            economy, viewer, stream_id=live.stream.id, gift_id=panda.id, quantity=3, key="tap"
        )
    assert conflict.value.code == "IDEMPOTENCY_CONFLICT"
    await assert_sound(economy)
