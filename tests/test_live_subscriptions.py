"""The live subscriptions over graphql-transport-ws on the real server: gifts in a stream with
the running total, the leaderboard, the caller's wallets and payouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from economy.app import Economy
from economy.events import gift_topic, payout_topic, publish_payout_status
from graph.global_ids import to_global_id
from tests.live_fixtures import (
    GIFT_RECEIVED,
    LEADERBOARD_CHANGED,
    PAYOUT_STATUS_CHANGED,
    WALLET_CHANGED,
    LiveClient,
    connect,
    gift_sender,
    listening,
    payout_changed,
)

Connect = Callable[..., Awaitable[LiveClient]]


@pytest.fixture
async def live(api: TestClient[Any, Any]) -> AsyncIterator[Connect]:
    """`await live(token)`: an acknowledged connection to the test server."""
    clients: list[LiveClient] = []

    async def open_one(token: str | None = None, **options: Any) -> LiveClient:
        client = await connect(api.session, str(api.make_url("/graphql")), token, **options)
        clients.append(client)
        return client

    yield open_one
    for client in clients:
        await client.ws.close()


@pytest.fixture
def send(graphql: Any) -> Callable[..., Awaitable[dict[str, Any]]]:
    return gift_sender(graphql)


async def test_gift_received_brings_each_gift_with_the_senders_name_and_the_running_total(
    economy: Economy, live: Connect, live_stream: Any, gift: Any, funded_viewer: Any, send: Any
) -> None:
    stream = (await live_stream()).stream
    rose, panda = await gift("Rose", 1), await gift("Panda", 5)
    ann = await funded_viewer(100, "viewer:ann")
    watcher = await live()  # anonymous: a stream's gifts are public
    stream_id = to_global_id("LiveStream", stream.id)

    op = await watcher.subscribe(GIFT_RECEIVED, {"stream": stream_id})
    first = (await watcher.data_for(op))["giftReceived"]
    await send(ann.subject, stream_id, to_global_id("Gift", rose.id), 3)
    second = (await watcher.data_for(op))["giftReceived"]
    await send(ann.subject, stream_id, to_global_id("Gift", panda.id), 2)
    third = (await watcher.data_for(op))["giftReceived"]

    assert first == {"streamId": stream_id, "streamTotal": 0, "gifts": []}
    [landed] = second["gifts"]
    assert landed["gift"] == {"name": "Rose", "coins": 1}
    assert (landed["senderName"], landed["quantity"], landed["coins"]) == ("viewer:ann", 3, 3)
    assert (landed["diamonds"], landed["streamTotal"], second["streamTotal"]) == (3, 3, 3)
    assert datetime.fromisoformat(landed["committedAt"]) <= datetime.now(UTC)
    [landed] = third["gifts"]
    assert (landed["gift"]["name"], landed["diamonds"], landed["streamTotal"]) == ("Panda", 10, 13)


async def test_a_late_subscriber_starts_from_the_total_so_far_and_counts_each_gift_once(
    economy: Economy, live: Connect, live_stream: Any, gift: Any, funded_viewer: Any, send: Any
) -> None:
    stream = (await live_stream()).stream
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    ann = await funded_viewer(100)
    stream_id = to_global_id("LiveStream", stream.id)
    early, late = await live(), await live()
    early_op = await early.subscribe(GIFT_RECEIVED, {"stream": stream_id})
    await early.data_for(early_op)
    await send(ann.subject, stream_id, rose, 4)
    await early.data_for(early_op)

    late_op = await late.subscribe(GIFT_RECEIVED, {"stream": stream_id})  # joins the shared feed
    snapshot = (await late.data_for(late_op))["giftReceived"]
    await send(ann.subject, stream_id, rose, 1)
    seen_early = (await early.data_for(early_op))["giftReceived"]
    seen_late = (await late.data_for(late_op))["giftReceived"]

    assert (snapshot["gifts"], snapshot["streamTotal"]) == ([], 4)
    assert seen_early == seen_late
    assert seen_late["streamTotal"] == 5
    # Both are served by one shared execution: one subscription to the stream's gifts.
    assert economy.events.hub.subscribers(gift_topic(stream.id)) == 1


async def test_an_unshared_gift_subscription_sees_the_same_gifts(
    economy: Economy, live: Connect, live_stream: Any, gift: Any, funded_viewer: Any, send: Any
) -> None:
    stream = (await live_stream()).stream
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    ann = await funded_viewer(10)
    stream_id = to_global_id("LiveStream", stream.id)
    watcher = await live()
    # Selected through a fragment, the field runs in an execution of its own, not a shared one.
    op = await watcher.subscribe(
        "subscription($s: ID!) { ...on Subscription { giftReceived(streamId: $s) "
        "{ streamTotal gifts { quantity } } } }",
        {"s": stream_id},
    )
    message = await watcher.next_for(op)
    assert message["payload"]["data"]["giftReceived"] == {"streamTotal": 0, "gifts": []}
    other = await live()
    shared_op = await other.subscribe(GIFT_RECEIVED, {"stream": stream_id})
    await other.data_for(shared_op)
    assert economy.events.hub.subscribers(gift_topic(stream.id)) == 2
    await send(ann.subject, stream_id, rose, 2)
    data = await watcher.data_for(op)
    shared = (await other.data_for(shared_op))["giftReceived"]
    assert data["giftReceived"] == {"streamTotal": 2, "gifts": [{"quantity": 2}]}
    assert (shared["streamTotal"], [g["quantity"] for g in shared["gifts"]]) == (2, [2])


async def test_gift_received_refuses_an_unknown_stream(live: Connect) -> None:
    watcher = await live()
    op = await watcher.subscribe(GIFT_RECEIVED, {"stream": to_global_id("LiveStream", 999)})
    message = await watcher.next_for(op)
    assert message["type"] == "next"
    assert message["payload"]["data"] is None
    assert message["payload"]["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await watcher.next_for(op))["type"] == "complete"


async def test_leaderboard_changed_sends_the_board_now_and_after_gifts(
    economy: Economy, live: Connect, live_stream: Any, gift: Any, funded_viewer: Any, send: Any
) -> None:
    stream = (await live_stream()).stream
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    ann, bob = await funded_viewer(50, "viewer:ann"), await funded_viewer(50, "viewer:bob")
    stream_id = to_global_id("LiveStream", stream.id)
    watcher = await live()
    op = await watcher.subscribe(LEADERBOARD_CHANGED, {"stream": stream_id})
    empty = (await watcher.data_for(op))["leaderboardChanged"]

    await send(ann.subject, stream_id, rose, 2)
    after_ann = (await watcher.data_for(op))["leaderboardChanged"]
    await send(bob.subject, stream_id, rose, 7)
    after_bob = (await watcher.data_for(op))["leaderboardChanged"]

    assert empty == {"streamId": stream_id, "entries": []}
    assert after_ann["entries"] == [
        {
            "rank": 1,
            "user": {"id": to_global_id("User", ann.id), "displayName": "viewer:ann"},
            "total": 2,
        }
    ]
    assert [(e["user"]["displayName"], e["total"]) for e in after_bob["entries"]] == [
        ("viewer:bob", 7),
        ("viewer:ann", 2),
    ]


async def test_leaderboard_changed_is_throttled_in_a_storm(
    start_economy: Any, live_stream: Any, gift: Any, funded_viewer: Any
) -> None:
    from aiohttp.test_utils import TestServer

    from economy.gifting import send_gift
    from graph.server import create_app
    from tests.live_fixtures import connect as open_live

    eco = await start_economy(leaderboard_throttle_ms=400)
    stream = (await live_stream()).stream
    rose = await gift("Rose", 1)
    viewers = [await funded_viewer(10) for _ in range(6)]
    async with TestClient(TestServer(create_app(eco))) as client:
        watcher = await open_live(client.session, str(client.make_url("/graphql")))
        op = await watcher.subscribe(
            LEADERBOARD_CHANGED, {"stream": to_global_id("LiveStream", stream.id)}
        )
        await watcher.data_for(op)
        for n, viewer in enumerate(viewers):
            await send_gift(
                eco, viewer, stream_id=stream.id, gift_id=rose.id, quantity=1, key=f"t{n}"
            )
            await asyncio.sleep(0.05)
        boards = []
        try:
            while True:
                boards.append((await watcher.data_for(op, within=1.0))["leaderboardChanged"])
        except TimeoutError:
            pass
        await watcher.ws.close()

    # Six gifts over ~0.3 s: the first at once, the rest together after the throttle interval.
    assert 1 <= len(boards) <= 3
    assert len(boards[-1]["entries"]) == 5


async def test_wallet_changed_follows_only_the_callers_own_wallets(
    economy: Economy,
    live: Connect,
    live_stream: Any,
    gift: Any,
    funded_viewer: Any,
    send: Any,
    token_for: Any,
) -> None:
    live_now = await live_stream()
    stream_id = to_global_id("LiveStream", live_now.stream.id)
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    ann, bob = await funded_viewer(100, "viewer:ann"), await funded_viewer(100, "viewer:bob")
    anns = await live(token_for("viewer:ann", "VIEWER"))
    creators = await live(token_for(live_now.creator.subject, "CREATOR"))
    ann_op = await anns.subscribe(WALLET_CHANGED)
    creator_op = await creators.subscribe(WALLET_CHANGED)
    ann_now = [(await anns.data_for(ann_op))["walletChanged"] for _ in range(2)]
    creator_now = [(await creators.data_for(creator_op))["walletChanged"] for _ in range(2)]

    await send(bob.subject, stream_id, rose, 5)  # not Ann's money: she hears nothing of it
    creator_first = (await creators.data_for(creator_op))["walletChanged"]
    await anns.nothing_for(ann_op)
    await send(ann.subject, stream_id, rose, 3)
    ann_update = (await anns.data_for(ann_op))["walletChanged"]

    assert ann_now == [
        {
            "change": 0,
            "reason": "CURRENT",
            "transactions": 0,
            "wallet": {"asset": asset, "balance": balance, "available": balance},
        }
        for asset, balance in (("COIN", 100), ("DIAMOND", 0))
    ]
    assert [(u["reason"], u["wallet"]["balance"]) for u in creator_now] == [
        ("CURRENT", 0),
        ("CURRENT", 0),
    ]
    assert creator_first == {
        "change": 5,
        "reason": "GIFT",
        "transactions": 1,
        "wallet": {"asset": "DIAMOND", "balance": 5, "available": 5},
    }
    assert ann_update == {
        "change": -3,
        "reason": "GIFT",
        "transactions": 1,
        "wallet": {"asset": "COIN", "balance": 97, "available": 97},
    }
    creator_second = (await creators.data_for(creator_op))["walletChanged"]
    assert (creator_second["change"], creator_second["wallet"]["balance"]) == (3, 8)


async def test_wallet_changed_reports_a_grant(
    economy: Economy, live: Connect, token_for: Any, graphql: Any
) -> None:
    await economy.users.ensure("viewer:carol")
    client = await live(token_for("viewer:carol", "VIEWER"))
    op = await client.subscribe(WALLET_CHANGED)
    for _ in range(2):
        assert (await client.data_for(op))["walletChanged"]["reason"] == "CURRENT"
    granted = await graphql(
        'mutation { grantCoins(input: {subject: "viewer:carol", coins: 40, reason: "promo", '
        'idempotencyKey: "g1"}) { errors { code } } }',
        subject="admin:live",
        roles=["ADMIN"],
    )
    assert granted.data["grantCoins"]["errors"] == []
    update = (await client.data_for(op))["walletChanged"]
    assert update == {
        "change": 40,
        "reason": "GRANT",
        "transactions": 1,
        "wallet": {"asset": "COIN", "balance": 40, "available": 40},
    }


async def test_payout_status_changed_reaches_the_owner_and_finance_only(
    economy: Economy, live: Connect, token_for: Any
) -> None:
    ann = await economy.users.ensure("creator:ann")
    bob = await economy.users.ensure("creator:bob")
    await economy.users.ensure("finance:fay")
    anns = await live(token_for("creator:ann", "CREATOR"))
    bobs = await live(token_for("creator:bob", "CREATOR"))
    finance = await live(token_for("finance:fay", "FINANCE"))
    ops = [await c.subscribe(PAYOUT_STATUS_CHANGED) for c in (anns, bobs, finance)]
    await listening(economy, payout_topic(ann.id))
    await listening(economy, payout_topic(bob.id))
    await listening(economy, payout_topic(0))
    at = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

    publish_payout_status(economy.events, payout_changed(7, ann.id, "PAID", at))
    publish_payout_status(economy.events, payout_changed(8, bob.id, "FAILED", at))

    expected_ann = {
        "payoutId": to_global_id("Payout", 7),
        "userId": to_global_id("User", ann.id),
        "status": "PAID",
        "at": "2025-05-01T12:00:00+00:00",
    }
    assert (await anns.data_for(ops[0]))["payoutStatusChanged"] == expected_ann
    assert (await bobs.data_for(ops[1]))["payoutStatusChanged"]["status"] == "FAILED"
    seen = [(await finance.data_for(ops[2]))["payoutStatusChanged"] for _ in range(2)]
    assert [s["status"] for s in seen] == ["PAID", "FAILED"]
    await anns.nothing_for(ops[0])
