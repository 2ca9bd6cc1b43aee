"""GraphQL type of a coin purchase: the bundle bought, its price, its status, and the client
secret the app hands to the payment sheet (shown to the buyer only)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from economy.purchases.service import Purchase
from graph.global_ids import Node, to_global_id
from graph.scalars import BigInt, utc


@strawberry.type(description="Coins bought through the payment provider.")
class CoinPurchase(Node):
    id: strawberry.ID
    coins: int
    currency: str
    amount: BigInt = strawberry.field(description="The price, in minor units of `currency`.")
    status: str = strawberry.field(
        description="PENDING until the payment provider confirms; then SUCCEEDED (coins "
        "credited), FAILED, CANCELED, or MISMATCH (paid amount differs; nothing credited)."
    )
    client_secret: str | None = strawberry.field(
        description="For the app's payment sheet (Stripe's PaymentIntent client secret)."
    )
    created_at: datetime

    @classmethod
    def of(cls, purchase: Purchase) -> CoinPurchase:
        return cls(
            id=to_global_id("CoinPurchase", purchase.id),
            coins=purchase.coins,
            currency=purchase.currency,
            amount=BigInt(purchase.amount_minor),
            status=purchase.status,
            client_secret=purchase.client_secret,
            created_at=utc(purchase.created_at),
        )
