"""Buying coins through the fake Stripe server over real HTTP: purchaseCoins makes a PaymentIntent,
Stripe's signed `payment_intent.succeeded` webhook credits the coins exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.stripe_server import FakeStripe
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.catalog import put_coin_bundle
from economy.purchases.setup import PurchaseService
from economy.purchases.tables import coin_purchases
from graph.global_ids import to_global_id
from graph.server import create_app
from providers.config import StripeConfig
from providers.stripe_payments import StripePayments

from .payout_fixtures import ledger_is_clean

Post = Callable[..., Awaitable[Any]]

PURCHASE = """
mutation($bundle: ID!, $currency: String!, $key: String!) {
  purchaseCoins(input: {bundleId: $bundle, currency: $currency, idempotencyKey: $key}) {
    purchase { id coins currency amount status clientSecret }
    replayed
    errors { field code message }
  }
}
"""


@dataclass
class AgeGateForTests:
    adult: bool = True

    async def may_buy(self, conn: AsyncConnection, user_id: int) -> tuple[bool, str]:
        return self.adult, "" if self.adult else "buyers must be 18 or older"


@pytest.fixture
async def stripe_fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as fake:
        yield fake


@pytest.fixture
def age_gate() -> AgeGateForTests:
    return AgeGateForTests()


@pytest.fixture
async def api(
    economy: Economy, stripe_fake: FakeStripe, age_gate: AgeGateForTests
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with coin purchases through the fake Stripe, which sends its webhooks back here."""
    payments = StripePayments(
        StripeConfig(
            api_key=stripe_fake.secret_key,
            api_base=stripe_fake.url,
            webhook_secret=stripe_fake.webhook_secret,
            timeout_seconds=2,
        )
    )
    purchases = PurchaseService(eco=economy, payments=payments, gate=age_gate, stripe=payments)
    async with TestClient(TestServer(create_app(economy, purchases=purchases))) as client:
        stripe_fake.webhook_urls.append(str(client.make_url("/webhooks/stripe")))
        yield client


@pytest.fixture
async def bundle(economy: Economy) -> str:
    async with economy.db.write() as conn:
        await put_coin_bundle(conn, 70, [("USD", 99), ("EUR", 95)])
    from economy.catalog import list_coin_bundles

    async with economy.db.read() as conn:
        found = await list_coin_bundles(conn, "USD")
    return to_global_id("CoinBundle", found[0].id)


async def coins_of(economy: Economy, subject: str) -> int:
    from ledger.accounts import read_balance

    user = await economy.users.ensure(subject)
    async with economy.db.read() as conn:
        return (await read_balance(conn, user.coin_account_id)).balance


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the webhook never arrived")


async def test_coins_arrive_once_when_stripe_confirms_the_payment(
    graphql: Post, api: Any, bundle: str, stripe_fake: FakeStripe, economy: Economy
) -> None:
    started = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "buy-1"}, subject="viewer:ann"
    )
    assert started.errors == [], started.body
    payload = started.data["purchaseCoins"]
    assert payload["errors"] == []
    purchase = payload["purchase"]
    assert (purchase["coins"], purchase["currency"], purchase["amount"]) == (70, "USD", 99)
    assert purchase["status"] == "PENDING"
    assert purchase["clientSecret"].startswith("pi_")
    assert await coins_of(economy, "viewer:ann") == 0

    intent_id = purchase["clientSecret"].split("_secret_")[0]
    stripe_fake.succeed_payment_intent(intent_id)

    async def credited() -> bool:
        return await coins_of(economy, "viewer:ann") == 70

    await until(credited)

    # Stripe delivers again (it does, at least once): nothing more is credited.
    event = next(e for e in stripe_fake.events if e["type"] == "payment_intent.succeeded")
    body = json.dumps(event).encode()
    again = await api.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": stripe_fake.sign(body)}
    )
    assert (await again.json())["received"] == [{"event": event["id"], "outcome": "duplicate"}]
    assert await coins_of(economy, "viewer:ann") == 70
    await ledger_is_clean(economy)


async def test_a_tampered_or_unsigned_payment_webhook_credits_nothing(
    graphql: Post, api: Any, bundle: str, stripe_fake: FakeStripe, economy: Economy
) -> None:
    started = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "buy-1"}, subject="viewer:ann"
    )
    intent = started.data["purchaseCoins"]["purchase"]["clientSecret"].split("_secret_")[0]
    forged = {
        "id": "evt_forged",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1,
        "data": {
            "object": {
                "id": intent,
                "amount": 99,
                "amount_received": 99,
                "currency": "usd",
                "metadata": {},
            }
        },
    }
    body = json.dumps(forged).encode()
    for headers in ({}, {"Stripe-Signature": stripe_fake.sign(body, secret="whsec_wrong")}):
        refused = await api.post("/webhooks/stripe", data=body, headers=headers)
        assert refused.status == 400
    assert await coins_of(economy, "viewer:ann") == 0


async def test_a_purchase_is_made_once_per_key(
    graphql: Post, api: Any, bundle: str, stripe_fake: FakeStripe, economy: Economy
) -> None:
    first = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "k"}, subject="viewer:ann"
    )
    again = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "k"}, subject="viewer:ann"
    )
    assert again.data["purchaseCoins"]["replayed"] is True
    assert again.data["purchaseCoins"]["purchase"] == first.data["purchaseCoins"]["purchase"]
    assert len(stripe_fake.payment_intents) == 1
    other = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "EUR", "key": "k"}, subject="viewer:ann"
    )
    assert [e["code"] for e in other.data["purchaseCoins"]["errors"]] == ["IDEMPOTENCY_CONFLICT"]


async def test_a_declined_payment_credits_nothing(
    graphql: Post, api: Any, bundle: str, stripe_fake: FakeStripe, economy: Economy
) -> None:
    started = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "k"}, subject="viewer:ann"
    )
    intent = started.data["purchaseCoins"]["purchase"]["clientSecret"].split("_secret_")[0]
    stripe_fake.fail_payment_intent(intent)

    async def failed() -> bool:
        from economy.purchases.tables import coin_purchases

        async with economy.db.read() as conn:
            from sqlalchemy import select

            status = await conn.scalar(select(coin_purchases.c.status))
        return bool(status == "FAILED")

    await until(failed)
    assert await coins_of(economy, "viewer:ann") == 0


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"bundle": "junk", "currency": "USD"}, "INVALID_ID"),
        ({"bundle": to_global_id("CoinBundle", 999), "currency": "USD"}, "BUNDLE_NOT_FOUND"),
        ({"currency": "GBP"}, "BUNDLE_NOT_FOUND"),
        ({"currency": "dollars"}, "INVALID_CURRENCY"),
    ],
)
async def test_bad_purchases_are_typed_errors_and_write_nothing(
    variables: dict[str, str],
    code: str,
    graphql: Post,
    api: Any,
    bundle: str,
    stripe_fake: FakeStripe,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    before = await row_counts("coin_purchases")
    response = await graphql(
        PURCHASE, {"bundle": bundle, "key": "k", **variables}, subject="viewer:ann"
    )
    assert [e["code"] for e in response.data["purchaseCoins"]["errors"]] == [code]
    assert await row_counts("coin_purchases") == before
    assert stripe_fake.payment_intents == {}


async def test_minors_cannot_buy_coins(
    graphql: Post,
    api: Any,
    bundle: str,
    age_gate: AgeGateForTests,
    stripe_fake: FakeStripe,
) -> None:
    age_gate.adult = False
    response = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "k"}, subject="viewer:kid"
    )
    assert response.data["purchaseCoins"]["errors"] == [
        {"field": None, "code": "AGE_UNVERIFIED", "message": "buyers must be 18 or older"}
    ]
    assert stripe_fake.payment_intents == {}


async def test_when_stripe_is_down_the_same_key_retries_without_a_second_payment(
    graphql: Post, api: Any, bundle: str, stripe_fake: FakeStripe
) -> None:
    stripe_fake.faults.add(
        Fault(kind=FaultKind.SERVER_ERROR, method="POST", path="/v1/payment_intents")
    )
    down = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "k"}, subject="viewer:ann"
    )
    assert [e["code"] for e in down.data["purchaseCoins"]["errors"]] == [
        "PAYMENT_PROVIDER_UNAVAILABLE"
    ]
    back = await graphql(
        PURCHASE, {"bundle": bundle, "currency": "USD", "key": "k"}, subject="viewer:ann"
    )
    assert back.data["purchaseCoins"]["errors"] == []
    assert back.data["purchaseCoins"]["purchase"]["status"] == "PENDING"
    assert len(stripe_fake.payment_intents) == 1


async def test_racing_identical_purchases_make_one_purchase_and_the_others_say_replayed(
    graphql: Post, api: Any, bundle: str, stripe_fake: FakeStripe, economy: Economy
) -> None:
    """Eight identical purchaseCoins at once: one makes the purchase (replayed: false), every
    other one replays it (replayed: true) with the same purchase."""
    variables = {"bundle": bundle, "currency": "USD", "key": "same-key"}
    answers = await asyncio.gather(
        *(graphql(PURCHASE, variables, subject="viewer:ann") for _ in range(8))
    )
    payloads = [answer.data["purchaseCoins"] for answer in answers]
    assert all(p["errors"] == [] for p in payloads), payloads
    assert sorted(p["replayed"] for p in payloads) == [False] + [True] * 7
    assert len({p["purchase"]["id"] for p in payloads}) == 1
    assert len(stripe_fake.payment_intents) == 1
    async with economy.db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(coin_purchases)) == 1
