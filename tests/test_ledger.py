"""The ledger's contract, on real databases: balanced transfers, wallets that cannot be overdrawn,
sharded balances, holds resolved exactly once, and a checker that notices when rows lie."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from economy.app import Economy
from ledger import (
    Asset,
    Balance,
    BalancePolicy,
    HoldNotPending,
    InsufficientFunds,
    Ledger,
    PlacedHold,
    Transfer,
    open_account,
    verify_ledger,
)
from ledger.errors import AssetMismatch
from ledger.tables import balances, transfers
from ledger.verify import Violation

COIN = Asset.COIN.value
DIAMOND = Asset.DIAMOND.value


@dataclass
class Book:
    """The ledger of the test's database, with one write transaction per call."""

    eco: Economy
    ledger: Ledger

    async def open(
        self,
        name: str,
        asset: str = COIN,
        *,
        policy: BalancePolicy = BalancePolicy.NON_NEGATIVE,
        shards: int = 1,
    ) -> int:
        async with self.eco.db.write() as conn:
            account = await open_account(
                conn, f"test:{name}", name, asset, policy=policy, shards=shards
            )
        return account.id

    async def record(self, *moves: Transfer, **options: Any) -> int:
        async with self.eco.db.write() as conn:
            return await self.ledger.record(conn, "TEST", list(moves), **options)

    async def hold(self, move: Transfer) -> PlacedHold:
        async with self.eco.db.write() as conn:
            return await self.ledger.place_hold(conn, "TEST_HOLD", move)

    async def post(self, hold_id: int) -> int:
        async with self.eco.db.write() as conn:
            return await self.ledger.post_hold(conn, hold_id)

    async def void(self, hold_id: int) -> int:
        async with self.eco.db.write() as conn:
            return await self.ledger.void_hold(conn, hold_id)

    async def balance(self, account_id: int) -> Balance:
        async with self.eco.db.read() as conn:
            rows = await conn.execute(
                select(balances.c.balance, balances.c.held).where(
                    balances.c.account_id == account_id
                )
            )
            shards = list(rows)
        return Balance(balance=sum(b for b, _ in shards), held=sum(h for _, h in shards))

    async def shards(self, account_id: int) -> dict[int, int]:
        async with self.eco.db.read() as conn:
            rows = await conn.execute(
                select(balances.c.shard, balances.c.balance).where(
                    balances.c.account_id == account_id
                )
            )
            return {int(shard): int(balance) for shard, balance in rows}

    async def verify(self) -> list[Violation]:
        async with self.eco.db.read() as conn:
            return await verify_ledger(conn)


@pytest.fixture
def book(economy: Economy) -> Book:
    return Book(economy, Ledger(rng=random.Random(20261123)))


async def issuer_and_wallet(book: Book, funds: int, *, shards: int = 1) -> tuple[int, int]:
    """An UNBOUNDED coin issuer and a checked wallet holding `funds` coins."""
    issuer = await book.open("issuer", policy=BalancePolicy.UNBOUNDED, shards=4)
    wallet = await book.open("wallet", shards=shards)
    if funds:
        await book.record(Transfer(issuer, wallet, COIN, funds))
    return issuer, wallet


async def test_a_transfer_books_balanced_postings(book: Book, row_counts: Any) -> None:
    issuer, wallet = await issuer_and_wallet(book, 0)
    before = await row_counts("ledger_transactions", "ledger_transfers")

    transaction_id = await book.record(Transfer(issuer, wallet, COIN, 70), details={"why": "test"})

    assert await book.balance(wallet) == Balance(balance=70, held=0)
    assert (await book.balance(issuer)).balance == -70
    assert await row_counts("ledger_transactions", "ledger_transfers") == {
        "ledger_transactions": before["ledger_transactions"] + 1,
        "ledger_transfers": before["ledger_transfers"] + 1,
    }
    async with book.eco.db.read() as conn:
        posted = (
            await conn.execute(
                select(transfers).where(transfers.c.transaction_id == transaction_id)
            )
        ).one()
    assert (posted.debit_account_id, posted.credit_account_id, posted.asset, posted.amount) == (
        issuer,
        wallet,
        COIN,
        70,
    )
    assert await book.verify() == []


async def test_one_transaction_may_hold_several_transfers_and_nets_them(book: Book) -> None:
    issuer, wallet = await issuer_and_wallet(book, 10)
    other = await book.open("other")

    await book.record(
        Transfer(issuer, wallet, COIN, 5),
        Transfer(wallet, other, COIN, 15),  # only possible because the 5 arrives first
    )

    assert (await book.balance(wallet)).balance == 0
    assert (await book.balance(other)).balance == 15
    assert await book.verify() == []


@pytest.mark.parametrize("shards", [1, 8], ids=["one-shard", "sharded"])
async def test_a_checked_account_cannot_be_overdrawn_and_a_refusal_writes_nothing(
    book: Book, row_counts: Any, shards: int
) -> None:
    issuer, wallet = await issuer_and_wallet(book, 0, shards=shards)
    for _ in range(10):
        await book.record(Transfer(issuer, wallet, COIN, 1))
    other = await book.open("other")
    before = (await row_counts(), await book.balance(wallet), await book.balance(issuer))

    with pytest.raises(InsufficientFunds) as refused:
        await book.record(Transfer(wallet, other, COIN, 11))
    assert (refused.value.account_id, refused.value.needed) == (wallet, 11)
    with pytest.raises(InsufficientFunds):  # the first transfer is undone with the second
        await book.record(Transfer(issuer, other, COIN, 3), Transfer(wallet, other, COIN, 11))

    after = (await row_counts(), await book.balance(wallet), await book.balance(issuer))
    assert after == before
    assert (await book.balance(other)).balance == 0
    assert await book.verify() == []


async def test_credits_to_a_sharded_account_spread_over_shards_and_sum_to_its_balance(
    book: Book,
) -> None:
    issuer, _ = await issuer_and_wallet(book, 0)
    creator = await book.open("creator", DIAMOND, shards=8)
    diamonds = await book.open("diamond-issuer", DIAMOND, policy=BalancePolicy.UNBOUNDED, shards=4)
    del issuer

    for amount in range(1, 41):
        await book.record(Transfer(diamonds, creator, DIAMOND, amount))

    spread = await book.shards(creator)
    assert sorted(spread) == list(range(8))
    assert sum(1 for b in spread.values() if b) > 1, spread
    assert sum(spread.values()) == sum(range(1, 41))
    assert await book.balance(creator) == Balance(balance=820, held=0)
    assert await book.verify() == []


async def test_a_debit_from_a_sharded_checked_account_checks_the_sum_of_its_shards(
    book: Book,
) -> None:
    diamonds = await book.open("diamond-issuer", DIAMOND, policy=BalancePolicy.UNBOUNDED)
    creator = await book.open("creator", DIAMOND, shards=8)
    payouts = await book.open("payouts", DIAMOND)
    for _ in range(20):
        await book.record(Transfer(diamonds, creator, DIAMOND, 5))
    assert (await book.shards(creator))[0] < 100  # shard 0 alone could not pay 100

    await book.record(Transfer(creator, payouts, DIAMOND, 100))
    with pytest.raises(InsufficientFunds):
        await book.record(Transfer(creator, payouts, DIAMOND, 1))

    assert await book.balance(creator) == Balance(balance=0, held=0)
    assert (await book.balance(payouts)).balance == 100
    assert await book.verify() == []


@pytest.mark.parametrize("shards", [1, 8], ids=["one-shard", "sharded"])
async def test_a_hold_reserves_available_until_posted_or_voided(book: Book, shards: int) -> None:
    _, wallet = await issuer_and_wallet(book, 100, shards=shards)
    clearing = await book.open("clearing")

    first = await book.hold(Transfer(wallet, clearing, COIN, 60))
    assert await book.balance(wallet) == Balance(balance=100, held=60)
    assert (await book.balance(wallet)).available == 40
    with pytest.raises(InsufficientFunds):
        await book.hold(Transfer(wallet, clearing, COIN, 41))
    with pytest.raises(InsufficientFunds):  # a plain debit respects the hold as well
        await book.record(Transfer(wallet, clearing, COIN, 41))
    second = await book.hold(Transfer(wallet, clearing, COIN, 40))
    assert await book.balance(wallet) == Balance(balance=100, held=100)
    assert await book.verify() == []

    await book.post(first.hold_id)
    assert await book.balance(wallet) == Balance(balance=40, held=40)
    assert await book.balance(clearing) == Balance(balance=60, held=0)

    await book.void(second.hold_id)
    assert await book.balance(wallet) == Balance(balance=40, held=0)
    assert await book.balance(clearing) == Balance(balance=60, held=0)
    assert await book.verify() == []


async def test_a_hold_is_resolved_exactly_once(book: Book, row_counts: Any) -> None:
    _, wallet = await issuer_and_wallet(book, 100)
    clearing = await book.open("clearing")
    posted = await book.hold(Transfer(wallet, clearing, COIN, 30))
    voided = await book.hold(Transfer(wallet, clearing, COIN, 20))
    await book.post(posted.hold_id)
    await book.void(voided.hold_id)
    before = (await row_counts(), await book.balance(wallet), await book.balance(clearing))

    for resolve in (book.post, book.void):
        for hold in (posted, voided):
            with pytest.raises(HoldNotPending) as refused:
                await resolve(hold.hold_id)
            assert refused.value.hold_id == hold.hold_id
            assert refused.value.status == ("POSTED" if hold is posted else "VOIDED")
    with pytest.raises(HoldNotPending) as missing:
        await book.post(999_999)
    assert missing.value.status is None

    after = (await row_counts(), await book.balance(wallet), await book.balance(clearing))
    assert after == before
    assert await book.balance(wallet) == Balance(balance=70, held=0)
    assert await book.verify() == []


async def test_amounts_must_be_positive(book: Book) -> None:
    issuer, wallet = await issuer_and_wallet(book, 10)
    for amount in (0, -5):
        with pytest.raises(ValueError, match="positive"):
            await book.record(Transfer(issuer, wallet, COIN, amount))
        with pytest.raises(ValueError, match="positive"):
            await book.hold(Transfer(wallet, issuer, COIN, amount))
    with pytest.raises(ValueError, match="at least one transfer"):
        await book.record()


async def test_a_transfer_between_assets_is_refused(book: Book, row_counts: Any) -> None:
    issuer, wallet = await issuer_and_wallet(book, 50)
    creator = await book.open("creator", DIAMOND, shards=4)
    before = await row_counts()

    with pytest.raises(AssetMismatch):
        await book.record(Transfer(wallet, creator, COIN, 5))
    with pytest.raises(AssetMismatch):
        await book.record(Transfer(wallet, issuer, DIAMOND, 5))
    with pytest.raises(AssetMismatch):
        await book.hold(Transfer(wallet, creator, COIN, 5))

    assert await row_counts() == before
    assert (await book.balance(wallet)).balance == 50
    assert await book.verify() == []


# --- Concurrency: every write in its own transaction, all at once ------------------------------


async def attempt(book: Book, action: Any) -> str:
    """'ok' or 'insufficient'; anything else (a deadlock, say) is returned as its repr."""
    try:
        await action()
    except InsufficientFunds:
        return "insufficient"
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return "ok"


@pytest.mark.parametrize("shards", [1, 16], ids=["one-shard", "sharded"])
async def test_concurrent_holds_never_reserve_more_than_is_available(
    book: Book, shards: int
) -> None:
    _, wallet = await issuer_and_wallet(book, 100, shards=shards)
    clearing = await book.open("clearing")

    outcomes = await asyncio.gather(
        *(attempt(book, lambda: book.hold(Transfer(wallet, clearing, COIN, 10))) for _ in range(30))
    )

    assert Counter(outcomes) == {"ok": 10, "insufficient": 20}
    assert await book.balance(wallet) == Balance(balance=100, held=100)
    assert await book.verify() == []


@pytest.mark.parametrize("shards", [1, 16], ids=["one-shard", "sharded"])
async def test_concurrent_debits_never_overdraw_a_checked_account(book: Book, shards: int) -> None:
    """A creator paying out from a sharded diamond wallet, many requests at once. (On PostgreSQL
    the sharded case deadlocks: see `Ledger._lock_accounts`.)"""
    issuer = await book.open("diamond-issuer", DIAMOND, policy=BalancePolicy.UNBOUNDED, shards=4)
    creator = await book.open("creator", DIAMOND, shards=shards)
    payouts = await book.open("payouts", DIAMOND)
    for _ in range(10):
        await book.record(Transfer(issuer, creator, DIAMOND, 10))

    outcomes = await asyncio.gather(
        *(
            attempt(book, lambda: book.record(Transfer(creator, payouts, DIAMOND, 10)))
            for _ in range(20)
        )
    )

    assert Counter(outcomes) == {"ok": 10, "insufficient": 10}
    assert await book.balance(creator) == Balance(balance=0, held=0)
    assert await book.verify() == []


@pytest.mark.parametrize("shards", [1, 16], ids=["one-shard", "sharded"])
async def test_posting_holds_while_debiting_the_same_account_does_not_deadlock(
    book: Book, shards: int
) -> None:
    """Posting a hold must take its balance-row locks in the ledger's one global order (by
    account, then shard), like every other write; here the debited account has the lower id."""
    issuer = await book.open("diamond-issuer", DIAMOND, policy=BalancePolicy.UNBOUNDED, shards=4)
    creator = await book.open("creator", DIAMOND, shards=shards)
    clearing = await book.open("clearing", DIAMOND)
    assert creator < clearing
    await book.record(Transfer(issuer, creator, DIAMOND, 1_000))
    holds = [await book.hold(Transfer(creator, clearing, DIAMOND, 10)) for _ in range(15)]

    outcomes = await asyncio.gather(
        *(attempt(book, lambda h=h: book.post(h.hold_id)) for h in holds),
        *(
            attempt(book, lambda: book.record(Transfer(creator, clearing, DIAMOND, 10)))
            for _ in holds
        ),
    )

    assert Counter(outcomes) == {"ok": 30}
    assert await book.balance(creator) == Balance(balance=700, held=0)
    assert await book.verify() == []


async def test_racing_post_and_void_of_one_hold_resolve_it_once(book: Book) -> None:
    _, wallet = await issuer_and_wallet(book, 100)
    clearing = await book.open("clearing")
    for _ in range(5):
        hold = await book.hold(Transfer(wallet, clearing, COIN, 10))
        results = await asyncio.gather(
            book.post(hold.hold_id), book.void(hold.hold_id), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if isinstance(r, HoldNotPending)]
        assert (len(winners), len(losers)) == (1, 1), results
        won = "POSTED" if isinstance(results[0], int) else "VOIDED"
        # The refusal names the hold's actual state, not the one read before the race was lost.
        assert losers[0].status == won, str(losers[0])
    assert (await book.balance(wallet)).held == 0
    assert await book.verify() == []


# --- The checker: it passes on a sound ledger and names the rows of a corrupted one -----------


def found(violations: list[Violation]) -> set[str]:
    return {str(v) for v in violations}


async def test_verify_names_a_balance_changed_without_a_transfer(book: Book, sql: Any) -> None:
    _, wallet = await issuer_and_wallet(book, 50)
    assert await book.verify() == []

    await sql(
        "UPDATE ledger_balances SET balance = balance + 7 WHERE account_id = :a AND shard = 0",
        a=wallet,
    )

    assert found(await book.verify()) == {
        "asset sums to zero: asset COIN sums to 7 over all accounts",
        f"balance equals its transfers: account {wallet}: balance rows say 57, transfers say 50",
    }


async def forge_transfer(sql: Any, debit: int, credit: int, asset: str, amount: int) -> int:
    """A transfer written by hand, balances moved to match, as a buggy writer might."""
    [(transaction_id,)] = await sql(
        "INSERT INTO ledger_transactions (kind, details) VALUES ('FORGED', '{}') RETURNING id"
    )
    [(transfer_id,)] = await sql(
        "INSERT INTO ledger_transfers "
        "(transaction_id, debit_account_id, credit_account_id, asset, amount) "
        "VALUES (:t, :d, :c, :asset, :amount) RETURNING id",
        t=transaction_id,
        d=debit,
        c=credit,
        asset=asset,
        amount=amount,
    )
    await sql(
        "UPDATE ledger_balances SET balance = balance - :n WHERE account_id = :a AND shard = 0",
        n=amount,
        a=debit,
    )
    await sql(
        "UPDATE ledger_balances SET balance = balance + :n WHERE account_id = :a AND shard = 0",
        n=amount,
        a=credit,
    )
    return int(transfer_id)


async def test_verify_names_a_checked_wallet_below_zero(book: Book, sql: Any) -> None:
    _, wallet = await issuer_and_wallet(book, 5)
    sink = await book.open("sink")

    await forge_transfer(sql, wallet, sink, COIN, 8)

    assert found(await book.verify()) == {
        f"no checked account below zero: account {wallet} (test:wallet wallet COIN) "
        "has -3 available"
    }


async def test_verify_names_an_asset_that_does_not_sum_to_zero(book: Book, sql: Any) -> None:
    issuer, _ = await issuer_and_wallet(book, 5)
    creator = await book.open("creator", DIAMOND, shards=4)

    transfer_id = await forge_transfer(sql, issuer, creator, COIN, 9)

    assert found(await book.verify()) == {
        "asset sums to zero: asset COIN sums to -9 over all accounts",
        "asset sums to zero: asset DIAMOND sums to 9 over all accounts",
        f"transfers stay in one asset: transfer {transfer_id} moves COIN between a COIN and a "
        "DIAMOND account",
    }


async def test_verify_names_a_posted_hold_without_its_transfer(book: Book, sql: Any) -> None:
    _, wallet = await issuer_and_wallet(book, 100)
    clearing = await book.open("clearing")
    hold = await book.hold(Transfer(wallet, clearing, COIN, 30))
    assert await book.verify() == []

    await sql("UPDATE ledger_holds SET status = 'POSTED' WHERE id = :h", h=hold.hold_id)

    assert found(await book.verify()) == {
        f"holds resolve once: hold {hold.hold_id} is POSTED with 0 posting transfers",
        f"held equals pending holds: account {wallet}: held 30, pending holds 0",
    }
