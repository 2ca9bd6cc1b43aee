"""The purchases' root fields: `purchaseCoins`."""

from __future__ import annotations

import strawberry

from graph.permissions import IsAuthenticated
from graph.purchases.mutations.purchase_coins import PurchaseCoinsPayload, purchase_coins_mutation


@strawberry.type
class PurchaseMutations:
    purchase_coins: PurchaseCoinsPayload | None = strawberry.mutation(
        resolver=purchase_coins_mutation,
        permission_classes=[IsAuthenticated],
        description="Buy a coin bundle: returns the payment's client secret; the coins are "
        "credited once the payment provider confirms the payment.",
    )
