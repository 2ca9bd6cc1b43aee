"""Group booking (`ledger.batch`) inside `Database.batch()`: each entry its own transaction,
refusals that write nothing, a key claimed by a concurrent transaction sent back to be booked on
its own, and a failed batch that leaves nothing behind and the connection fit for the next."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from ledger import BalancePolicy, IdempotentRequest, InsufficientFunds, Transfer
from ledger.batch import open_batch
from ledger.batch.planning import Entry, FundsMoved, KeysTaken
from ledger.batch.postgres import AlsoRead, PostgresBatch
from ledger.database import WRITER_CACHE_KIB
from ledger.errors import UnknownAccount
from ledger.tables import idempotency_keys, transfers
from tests.test_ledger import COIN, Book, book, issuer_and_wallet

__all__ = ["book"]  # the fixture, shared with the ledger's own tests


def _key(key: str) -> IdempotentRequest:
    return IdempotentRequest.of("test:batch", key, {"key": key})


@dataclass(frozen=True)
class Accounts:
    issuer: int
    wallet: int
    """A checked coin wallet holding 10 coins."""
    shop: int


@pytest.fixture
async def accounts(book: Book) -> Accounts:
    issuer, wallet = await issuer_and_wallet(book, 10)
    return Accounts(issuer, wallet, await book.open("shop", policy=BalancePolicy.UNBOUNDED))


def only_on_postgres(economy: Economy, why: str) -> None:
    if economy.db.sqlite:
        pytest.skip(why)


async def test_each_entry_is_its_own_transaction_and_a_short_one_writes_nothing(
    book: Book,
) -> None:
    issuer, rich = await issuer_and_wallet(book, 10)
    poor = await book.open("poor")
    shop = await book.open("shop", policy=BalancePolicy.UNBOUNDED, shards=4)
    entries = [
        Entry("TEST", [Transfer(rich, shop, COIN, 4)], idempotency=_key("a")),
        Entry("TEST", [Transfer(poor, shop, COIN, 1)], idempotency=_key("b")),
        Entry("TEST", [Transfer(issuer, shop, COIN, 7)], idempotency=_key("c")),
    ]
    async with book.eco.db.batch() as conn:
        booked = await open_batch(book.ledger, conn).record(entries)

    first, refused, third = booked
    assert isinstance(first, int)
    assert isinstance(third, int)
    assert first != third
    assert isinstance(refused, InsufficientFunds)
    assert (await book.balance(rich)).balance == 6
    assert (await book.balance(poor)).balance == 0
    assert (await book.balance(shop)).balance == 11
    assert await book.verify() == []


async def test_a_failed_batch_leaves_nothing_and_the_next_batch_books(
    book: Book, accounts: Accounts
) -> None:
    wallet, shop = accounts.wallet, accounts.shop
    good = Entry("TEST", [Transfer(wallet, shop, COIN, 3)], idempotency=_key("good"))
    broken = Entry("TEST", [Transfer(wallet, 999_999_999, COIN, 1)])

    with pytest.raises(UnknownAccount):
        async with book.eco.db.batch() as conn:
            await open_batch(book.ledger, conn).record([good, broken])
    assert (await book.balance(wallet)).balance == 10

    for n in range(3):  # the pooled connections are still usable
        again = Entry("TEST", good.moves, idempotency=_key(f"good-{n}"))
        async with book.eco.db.batch() as conn:
            (outcome,) = await open_batch(book.ledger, conn).record([again])
        assert isinstance(outcome, int)
    assert (await book.balance(wallet)).balance == 1
    assert await book.verify() == []


async def test_a_key_a_concurrent_transaction_claims_first_sends_its_entry_back(
    book: Book, economy: Economy, accounts: Accounts
) -> None:
    only_on_postgres(economy, "SQLite writes one transaction at a time: no two claim a key at once")
    issuer, wallet, shop = accounts.issuer, accounts.wallet, accounts.shop
    claimed = asyncio.Event()
    release = asyncio.Event()

    async def first_claim() -> None:
        async with economy.db.write() as conn:
            await book.ledger.record(
                conn, "TEST", [Transfer(issuer, shop, COIN, 1)], idempotency=_key("same")
            )
            claimed.set()
            await release.wait()  # commits only once the batch waits on the key

    async def batch() -> list[int | InsufficientFunds]:
        await claimed.wait()
        async with economy.db.batch() as conn:
            return await open_batch(book.ledger, conn).record(
                [
                    Entry("TEST", [Transfer(wallet, shop, COIN, 2)], idempotency=_key("other")),
                    Entry("TEST", [Transfer(issuer, shop, COIN, 1)], idempotency=_key("same")),
                ],
            )

    holder = asyncio.create_task(first_claim())
    racing = asyncio.create_task(batch())
    await asyncio.sleep(0.3)
    assert not racing.done()  # waiting on the uncommitted key
    release.set()
    await holder
    with pytest.raises(KeysTaken) as taken:
        await racing
    assert taken.value.entries == (1,)
    assert (await book.balance(wallet)).balance == 10  # the batch rolled back as a whole
    assert (await book.balance(shop)).balance == 1
    assert await book.verify() == []


async def test_a_sqlalchemy_connection_on_postgresql_is_refused(book: Book) -> None:
    only_on_postgres(book.eco, "SQLite books batches through SQLAlchemy")
    async with book.eco.db.write() as conn:
        with pytest.raises(TypeError, match=r"Database\.batch"):
            await open_batch(book.ledger, conn).record([])


async def test_a_first_look_only_steers_every_debit_is_checked_under_the_lock(
    book: Book, accounts: Accounts
) -> None:
    wallet, shop = accounts.wallet, accounts.shop
    too_much = Entry("TEST", [Transfer(wallet, shop, COIN, 50)], idempotency=_key("much"))

    with pytest.raises(FundsMoved) as moved:
        async with book.eco.db.batch() as conn:
            await open_batch(book.ledger, conn).record([too_much], first_look={wallet: 1_000})
    assert moved.value.entries == (0,)
    assert (await book.balance(wallet)).balance == 10

    async with book.eco.db.batch() as conn:
        (refused,) = await open_batch(book.ledger, conn).record([too_much], first_look={})
    assert isinstance(refused, InsufficientFunds)
    assert await book.verify() == []


async def test_a_batch_cancelled_mid_statement_leaves_nothing_and_the_pool_usable(
    book: Book, economy: Economy, accounts: Accounts
) -> None:
    only_on_postgres(economy, "PostgreSQL's own connections are what is checked here")
    issuer, wallet, shop = accounts.issuer, accounts.wallet, accounts.shop
    entered = asyncio.Event()

    async def slow_batch() -> None:
        async with economy.db.batch() as conn:
            await open_batch(book.ledger, conn).record(
                [Entry("TEST", [Transfer(wallet, shop, COIN, 4)])]
            )
            entered.set()
            assert not isinstance(conn, AsyncConnection)
            await conn.execute("SELECT pg_sleep(30)")

    task = asyncio.create_task(slow_batch())
    await asyncio.wait_for(entered.wait(), 5)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    for n in range(economy.settings.db_pool_size + 1):  # every pooled connection, and then some
        async with economy.db.batch() as conn:
            (booked,) = await open_batch(book.ledger, conn).record(
                [Entry("TEST", [Transfer(issuer, shop, COIN, 1)], idempotency=_key(f"after-{n}"))],
            )
        assert isinstance(booked, int)
    assert (await book.balance(wallet)).balance == 10  # the cancelled batch booked nothing
    assert (await book.balance(shop)).balance == economy.settings.db_pool_size + 1
    assert await book.verify() == []


async def test_each_key_names_its_own_entrys_transaction_when_some_entries_have_none(
    book: Book,
) -> None:
    issuer = await book.open("issuer", policy=BalancePolicy.UNBOUNDED)
    shop = await book.open("shop", policy=BalancePolicy.UNBOUNDED)
    # Keys sorted differently from the entries: "b" comes before "z" but after it in the batch.
    entries = [
        Entry("TEST", [Transfer(issuer, shop, COIN, 1)]),
        Entry("TEST", [Transfer(issuer, shop, COIN, 2)], idempotency=_key("z")),
        Entry("TEST", [Transfer(issuer, shop, COIN, 3)]),
        Entry("TEST", [Transfer(issuer, shop, COIN, 4)], idempotency=_key("b")),
    ]
    async with book.eco.db.batch() as conn:
        booked = await open_batch(book.ledger, conn).record(entries)

    async with book.eco.db.read() as conn:
        keys = dict(
            (
                await conn.execute(
                    select(idempotency_keys.c.key, idempotency_keys.c.transaction_id).where(
                        idempotency_keys.c.scope == "test:batch"
                    )
                )
            ).all()
        )
        amounts = dict(
            (
                await conn.execute(
                    select(transfers.c.transaction_id, transfers.c.amount).where(
                        transfers.c.transaction_id.in_([int(b) for b in booked])
                    )
                )
            ).all()
        )
    assert keys == {"z": booked[1], "b": booked[3]}
    assert [amounts[int(b)] for b in booked] == [1, 2, 3, 4]
    assert await book.verify() == []


async def test_sqlites_writer_keeps_a_large_page_cache_and_its_readers_the_default(
    economy: Economy,
) -> None:
    if not economy.db.sqlite:
        pytest.skip("a SQLite setting")
    async with economy.db.write() as conn:
        writer = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
    async with economy.db.read() as conn:
        reader = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
    assert writer == -WRITER_CACHE_KIB
    assert reader == -2000  # SQLite's own default


async def test_a_first_look_reads_used_keys_balances_and_the_callers_reads_at_once(
    book: Book, accounts: Accounts
) -> None:
    wallet, shop = accounts.wallet, accounts.shop
    async with book.eco.db.batch() as conn:
        (booked,) = await open_batch(book.ledger, conn).record(
            [Entry("TEST", [Transfer(wallet, shop, COIN, 3)], idempotency=_key("seen"))]
        )
    asked = [_key("seen"), _key("new")]
    async with book.eco.db.batch() as conn:
        batch = open_batch(book.ledger, conn)
        if isinstance(batch, PostgresBatch):
            also = (AlsoRead("ARRAY(SELECT {}::BIGINT + {}::BIGINT)", (40, 2)),)
            look = await batch.first_look(asked, [wallet], also=also)
            assert look.available == {wallet: 7}
            assert look.also == ([42],)
        else:
            look = await batch.first_look(asked, [wallet])
            assert look.available is None
    assert look.used_keys == {("test:batch", "seen"): (_key("seen").request_hash, booked)}
