"""The live root fields: `Subscription`, over graphql-transport-ws on `/graphql`.

`giftReceived` and `leaderboardChanged` are public, like the stream they watch; `walletChanged`
follows the caller's own wallets only (it takes no user: nobody can follow another's), and
`payoutStatusChanged` the caller's own payouts, or everyone's for FINANCE and ADMIN.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from economy import events
from economy.fanout import SubscriberTooSlow
from economy.stream_totals import read_running_total
from economy.streams import get_stream, leaderboard
from graph.context import Context
from graph.errors import ApiError, bad_input
from graph.global_ids import MalformedId, pk_of
from graph.live.types import (
    GiftReceived,
    LeaderboardPlace,
    LeaderboardUpdate,
    PayoutStatusUpdate,
    ReceivedGift,
    WalletUpdate,
)
from graph.live.updates import Snapshots, paced
from graph.loaders import Loaders
from graph.permissions import IsAuthenticated
from graph.scalars import BigInt
from graph.streams.types import MAX_LEADERBOARD
from graph.wallets.types import Asset, Wallet


def too_slow(exc: SubscriberTooSlow) -> ApiError:
    return ApiError("SLOW_SUBSCRIBER", f"this subscription {exc}; subscribe again")


def snapshots_of(info: Info[Context, None]) -> Snapshots | None:
    """Set when one execution serves many subscribers (`graph.live.feeds`)."""
    snapshots = getattr(info.context, "snapshots", None)
    return snapshots if isinstance(snapshots, Snapshots) else None


async def _stream_pk(info: Info[Context, None], stream_id: strawberry.ID) -> int:
    try:
        pk = pk_of(stream_id, "LiveStream")
    except MalformedId as exc:
        raise bad_input(f"streamId: {exc}") from None
    async with info.context.eco.db.read() as conn:
        if await get_stream(conn, pk) is None:
            raise bad_input("streamId: no such stream")
    return pk


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Gifts landing in a live stream, each with the stream's running total."
    )
    async def gift_received(
        self, info: Info[Context, None], stream_id: strawberry.ID
    ) -> AsyncGenerator[GiftReceived, None]:
        eco = info.context.eco
        pk = await _stream_pk(info, stream_id)
        snapshots = snapshots_of(info)
        with eco.events.subscribe(events.gift_topic(pk)) as subscription:
            async with eco.db.read() as conn:
                total = await read_running_total(conn, pk)
            tick = eco.settings.live_tick_ms / 1000
            try:
                async for batch in paced(subscription, tick, snapshots):
                    gifts = [
                        ReceivedGift.of(e, total.add(e.gift_send_id, e.diamonds))
                        for e in batch or ()
                        if isinstance(e, events.GiftReceived)
                    ]
                    if snapshots is not None and batch is None:
                        snapshots.answering = True
                    yield GiftReceived(
                        stream_id=stream_id, gifts=gifts, stream_total=BigInt(total.value)
                    )
            except SubscriberTooSlow as exc:
                raise too_slow(exc) from None

    @strawberry.subscription(
        description="A stream's top gifters: now, then again after gifts move it, at most "
        "once per throttle interval (DIAMONDS_LEADERBOARD_THROTTLE_MS)."
    )
    async def leaderboard_changed(
        self, info: Info[Context, None], stream_id: strawberry.ID, first: int = 10
    ) -> AsyncGenerator[LeaderboardUpdate, None]:
        if not 1 <= first <= MAX_LEADERBOARD:
            raise bad_input(f"'first' must be between 1 and {MAX_LEADERBOARD}, got {first}")
        eco = info.context.eco
        pk = await _stream_pk(info, stream_id)
        snapshots = snapshots_of(info)
        throttle = eco.settings.leaderboard_throttle_ms / 1000
        with eco.events.subscribe(events.gift_topic(pk)) as subscription:
            try:
                async for batch in paced(subscription, throttle, snapshots):
                    async with eco.db.read() as conn:
                        entries = await leaderboard(conn, pk, first)
                    if snapshots is not None and batch is None:
                        snapshots.answering = True
                    yield LeaderboardUpdate(
                        stream_id=stream_id, entries=[LeaderboardPlace.of(e) for e in entries]
                    )
            except SubscriberTooSlow as exc:
                raise too_slow(exc) from None

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="The caller's own coin and diamond wallets: first where each stands now "
        "(reason CURRENT), then as they move. Changes within one delivery tick come summed up "
        "in one message per wallet.",
    )
    async def wallet_changed(self, info: Info[Context, None]) -> AsyncGenerator[WalletUpdate, None]:
        context = info.context
        user = await context.user()
        tick = context.eco.settings.live_tick_ms / 1000
        with context.eco.events.subscribe(events.wallet_topic(user.id)) as subscription:
            try:
                async for batch in paced(subscription, tick):
                    if batch is None:  # first: where the wallets stand now
                        for account_id, held in (
                            (user.coin_account_id, Asset.COIN),
                            (user.diamond_account_id, Asset.DIAMOND),
                        ):
                            yield WalletUpdate(
                                wallet=Wallet.of(account_id, user.id, held),
                                change=BigInt(0),
                                reason="CURRENT",
                                transactions=0,
                            )
                        continue
                    changes: dict[tuple[int, str], list[events.WalletChanged]] = defaultdict(list)
                    for event in batch:
                        if isinstance(event, events.WalletChanged) and event.user_id == user.id:
                            changes[(event.account_id, event.asset)].append(event)
                    # Balances are read afresh for each message, not from an earlier one's cache.
                    context.loaders = Loaders(context.eco)
                    for (account_id, asset_name), moved in changes.items():
                        yield WalletUpdate(
                            wallet=Wallet.of(account_id, user.id, Asset(asset_name)),
                            change=BigInt(sum(e.change for e in moved)),
                            reason=moved[-1].reason,
                            transactions=len(moved),
                        )
            except SubscriberTooSlow as exc:
                raise too_slow(exc) from None

    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="The caller's own payouts changing status; every payout for FINANCE and ADMIN.",
    )
    async def payout_status_changed(
        self, info: Info[Context, None]
    ) -> AsyncGenerator[PayoutStatusUpdate, None]:
        context = info.context
        user = await context.user()
        sees_all = context.principal.sees_all_money
        topic = events.payout_topic(events.ALL_USERS if sees_all else user.id)
        with context.eco.events.subscribe(topic) as subscription:
            try:
                async for event in subscription:
                    if isinstance(event, events.PayoutStatusChanged) and (
                        sees_all or event.user_id == user.id
                    ):
                        yield PayoutStatusUpdate.of(event)
            except SubscriberTooSlow as exc:
                raise too_slow(exc) from None
