"""The gifts' root fields: the catalog and coin bundles to read, `sendGift` to write."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from economy import catalog
from graph.context import Context
from graph.errors import bad_input
from graph.gifts.mutations.send_gift import SendGiftPayload, send_gift
from graph.gifts.types import CoinBundle, Gift
from graph.permissions import CanSendGifts
from kernel.errors import DomainError


@strawberry.type
class GiftQueries:
    @strawberry.field(description="Gifts that can be sent now, cheapest first.")
    async def gift_catalog(self, info: Info[Context, None]) -> list[Gift]:
        async with info.context.eco.db.read() as conn:
            return [Gift.of(g) for g in await catalog.list_gifts(conn)]

    @strawberry.field(description="Coin bundles on sale, with their price in `currency`.")
    async def coin_bundles(self, info: Info[Context, None], currency: str) -> list[CoinBundle]:
        try:
            async with info.context.eco.db.read() as conn:
                bundles = await catalog.list_coin_bundles(conn, currency)
        except DomainError as exc:
            raise bad_input(exc.message, argument="currency") from None
        return [CoinBundle.of(b) for b in bundles]


@strawberry.type
class GiftMutations:
    send_gift: SendGiftPayload | None = strawberry.mutation(
        resolver=send_gift,
        permission_classes=[CanSendGifts],
        description="Send a gift into a live stream: coins out, diamonds to the creator.",
    )
