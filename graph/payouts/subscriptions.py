"""The payouts' subscription: `payoutStatusChanged`, the caller's own payouts changing status, or
every payout for FINANCE and ADMIN.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from economy import events
from economy.fanout import SubscriberTooSlow
from graph.context import Context
from graph.live_feeds import too_slow
from graph.payouts.types import PayoutStatusUpdate
from graph.permissions import IsAuthenticated


@strawberry.type
class PayoutSubscriptions:
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
