"""Provider pacing: the token bucket holds the rate it is given, the pacer the requests in
flight, and the Stripe and PayPal settings that size them are read and checked."""

from __future__ import annotations

import asyncio
import time

import pytest

from providers.config import StripeConfig
from providers.errors import ProviderConfigError
from providers.pacing import RequestPacer, TokenBucket
from providers.paypal import PayPalConfig


async def test_the_bucket_spends_its_burst_then_keeps_the_rate() -> None:
    bucket = TokenBucket(200, burst=10)
    started = time.monotonic()
    for _ in range(10):
        await bucket.take()
    assert time.monotonic() - started < 0.04  # the burst is there at once
    await asyncio.gather(*(bucket.take() for _ in range(40)))
    elapsed = time.monotonic() - started
    assert 40 / 200 * 0.9 <= elapsed < 1.0  # 40 more at 200 a second: about 0.2 s


async def test_the_pacer_never_has_more_in_flight_than_it_allows() -> None:
    pacer = RequestPacer(3, per_second=None)
    in_flight = most = 0

    async def one() -> None:
        nonlocal in_flight, most
        async with pacer.slot():
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(one() for _ in range(12)))
    assert most == 3


def test_bucket_and_pacer_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="per_second must be positive"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="concurrency must be at least 1"):
        RequestPacer(0)


def test_stripe_reads_its_pacing_from_the_environment() -> None:
    base = {"DIAMONDS_STRIPE_API_KEY": "sk_test_123"}
    default = StripeConfig.from_env(base)
    assert (default.max_concurrent_requests, default.requests_per_second) == (16, 100.0)
    tuned = StripeConfig.from_env(
        {
            **base,
            "DIAMONDS_STRIPE_MAX_CONCURRENT_REQUESTS": "4",
            "DIAMONDS_STRIPE_REQUESTS_PER_SECOND": "25",
        }
    )
    assert (tuned.max_concurrent_requests, tuned.requests_per_second) == (4, 25.0)
    with pytest.raises(ProviderConfigError) as refused:
        StripeConfig.from_env(
            {
                **base,
                "DIAMONDS_STRIPE_MAX_CONCURRENT_REQUESTS": "0",
                "DIAMONDS_STRIPE_REQUESTS_PER_SECOND": "-1",
            }
        )
    assert "MAX_CONCURRENT_REQUESTS" in str(refused.value)
    assert "REQUESTS_PER_SECOND" in str(refused.value)


def test_paypal_reads_its_rate_from_the_environment() -> None:
    base = {"DIAMONDS_PAYPAL_CLIENT_ID": "id", "DIAMONDS_PAYPAL_CLIENT_SECRET": "secret"}
    assert PayPalConfig.from_env(base).requests_per_second == 0
    tuned = PayPalConfig.from_env({**base, "DIAMONDS_PAYPAL_REQUESTS_PER_SECOND": "30"})
    assert tuned.requests_per_second == 30
    with pytest.raises(ProviderConfigError):
        PayPalConfig.from_env({**base, "DIAMONDS_PAYPAL_REQUESTS_PER_SECOND": "fast"})
