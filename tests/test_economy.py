"""The economy's services on real databases: sending gifts, granting coins, live streams, their
leaderboards, and what happens when hundreds of gifts arrive at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from economy.app import Economy
from economy.catalog import Gift, list_coin_bundles, list_gifts, put_coin_bundle, put_gift
from economy.gifting import GiftResult, send_gift
from economy.grants import grant_coins
from economy.streams import (
    StreamAlreadyLive,
    end_stream,
    leaderboard,
    live_streams_page,
    start_stream,
    stream_earnings,
)
from economy.tables import users
from economy.users import User
from economy.wallets import EntryKind, wallet_entries
from kernel.audit import audit_log
from kernel.errors import DomainError
from ledger import verify_ledger
from ledger.accounts import read_balance
from ledger.tables import accounts, balances, transactions
from settings.rates import GiftRate


async def assert_sound(eco: Economy) -> None:
    async with eco.db.read() as conn:
        assert await verify_ledger(conn) == []


async def refused(awaitable: Any) -> DomainError:
    """The DomainError the call raises (the test fails if it raises nothing)."""
    with pytest.raises(DomainError) as caught:
        await awaitable
    return caught.value


async def catalog_gift(eco: Economy, name: str, coins: int) -> Gift:
    async with eco.db.write() as conn:
        await put_gift(conn, name, coins)
    async with eco.db.read() as conn:
        [found] = [g for g in await list_gifts(conn) if g.name == name]
    return found


def gift_to(
    eco: Economy, sender: User, stream_id: int, gift_id: int, quantity: int, key: str
) -> Any:
    return send_gift(eco, sender, stream_id=stream_id, gift_id=gift_id, quantity=quantity, key=key)


# --- Sending a gift ----------------------------------------------------------------------------


async def test_a_gift_debits_coins_and_credits_the_creator_at_the_configured_rate(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any, balance_of: Any
) -> None:
    viewer = await funded_viewer(100)
    live = await live_stream()
    panda = await gift("Panda", 5)
    platform = economy.platform

    result = await gift_to(economy, viewer, live.stream.id, panda.id, 1, "panda-1")

    sent = result.sent
    assert not result.replayed
    assert (sent.stream_id, sent.gift_id, sent.sender_id, sent.creator_id) == (
        live.stream.id,
        panda.id,
        viewer.id,
        live.creator.id,
    )
    assert (sent.quantity, sent.coins, sent.creator_diamonds, sent.platform_diamonds) == (
        1,
        5,
        5,
        5,
    )
    assert await balance_of(viewer.coin_account_id) == 95
    assert await balance_of(platform.coins_spent) == 5
    assert await balance_of(live.creator.diamond_account_id) == 5
    assert await balance_of(platform.diamond_revenue) == 5
    assert await balance_of(platform.diamond_issuance) == -10
    assert await balance_of(live.creator.coin_account_id) == 0
    async with economy.db.read() as conn:
        kind = await conn.scalar(
            select(transactions.c.kind).where(transactions.c.id == sent.transaction_id)
        )
    assert kind == "GIFT"
    await assert_sound(economy)


async def test_a_combo_multiplies_the_price_by_the_quantity(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any, balance_of: Any
) -> None:
    viewer = await funded_viewer(1_000)
    live = await live_stream()
    rose = await gift("Rose", 1)

    sent = (await gift_to(economy, viewer, live.stream.id, rose.id, 99, "combo")).sent

    assert (sent.coins, sent.creator_diamonds, sent.platform_diamonds) == (99, 99, 99)
    assert await balance_of(viewer.coin_account_id) == 901
    assert await balance_of(live.creator.diamond_account_id) == 99


@pytest.mark.parametrize(
    ("rate", "price", "creator", "platform"),
    [
        (GiftRate(diamonds_per_coin=3, creator_share_bps=3_333), 1, 0, 3),
        (GiftRate(diamonds_per_coin=3, creator_share_bps=3_333), 5, 4, 11),
        (GiftRate(diamonds_per_coin=1, creator_share_bps=10_000), 5, 5, 0),
        (GiftRate(diamonds_per_coin=1, creator_share_bps=0), 5, 0, 5),
    ],
    ids=["creator-rounds-to-zero", "rounded-down", "all-to-creator", "all-to-platform"],
)
async def test_the_split_follows_the_configured_rate_rounding_for_the_platform(
    start_economy: Any,
    rate: GiftRate,
    price: int,
    creator: int,
    platform: int,
) -> None:
    eco = await start_economy(gift_rate=rate)
    admin = await eco.users.ensure("admin:rates")
    viewer = await eco.users.ensure("viewer:rates")
    owner = await eco.users.ensure("creator:rates")
    await grant_coins(eco, admin, subject=viewer.subject, coins=price, reason="r", key="fund")
    stream = await start_stream(eco, owner, "rates")
    priced = await catalog_gift(eco, "Priced", price)

    sent = (await gift_to(eco, viewer, stream.id, priced.id, 1, "split")).sent

    assert (sent.coins, sent.creator_diamonds, sent.platform_diamonds) == (price, creator, platform)
    async with eco.db.read() as conn:
        assert (await read_balance(conn, owner.diamond_account_id)).balance == creator
        assert (await read_balance(conn, eco.platform.diamond_revenue)).balance == platform
        assert (await read_balance(conn, viewer.coin_account_id)).balance == 0
    await assert_sound(eco)


async def test_the_same_gift_sent_again_with_its_key_is_a_replay(
    economy: Economy,
    funded_viewer: Any,
    live_stream: Any,
    gift: Any,
    balance_of: Any,
    row_counts: Any,
) -> None:
    viewer = await funded_viewer(20)
    live = await live_stream()
    panda = await gift("Panda", 5)
    first = await gift_to(economy, viewer, live.stream.id, panda.id, 2, "tap-1")
    counts = await row_counts()

    again = await gift_to(economy, viewer, live.stream.id, panda.id, 2, "tap-1")

    assert again == GiftResult(sent=first.sent, replayed=True)
    assert await row_counts() == counts
    assert await balance_of(viewer.coin_account_id) == 10
    # The key is the viewer's own: another viewer may use the same one.
    other = await funded_viewer(20)
    theirs = await gift_to(economy, other, live.stream.id, panda.id, 2, "tap-1")
    assert not theirs.replayed
    assert theirs.sent.id != first.sent.id


async def test_a_replay_returns_the_first_result_even_after_the_stream_ended(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any, balance_of: Any
) -> None:
    viewer = await funded_viewer(10)
    live = await live_stream()
    rose = await gift("Rose", 1)
    first = await gift_to(economy, viewer, live.stream.id, rose.id, 3, "before-the-end")
    await end_stream(economy, live.creator, live.stream.id, may_end_any=False)
    await gift("Rose", 1, active=False)

    again = await gift_to(economy, viewer, live.stream.id, rose.id, 3, "before-the-end")

    assert again == GiftResult(sent=first.sent, replayed=True)
    assert await balance_of(viewer.coin_account_id) == 7
    fresh = await refused(gift_to(economy, viewer, live.stream.id, rose.id, 3, "after-the-end"))
    assert fresh.code == "STREAM_NOT_LIVE"


@dataclass
class Scene:
    """Everything a refusal needs: a viewer with 10 coins, a live and an ended stream, a gift
    on sale and a retired one, and a key already used for one Rose."""

    eco: Economy
    viewer: User
    creator: User
    live_id: int
    ended_id: int
    rose_id: int
    retired_id: int


@pytest.fixture
async def scene(economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any) -> Scene:
    viewer = await funded_viewer(10)
    live = await live_stream()
    ended = await live_stream()
    await end_stream(economy, ended.creator, ended.stream.id, may_end_any=False)
    rose = await gift("Rose", 1)
    retired = await gift("Retired", 1, active=False)
    await gift_to(economy, viewer, live.stream.id, rose.id, 1, "used-key")
    return Scene(
        economy, viewer, live.creator, live.stream.id, ended.stream.id, rose.id, retired.id
    )


REFUSALS: dict[str, tuple[str, str, Callable[[Scene], dict[str, Any]]]] = {
    "quantity-zero": ("INVALID_QUANTITY", "quantity", lambda s: {"quantity": 0}),
    "quantity-negative": ("INVALID_QUANTITY", "quantity", lambda s: {"quantity": -1}),
    "quantity-over-max": ("INVALID_QUANTITY", "quantity", lambda s: {"quantity": 10_001}),
    "key-empty": ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey", lambda s: {"key": ""}),
    "key-256-chars": ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey", lambda s: {"key": "k" * 256}),
    "key-padded": ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey", lambda s: {"key": " k "}),
    "key-control-char": ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey", lambda s: {"key": "a\tb"}),
    "stream-missing": ("STREAM_NOT_FOUND", "streamId", lambda s: {"stream_id": 999_999}),
    "stream-ended": ("STREAM_NOT_LIVE", "streamId", lambda s: {"stream_id": s.ended_id}),
    "own-stream": ("CANNOT_GIFT_OWN_STREAM", "streamId", lambda s: {"sender": s.creator}),
    "gift-missing": ("GIFT_NOT_FOUND", "giftId", lambda s: {"gift_id": 999_999}),
    "gift-retired": ("GIFT_UNAVAILABLE", "giftId", lambda s: {"gift_id": s.retired_id}),
    "too-few-coins": ("INSUFFICIENT_COINS", "quantity", lambda s: {"quantity": 10}),
    "key-reused": (
        "IDEMPOTENCY_CONFLICT",
        "idempotencyKey",
        lambda s: {"quantity": 2, "key": "used-key"},
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_refused_gift_names_its_reason_and_writes_nothing(
    scene: Scene, case: str, row_counts: Any, balance_of: Any
) -> None:
    code, field, change = REFUSALS[case]
    call: dict[str, Any] = {
        "sender": scene.viewer,
        "stream_id": scene.live_id,
        "gift_id": scene.rose_id,
        "quantity": 1,
        "key": f"fresh-{case}",
        **change(scene),
    }
    counts = await row_counts()

    error = await refused(send_gift(scene.eco, call.pop("sender"), **call))

    assert (error.code, error.field) == (code, field)
    assert error.message
    assert await row_counts() == counts
    assert await balance_of(scene.viewer.coin_account_id) == 9
    assert await balance_of(scene.creator.diamond_account_id) == 1
    await assert_sound(scene.eco)


async def test_the_quantity_limit_is_configuration(start_economy: Any) -> None:
    eco = await start_economy(max_gift_quantity=3)
    admin = await eco.users.ensure("admin:limit")
    viewer = await eco.users.ensure("viewer:limit")
    stream = await start_stream(eco, await eco.users.ensure("creator:limit"), "limit")
    await grant_coins(eco, admin, subject=viewer.subject, coins=10, reason="r", key="fund")
    rose = await catalog_gift(eco, "Rose", 1)

    assert (await gift_to(eco, viewer, stream.id, rose.id, 3, "three")).sent.coins == 3
    error = await refused(gift_to(eco, viewer, stream.id, rose.id, 4, "four"))
    assert error.code == "INVALID_QUANTITY"


async def test_a_key_of_255_characters_is_accepted(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any
) -> None:
    viewer = await funded_viewer(5)
    live = await live_stream()
    rose = await gift("Rose", 1)
    long_key = "x" * 255

    first = await gift_to(economy, viewer, live.stream.id, rose.id, 1, long_key)
    again = await gift_to(economy, viewer, live.stream.id, rose.id, 1, long_key)

    assert again.sent == first.sent
    assert again.replayed


# --- Granting coins ----------------------------------------------------------------------------


async def test_an_admin_grant_credits_coins_and_writes_the_audit_log(
    economy: Economy, admin: User, balance_of: Any, row_counts: Any
) -> None:
    grant = await grant_coins(
        economy, admin, subject="  viewer:lucky  ", coins=500, reason="launch promo", key="g-1"
    )

    assert grant.recipient.subject == "viewer:lucky"
    assert (grant.coins, grant.replayed) == (500, False)
    assert await balance_of(grant.recipient.coin_account_id) == 500
    assert await balance_of(economy.platform.coin_promotions) == -500
    async with economy.db.read() as conn:
        [entry] = (await conn.execute(select(audit_log))).all()
        details = await conn.scalar(
            select(transactions.c.details).where(transactions.c.id == grant.transaction_id)
        )
    assert (entry.actor_subject, entry.action, entry.target) == (
        admin.subject,
        "GRANT_COINS",
        "viewer:lucky",
    )
    assert entry.details == {
        "coins": 500,
        "reason": "launch promo",
        "transaction_id": grant.transaction_id,
    }
    assert details == {"reason": "launch promo", "granted_by": admin.subject}

    counts = await row_counts()
    again = await grant_coins(
        economy, admin, subject="viewer:lucky", coins=500, reason="launch promo", key="g-1"
    )
    assert (again.transaction_id, again.replayed) == (grant.transaction_id, True)
    assert await row_counts() == counts
    assert await balance_of(grant.recipient.coin_account_id) == 500
    await assert_sound(economy)


GRANT_REFUSALS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "subject-empty": ("INVALID_SUBJECT", "subject", {"subject": "   "}),
    "subject-too-long": ("INVALID_SUBJECT", "subject", {"subject": "s" * 256}),
    "subject-control-char": ("INVALID_SUBJECT", "subject", {"subject": "a\nb"}),
    "coins-zero": ("INVALID_AMOUNT", "coins", {"coins": 0}),
    "coins-negative": ("INVALID_AMOUNT", "coins", {"coins": -5}),
    "coins-over-max": ("INVALID_AMOUNT", "coins", {"coins": 100_000_001}),
    "reason-empty": ("INVALID_REASON", "reason", {"reason": ""}),
    "reason-too-long": ("INVALID_REASON", "reason", {"reason": "r" * 501}),
    "key-empty": ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey", {"key": ""}),
    "key-256-chars": ("INVALID_IDEMPOTENCY_KEY", "idempotencyKey", {"key": "k" * 256}),
    "key-reused": ("IDEMPOTENCY_CONFLICT", "idempotencyKey", {"coins": 7, "key": "used"}),
}


@pytest.mark.parametrize("case", list(GRANT_REFUSALS))
async def test_a_refused_grant_names_its_reason_and_writes_nothing(
    economy: Economy, admin: User, case: str, row_counts: Any, balance_of: Any
) -> None:
    code, field, change = GRANT_REFUSALS[case]
    first = await grant_coins(economy, admin, subject="viewer:x", coins=5, reason="r", key="used")
    call: dict[str, Any] = {
        "subject": "viewer:x",
        "coins": 5,
        "reason": "promo",
        "key": f"fresh-{case}",
        **change,
    }
    counts = await row_counts()

    error = await refused(grant_coins(economy, admin, **call))

    assert (error.code, error.field) == (code, field)
    assert await row_counts() == counts
    assert await balance_of(first.recipient.coin_account_id) == 5
    await assert_sound(economy)


async def test_racing_duplicate_grants_to_a_new_subject_grant_once(
    economy: Economy, admin: User, balance_of: Any, row_counts: Any
) -> None:
    grants = await asyncio.gather(
        *(
            grant_coins(economy, admin, subject="viewer:new", coins=70, reason="promo", key="g")
            for _ in range(10)
        )
    )

    assert len({g.transaction_id for g in grants}) == 1
    assert len({g.recipient.id for g in grants}) == 1
    assert Counter(g.replayed for g in grants) == {True: 9, False: 1}
    assert await balance_of(grants[0].recipient.coin_account_id) == 70
    assert await row_counts("users", "audit_log", "ledger_transactions") == {
        "users": 2,  # the admin and the recipient
        "audit_log": 1,
        "ledger_transactions": 1,
    }
    await assert_sound(economy)


# --- Live streams ------------------------------------------------------------------------------


async def test_a_stream_starts_once_and_ends_once(economy: Economy, make_user: Any) -> None:
    creator = await make_user("creator:ada")

    stream = await start_stream(economy, creator, "  Cooking live  ")
    assert (stream.creator_id, stream.title, stream.status, stream.live) == (
        creator.id,
        "Cooking live",
        "LIVE",
        True,
    )
    assert stream.ended_at is None

    again = await refused(start_stream(economy, creator, "Second show"))
    assert again.code == "STREAM_ALREADY_LIVE"
    assert isinstance(again, StreamAlreadyLive)
    assert again.stream_id == stream.id

    ended = await end_stream(economy, creator, stream.id, may_end_any=False)
    assert (ended.id, ended.status, ended.live) == (stream.id, "ENDED", False)
    assert ended.ended_at is not None

    twice = await refused(end_stream(economy, creator, stream.id, may_end_any=False))
    assert (twice.code, twice.field) == ("STREAM_NOT_LIVE", "streamId")

    next_show = await start_stream(economy, creator, "Next show")
    assert next_show.id != stream.id
    assert next_show.live


async def test_only_its_creator_or_an_admin_may_end_a_stream(
    economy: Economy, make_user: Any, live_stream: Any
) -> None:
    live = await live_stream()
    stranger = await make_user()

    error = await refused(end_stream(economy, stranger, live.stream.id, may_end_any=False))
    assert (error.code, error.field) == ("STREAM_NOT_FOUND", "streamId")
    missing = await refused(end_stream(economy, live.creator, 999_999, may_end_any=False))
    assert missing.code == "STREAM_NOT_FOUND"
    async with economy.db.read() as conn:
        [still_live] = await live_streams_page(conn, after_id=None, limit=10)
    assert still_live.id == live.stream.id

    ended = await end_stream(economy, stranger, live.stream.id, may_end_any=True)
    assert ended.status == "ENDED"


@pytest.mark.parametrize("title", ["", "   ", "t" * 201, "a\x00b"])
async def test_a_stream_needs_a_title(economy: Economy, make_user: Any, title: str) -> None:
    error = await refused(start_stream(economy, await make_user(), title))
    assert (error.code, error.field) == ("INVALID_TITLE", "title")


async def test_racing_starts_by_one_creator_open_one_stream(
    economy: Economy, make_user: Any
) -> None:
    creator = await make_user()

    results = await asyncio.gather(
        *(start_stream(economy, creator, f"show {n}") for n in range(10)), return_exceptions=True
    )

    started = [r for r in results if not isinstance(r, BaseException)]
    codes = Counter(r.code for r in results if isinstance(r, DomainError))
    assert len(started) == 1, results
    assert codes == {"STREAM_ALREADY_LIVE": 9}
    # Also the refusals that lost the race on the unique index name the winner.
    named = {r.stream_id for r in results if isinstance(r, StreamAlreadyLive)}
    assert named == {started[0].id}


async def test_live_streams_are_paged_newest_first(economy: Economy, live_stream: Any) -> None:
    streams = [(await live_stream()).stream for _ in range(5)]
    await end_stream(
        economy, await economy.users.ensure("admin:x"), streams[2].id, may_end_any=True
    )
    live_ids = [s.id for s in reversed(streams) if s.id != streams[2].id]

    async with economy.db.read() as conn:
        first = await live_streams_page(conn, after_id=None, limit=2)
        second = await live_streams_page(conn, after_id=first[-1].id, limit=2)
        rest = await live_streams_page(conn, after_id=second[-1].id, limit=2)

    assert [s.id for s in first + second + rest] == live_ids
    assert len(rest) == 0


async def test_the_leaderboard_ranks_gifters_by_coins_and_ties_by_who_came_first(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any
) -> None:
    live = await live_stream()
    elsewhere = await live_stream()
    rose = await gift("Rose", 1)
    panda = await gift("Panda", 5)
    ann = await funded_viewer(100, "viewer:ann")
    bob = await funded_viewer(100, "viewer:bob")
    cat = await funded_viewer(100, "viewer:cat")
    sid = live.stream.id

    await gift_to(economy, ann, sid, panda.id, 1, "a1")  # ann 5
    await gift_to(economy, bob, sid, rose.id, 3, "b1")  # bob 3 ...
    await gift_to(economy, cat, sid, panda.id, 1, "c1")  # cat 5, after ann
    await gift_to(economy, bob, sid, panda.id, 2, "b2")  # ... bob 13
    await gift_to(economy, cat, elsewhere.stream.id, panda.id, 10, "c2")  # another stream

    async with economy.db.read() as conn:
        board = await leaderboard(conn, sid, limit=10)
        top_two = await leaderboard(conn, sid, limit=2)
        earnings = await stream_earnings(conn, sid)
        other_earnings = await stream_earnings(conn, elsewhere.stream.id)
        nobody = await leaderboard(conn, 999_999, limit=10)

    assert [(e.rank, e.subject, e.coins) for e in board] == [
        (1, "viewer:bob", 13),
        (2, "viewer:ann", 5),
        (3, "viewer:cat", 5),
    ]
    assert [e.user_id for e in board] == [bob.id, ann.id, cat.id]
    assert [e.subject for e in top_two] == ["viewer:bob", "viewer:ann"]
    assert earnings == 23  # 23 coins at 2 diamonds a coin, half to the creator
    assert other_earnings == 50
    assert nobody == []


# --- Wallets, users and the catalog ------------------------------------------------------------


async def test_a_wallet_lists_its_entries_newest_first_with_signs(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any
) -> None:
    viewer = await funded_viewer(100)
    live = await live_stream()
    panda = await gift("Panda", 5)
    for n in range(3):
        await gift_to(economy, viewer, live.stream.id, panda.id, 1, f"p{n}")

    async with economy.db.read() as conn:
        page = await wallet_entries(conn, viewer.coin_account_id, before_id=None, limit=3)
        older = await wallet_entries(
            conn, viewer.coin_account_id, before_id=page[-1].transaction_id, limit=3
        )
        creator = await wallet_entries(
            conn, live.creator.diamond_account_id, before_id=None, limit=10
        )

    assert [(e.kind, e.amount) for e in page] == [(EntryKind.GIFT_SENT, -5)] * 3
    assert [(e.kind, e.amount) for e in older] == [(EntryKind.GRANT, 100)]
    assert [(e.kind, e.amount, e.stream_id, e.sender_id) for e in creator] == [
        (EntryKind.GIFT_RECEIVED, 5, live.stream.id, viewer.id)
    ] * 3


async def test_a_user_is_created_once_with_both_wallets_even_when_racing(
    economy: Economy, start_economy: Any
) -> None:
    other = await start_economy()  # a second process: its own user cache

    found = await asyncio.gather(
        *(eco.users.ensure("viewer:racer") for eco in [economy, other] * 5)
    )

    assert len({(u.id, u.coin_account_id, u.diamond_account_id) for u in found}) == 1
    user = found[0]
    async with economy.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(users)) == 1
        wallets = (
            await conn.execute(
                select(accounts.c.name, accounts.c.asset, accounts.c.policy, accounts.c.shards)
                .where(accounts.c.owner == f"user:{user.id}")
                .order_by(accounts.c.name)
            )
        ).all()
        shards = await conn.scalar(
            select(func.count())
            .select_from(balances)
            .where(balances.c.account_id == user.diamond_account_id)
        )
    assert [tuple(w) for w in wallets] == [
        ("coins", "COIN", "NON_NEGATIVE", 1),
        ("diamonds", "DIAMOND", "NON_NEGATIVE", economy.settings.diamond_wallet_shards),
    ]
    assert shards == economy.settings.diamond_wallet_shards


async def test_coin_bundles_are_priced_per_currency(economy: Economy) -> None:
    async with economy.db.write() as conn:
        await put_coin_bundle(conn, 70, [("USD", 99), ("EUR", 95)])
        await put_coin_bundle(conn, 350, [("USD", 499)])
        await put_coin_bundle(conn, 70, [("USD", 109)])  # repriced

    async with economy.db.read() as conn:
        usd = await list_coin_bundles(conn, "usd")
        eur = await list_coin_bundles(conn, "EUR")
        gbp = await list_coin_bundles(conn, "GBP")
        with pytest.raises(DomainError) as bad:
            await list_coin_bundles(conn, "dollars")

    assert [(b.coins, b.currency, b.price_minor) for b in usd] == [
        (70, "USD", 109),
        (350, "USD", 499),
    ]
    assert [(b.coins, b.price_minor) for b in eur] == [(70, 95)]
    assert gbp == []
    assert bad.value.code == "INVALID_CURRENCY"


# --- Many gifts at once ------------------------------------------------------------------------


async def test_200_concurrent_gifts_from_a_viewer_funded_for_100_never_overdraw(
    economy: Economy,
    funded_viewer: Any,
    live_stream: Any,
    gift: Any,
    balance_of: Any,
    row_counts: Any,
) -> None:
    viewer = await funded_viewer(100)
    live = await live_stream()
    rose = await gift("Rose", 1)
    counts = await row_counts()

    results = await asyncio.gather(
        *(gift_to(economy, viewer, live.stream.id, rose.id, 1, f"rose-{n}") for n in range(200)),
        return_exceptions=True,
    )

    outcomes = Counter(
        "sent"
        if isinstance(r, GiftResult) and not r.replayed
        else r.code
        if isinstance(r, DomainError)
        else repr(r)
        for r in results
    )
    assert outcomes == {"sent": 100, "INSUFFICIENT_COINS": 100}
    assert await balance_of(viewer.coin_account_id) == 0
    assert await balance_of(live.creator.diamond_account_id) == 100
    assert await balance_of(economy.platform.diamond_revenue) == 100
    assert await balance_of(economy.platform.coins_spent) == 100
    after = await row_counts()
    assert after["gift_sends"] == counts["gift_sends"] + 100
    assert after["ledger_transactions"] == counts["ledger_transactions"] + 100
    async with economy.db.read() as conn:
        assert await stream_earnings(conn, live.stream.id) == 100
    await assert_sound(economy)


async def test_a_hot_creator_receives_every_gift_of_many_viewers_at_once(
    economy: Economy, funded_viewer: Any, live_stream: Any, gift: Any, balance_of: Any
) -> None:
    live = await live_stream()
    panda = await gift("Panda", 5)
    viewers = [await funded_viewer(25) for _ in range(40)]

    results = await asyncio.gather(
        *(
            gift_to(economy, viewer, live.stream.id, panda.id, 1, f"panda-{n}")
            for viewer in viewers
            for n in range(5)
        ),
        return_exceptions=True,
    )

    failures = [r for r in results if not isinstance(r, GiftResult)]
    assert failures == []
    assert await balance_of(live.creator.diamond_account_id) == 40 * 5 * 5
    for viewer in viewers:
        assert await balance_of(viewer.coin_account_id) == 0
    async with economy.db.read() as conn:
        used = await conn.scalar(
            select(func.count())
            .select_from(balances)
            .where(balances.c.account_id == live.creator.diamond_account_id, balances.c.balance > 0)
        )
        board = await leaderboard(conn, live.stream.id, limit=3)
    assert used is not None
    assert used > 1  # the credits spread over the creator's shards
    assert [e.coins for e in board] == [25, 25, 25]
    await assert_sound(economy)
