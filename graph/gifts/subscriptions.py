"""The gifts' subscription: `giftReceived`, the gifts landing in a live stream with its running
total. Public, like the stream it watches, and shared by its subscribers (`graph.live_feeds`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from economy import events
from economy.fanout import SubscriberTooSlow
from economy.stream_totals import read_running_total
from graph.context import Context
from graph.gifts.types import GiftReceived, ReceivedGift
from graph.live_feeds import paced, snapshots_of, too_slow
from graph.scalars import BigInt
from graph.streams.subscriptions import watched_stream_pk


@strawberry.type
class GiftSubscriptions:
    @strawberry.subscription(
        description="Gifts landing in a live stream, each with the stream's running total."
    )
    async def gift_received(
        self, info: Info[Context, None], stream_id: strawberry.ID
    ) -> AsyncGenerator[GiftReceived, None]:
        eco = info.context.eco
        pk = await watched_stream_pk(info, stream_id)
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
