"""`purchaseCoins`: start buying a coin bundle; the coins arrive when the payment succeeds."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from economy.purchases.service import purchase_coins
from graph.context import Context
from graph.errors import ApiError, refusals_as
from graph.global_ids import id_argument
from graph.purchases.types import CoinPurchase


@strawberry.enum
class PurchaseCoinsErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    BUNDLE_NOT_FOUND = "BUNDLE_NOT_FOUND"
    AGE_UNVERIFIED = "AGE_UNVERIFIED"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    PAYMENT_PROVIDER_UNAVAILABLE = "PAYMENT_PROVIDER_UNAVAILABLE"
    PAYMENT_REFUSED = "PAYMENT_REFUSED"


@strawberry.type
class PurchaseCoinsError:
    field: str | None
    message: str
    code: PurchaseCoinsErrorCode


@strawberry.input
class PurchaseCoinsInput:
    bundle_id: strawberry.ID
    currency: str
    idempotency_key: str


@strawberry.type
class PurchaseCoinsPayload:
    purchase: CoinPurchase | None
    replayed: bool
    errors: list[PurchaseCoinsError]


@refusals_as(
    PurchaseCoinsPayload, PurchaseCoinsError, PurchaseCoinsErrorCode, purchase=None, replayed=False
)
async def purchase_coins_mutation(
    info: Info[Context, None], input: PurchaseCoinsInput
) -> PurchaseCoinsPayload:
    service = info.context.purchases
    if service is None:
        raise ApiError("PURCHASES_UNAVAILABLE", "coin purchases are not configured here")
    buyer = await info.context.user()
    started = await purchase_coins(
        service.eco,
        service.payments,
        service.gate,
        buyer,
        bundle_id=id_argument(input.bundle_id, "CoinBundle", "bundleId"),
        currency=input.currency,
        key=input.idempotency_key,
    )
    return PurchaseCoinsPayload(
        purchase=CoinPurchase.of(started.purchase), replayed=started.replayed, errors=[]
    )
