"""The gift flow through HTTP, as the viewer app, the creator's overlay and an admin use it:
grant coins, go live, send gifts, read wallets, earnings and the leaderboard; replays and races."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from economy.app import Economy
from graph.global_ids import to_global_id
from ledger import verify_ledger

from .queries import GRANT, SEND_GIFT

Post = Callable[..., Awaitable[Any]]


async def assert_ledger_clean(economy: Economy) -> None:
    async with economy.db.read() as conn:
        assert await verify_ledger(conn) == []


async def test_a_gift_goes_from_the_viewers_coins_to_the_creators_diamonds(
    graphql: Post, gift: Callable[..., Awaitable[Any]], economy: Economy
) -> None:
    rose = await gift("Rose", 1)
    await gift("Lion", 29_999)

    granted = await graphql(
        GRANT,
        {"subject": "viewer:ann", "coins": 100, "reason": "welcome bonus", "key": "grant-1"},
        subject="admin:bob",
        roles=["ADMIN"],
    )
    assert granted.data["grantCoins"] == {
        "wallet": {"balance": 100},
        "replayed": False,
        "errors": [],
    }

    started = await graphql(
        'mutation { startStream(input: {title: "Friday night"}) '
        "{ stream { id title status } errors { code } } }",
        subject="creator:cat",
        roles=["CREATOR"],
    )
    stream = started.data["startStream"]["stream"]
    assert stream["status"] == "LIVE"
    assert started.data["startStream"]["errors"] == []

    catalog = await graphql("{ giftCatalog { id name coins } }")
    assert [g["name"] for g in catalog.data["giftCatalog"]] == ["Rose", "Lion"]
    assert catalog.data["giftCatalog"][0]["id"] == to_global_id("Gift", rose.id)

    live = await graphql("{ liveStreams(first: 10) { edges { node { id title } } } }")
    assert [e["node"]["id"] for e in live.data["liveStreams"]["edges"]] == [stream["id"]]

    sent = await graphql(
        SEND_GIFT,
        {
            "stream": stream["id"],
            "gift": to_global_id("Gift", rose.id),
            "quantity": 7,
            "key": "tap-1",
        },
        subject="viewer:ann",
    )
    payload = sent.data["sendGift"]
    assert payload["errors"] == []
    assert payload["giftSend"]["quantity"] == 7
    assert payload["giftSend"]["coins"] == 7
    # Default rate: 2 diamonds per coin, half to the creator.
    assert payload["giftSend"]["diamonds"] == 7
    assert payload["giftSend"]["gift"]["name"] == "Rose"
    assert payload["giftSend"]["sender"]["subject"] == "viewer:ann"
    assert payload["coinWallet"] == {"balance": 93, "available": 93}

    creator = await graphql(
        "query($id: ID!) { me { diamondWallet { balance available } } "
        "stream(id: $id) { earnings leaderboard(first: 5) { rank user { subject } total } } }",
        {"id": stream["id"]},
        subject="creator:cat",
        roles=["CREATOR"],
    )
    assert creator.errors == []
    assert creator.data["me"]["diamondWallet"] == {"balance": 7, "available": 7}
    assert creator.data["stream"]["earnings"] == 7
    assert creator.data["stream"]["leaderboard"] == [
        {"rank": 1, "user": {"subject": "viewer:ann"}, "total": 7}
    ]

    history = await graphql(
        "{ me { coinWallet { transactions(first: 10) { edges { node { amount kind } } } } } }",
        subject="viewer:ann",
    )
    edges = history.data["me"]["coinWallet"]["transactions"]["edges"]
    assert [e["node"] for e in edges] == [
        {"amount": -7, "kind": "GIFT_SENT"},
        {"amount": 100, "kind": "GRANT"},
    ]
    await assert_ledger_clean(economy)


async def test_a_replayed_gift_returns_the_first_result_and_spends_nothing_more(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Any,
    live_stream: Any,
    economy: Economy,
) -> None:
    rose = await gift("Rose", 1)
    viewer = await funded_viewer(10)
    live = await live_stream()
    variables = {
        "stream": to_global_id("LiveStream", live.stream.id),
        "gift": to_global_id("Gift", rose.id),
        "quantity": 3,
        "key": "combo-42",
    }
    first = (await graphql(SEND_GIFT, variables, subject=viewer.subject)).data["sendGift"]
    again = (await graphql(SEND_GIFT, variables, subject=viewer.subject)).data["sendGift"]
    assert first["replayed"] is False
    assert again["replayed"] is True
    assert again["giftSend"]["id"] == first["giftSend"]["id"]
    assert again["coinWallet"]["balance"] == 7

    changed = (await graphql(SEND_GIFT, {**variables, "quantity": 4}, subject=viewer.subject)).data[
        "sendGift"
    ]
    assert changed["giftSend"] is None
    assert changed["errors"] == [
        {
            "field": "idempotencyKey",
            "message": "this idempotency key was already used for a different gift",
            "code": "IDEMPOTENCY_CONFLICT",
        }
    ]
    assert changed["coinWallet"]["balance"] == 7

    # Keys belong to their sender: another viewer may use the same key for their own gift.
    other = await funded_viewer(5)
    theirs = (await graphql(SEND_GIFT, variables, subject=other.subject)).data["sendGift"]
    assert theirs["errors"] == []
    assert theirs["replayed"] is False
    assert theirs["giftSend"]["id"] != first["giftSend"]["id"]
    await assert_ledger_clean(economy)


async def test_200_concurrent_gifts_from_a_viewer_funded_for_100_make_exactly_100(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Any,
    live_stream: Any,
    economy: Economy,
    balance_of: Callable[[int], Awaitable[int]],
) -> None:
    rose = await gift("Rose", 1)
    viewer = await funded_viewer(100)
    live = await live_stream()
    stream_id = to_global_id("LiveStream", live.stream.id)
    gift_id = to_global_id("Gift", rose.id)

    results = await asyncio.gather(
        *(
            graphql(
                SEND_GIFT,
                {"stream": stream_id, "gift": gift_id, "quantity": 1, "key": f"race-{n}"},
                subject=viewer.subject,
            )
            for n in range(200)
        )
    )
    assert all(r.status == 200 and r.errors == [] for r in results)
    payloads = [r.data["sendGift"] for r in results]
    succeeded = [p for p in payloads if not p["errors"]]
    refused = [p for p in payloads if p["errors"]]
    assert len(succeeded) == 100
    assert len(refused) == 100
    assert {p["errors"][0]["code"] for p in refused} == {"INSUFFICIENT_COINS"}
    assert len({p["giftSend"]["id"] for p in succeeded}) == 100

    assert await balance_of(viewer.coin_account_id) == 0
    assert await balance_of(live.creator.diamond_account_id) == 100
    await assert_ledger_clean(economy)


async def test_many_viewers_gifting_one_hot_creator_are_all_credited(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Any,
    live_stream: Any,
    economy: Economy,
    balance_of: Callable[[int], Awaitable[int]],
) -> None:
    panda = await gift("Panda", 5)
    viewers = [await funded_viewer(50) for _ in range(20)]
    live = await live_stream()
    variables = {
        "stream": to_global_id("LiveStream", live.stream.id),
        "gift": to_global_id("Gift", panda.id),
        "quantity": 1,
    }
    results = await asyncio.gather(
        *(
            graphql(SEND_GIFT, {**variables, "key": f"hot-{n}"}, subject=viewer.subject)
            for viewer in viewers
            for n in range(10)
        )
    )
    assert all(r.data["sendGift"]["errors"] == [] for r in results)
    assert await balance_of(live.creator.diamond_account_id) == 200 * 5
    for viewer in viewers:
        assert await balance_of(viewer.coin_account_id) == 0
    await assert_ledger_clean(economy)


async def test_ending_a_stream_stops_gifts_and_keeps_its_earnings(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Any,
    economy: Economy,
) -> None:
    rose = await gift("Rose", 1)
    viewer = await funded_viewer(10)
    started = await graphql(
        'mutation { startStream(input: {title: "Short one"}) { stream { id } } }',
        subject="creator:dan",
        roles=["CREATOR"],
    )
    stream_id = started.data["startStream"]["stream"]["id"]
    gift_id = to_global_id("Gift", rose.id)
    await graphql(
        SEND_GIFT,
        {"stream": stream_id, "gift": gift_id, "quantity": 2, "key": "a"},
        subject=viewer.subject,
    )
    ended = await graphql(
        "mutation($id: ID!) { endStream(input: {streamId: $id}) "
        "{ stream { status endedAt earnings } errors { code } } }",
        {"id": stream_id},
        subject="creator:dan",
        roles=["CREATOR"],
    )
    assert ended.data["endStream"]["errors"] == []
    assert ended.data["endStream"]["stream"]["status"] == "ENDED"
    assert ended.data["endStream"]["stream"]["endedAt"] is not None
    assert ended.data["endStream"]["stream"]["earnings"] == 2

    late = await graphql(
        SEND_GIFT,
        {"stream": stream_id, "gift": gift_id, "quantity": 1, "key": "b"},
        subject=viewer.subject,
    )
    assert late.data["sendGift"]["errors"][0]["code"] == "STREAM_NOT_LIVE"
    assert late.data["sendGift"]["coinWallet"]["balance"] == 8
    live = await graphql("{ liveStreams { edges { node { id } } } }")
    assert live.data["liveStreams"]["edges"] == []
    await assert_ledger_clean(economy)
