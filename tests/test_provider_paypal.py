"""The PayPal provider against the fake PayPal server over real HTTP: batches named after our
payout, one payment however often it is sent, PayPal's statuses mapped, failures typed, webhooks
verified, and the synchronous SDK kept off the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.paypal_server import (
    ErrorRule,
    FakePayPal,
    FakePayPalSettings,
    paypal_time,
    sign_delivery,
)

from providers.base import Payee, PayoutInstruction, PayoutProvider, PayoutResult, PayoutState
from providers.errors import (
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnknownOutcome,
    WebhookVerificationError,
)
from providers.paypal import (
    PayPalConfig,
    PayPalProvider,
    format_amount,
    result_from_batch,
)
from providers.paypal_signature import CERT_UNUSABLE, cert_url_allowed
from providers.retry import RetryPolicy, submit_with_retries
from providers.testing import (
    Delivery,
    LostAnswer,
    Outcome,
    ProviderConformance,
    ProviderSandbox,
    Signing,
)

LOCAL_CERTS = ("http://127.0.0.1",)


def config_for(fake: FakePayPal, **overrides: Any) -> PayPalConfig:
    options: dict[str, Any] = {
        "client_id": fake.settings.client_id,
        "client_secret": fake.settings.client_secret,
        "api_base": fake.url,
        "webhook_id": fake.settings.webhook_id,
        "cert_hosts": LOCAL_CERTS,
        "timeout_seconds": 2.0,
        **overrides,
    }
    return PayPalConfig(**options)


def instruction(
    payout_id: str = "po-1",
    amount_minor: int = 1234,
    currency: str = "USD",
    email: str | None = "creator@example.com",
) -> PayoutInstruction:
    return PayoutInstruction(
        payout_id=payout_id,
        idempotency_key=f"payout:{payout_id}",
        amount_minor=amount_minor,
        currency=currency,
        payee=Payee("Creator", "US", {"email": email}),
        description="Diamonds cash-out",
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal() as server:
        yield server


@pytest.fixture
async def paypal(fake: FakePayPal) -> AsyncIterator[PayPalProvider]:
    provider = PayPalProvider(config_for(fake))
    yield provider
    await provider.close()


def posts(fake: FakePayPal) -> int:
    return sum(
        1
        for method, path in fake.requests
        if (method, path[:20]) == ("POST", "/v1/payments/payouts")
    )


# -- the conformance suite every provider passes ------------------------------------------------


@lru_cache(maxsize=1)
def someone_elses_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakePayPalSandbox(ProviderSandbox):
    """The conformance suite's handle on the fake PayPal server."""

    failure_code = "RECEIVER_ACCOUNT_LOCKED"

    def __init__(self, fake: FakePayPal) -> None:
        self.fake = fake

    async def settle(self, result: PayoutResult, outcome: Outcome) -> None:
        moves = {
            Outcome.PAID: ["SUCCESS"],
            Outcome.FAILED: ["FAILED"],
            Outcome.RETURNED: ["SUCCESS", "RETURNED"],
        }[outcome]
        for status in moves:
            error = self.failure_code if status == "FAILED" else None
            self.fake.set_payout_status(result.payout_id, status, error=error)

    async def payouts_at_provider(self, payout_id: str) -> int:
        return sum(1 for b in self.fake.batches.values() if b.sender_batch_id == payout_id)

    async def lose_next_answer(self, how: LostAnswer) -> None:
        kind = FaultKind.TIMEOUT if how is LostAnswer.TIMEOUT else FaultKind.DROP
        self.fake.add_fault(Fault(kind=kind, method="POST", path="/v1/payments/payouts"))

    async def restore(self) -> None:
        self.fake.faults.clear()

    async def webhook(self, result: PayoutResult, outcome: Outcome, signing: Signing) -> Delivery:
        body = json.dumps(self.fake.event_for_item(self.fake.item_of(result.payout_id))).encode()
        if signing is Signing.WRONG_SECRET:
            headers = sign_delivery(
                someone_elses_key(),
                body,
                webhook_id=self.fake.settings.webhook_id,
                cert_url=self.fake.cert_url,
            )
        elif signing is Signing.STALE:
            hour_ago = paypal_time(datetime.now(UTC) - timedelta(hours=1))
            headers = self.fake.sign(body, transmission_time=hour_ago)
        else:
            headers = self.fake.sign(body)
        return headers, body


class TestPayPalConformance(ProviderConformance):
    @pytest_asyncio.fixture
    async def fake(self) -> AsyncIterator[FakePayPal]:
        async with FakePayPal() as server:
            yield server

    @pytest_asyncio.fixture
    async def provider(  # type: ignore[override] # fixtures take the fake
        self, fake: FakePayPal
    ) -> AsyncIterator[PayoutProvider]:
        provider = PayPalProvider(config_for(fake, timeout_seconds=0.8))
        yield provider
        await provider.close()

    @pytest.fixture
    def payee(self) -> Payee:
        return Payee("Creator", "US", {"email": "creator@example.com"})

    @pytest_asyncio.fixture
    async def sandbox(  # type: ignore[override] # fixtures take the fake
        self, fake: FakePayPal
    ) -> AsyncIterator[ProviderSandbox]:
        yield FakePayPalSandbox(fake)

    @pytest_asyncio.fixture
    async def bad_credentials_provider(  # type: ignore[override] # fixtures take the fake
        self, fake: FakePayPal
    ) -> AsyncIterator[PayoutProvider]:
        provider = PayPalProvider(config_for(fake, client_secret="not-the-secret"))
        yield provider
        await provider.close()

    async def test_looking_up_a_payout_never_made_says_not_found(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        """Replaces the suite's test: PayPal has no search by sender_batch_id, so it cannot prove
        a payout was never made. The lookup says UNKNOWN (never PayoutNotFound, which would
        claim nothing was paid) and creates nothing; submitting again then pays exactly once,
        or finds the batch that exists. The pipeline does exactly that with an UNKNOWN answer."""
        never = new_instruction()
        found = await provider.lookup(never.payout_id, None)
        assert found.state is PayoutState.UNKNOWN
        assert await sandbox.payouts_at_provider(never.payout_id) == 0
        submitted = await provider.submit(never)
        assert submitted.state is PayoutState.PENDING
        assert await sandbox.payouts_at_provider(never.payout_id) == 1


# -- submitting -------------------------------------------------------------------------------


async def test_submit_creates_one_batch_named_after_the_payout(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    result = await paypal.submit(instruction())

    batch = fake.batch_of("po-1")
    assert batch is not None
    assert result.state is PayoutState.PENDING
    assert result.provider_reference == batch.payout_batch_id
    assert result.raw_status == "PENDING"
    item = fake.item_of("po-1").item
    assert item["amount"] == {"value": "12.34", "currency": "USD"}
    assert item["receiver"] == "creator@example.com"
    assert item["sender_item_id"] == "po-1"


async def test_a_rerun_of_the_same_payout_finds_the_first_batch_and_pays_once(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    first = await paypal.submit(instruction())
    again = await paypal.submit(instruction())
    restarted = PayPalProvider(config_for(fake))
    try:
        after_restart = await restarted.submit(instruction())
    finally:
        await restarted.close()

    assert len(fake.batches) == 1
    assert posts(fake) == 3  # PayPal refused the two re-runs: same sender_batch_id
    assert first.provider_reference == again.provider_reference == after_restart.provider_reference
    assert again.state is after_restart.state is PayoutState.PENDING


@pytest.mark.parametrize(
    ("amount_minor", "currency", "sent"),
    [
        (1234, "USD", "12.34"),
        (5, "USD", "0.05"),
        (100, "USD", "1.00"),
        (100_000_099, "EUR", "1000000.99"),
        (500, "JPY", "500"),
        (12_300, "HUF", "123"),
    ],
)
async def test_amounts_go_out_as_exact_decimal_strings(
    fake: FakePayPal, paypal: PayPalProvider, amount_minor: int, currency: str, sent: str
) -> None:
    assert format_amount(amount_minor, currency) == sent
    await paypal.submit(instruction(amount_minor=amount_minor, currency=currency))
    assert fake.item_of("po-1").item["amount"] == {"value": sent, "currency": currency}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount_minor": 0}, "INVALID_AMOUNT"),
        ({"amount_minor": -100}, "INVALID_AMOUNT"),
        ({"amount_minor": 12_345, "currency": "HUF"}, "INVALID_AMOUNT"),
        ({"currency": "XYZ"}, "CURRENCY_NOT_SUPPORTED"),
        ({"email": None}, "PAYEE_EMAIL_MISSING"),
    ],
)
async def test_an_instruction_paypal_cannot_pay_is_refused_before_anything_is_sent(
    fake: FakePayPal, paypal: PayPalProvider, change: dict[str, Any], code: str
) -> None:
    with pytest.raises(PermanentProviderError) as refused:
        await paypal.submit(instruction(**change))
    assert refused.value.code == code
    assert fake.requests == []


# -- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "state", "raw", "code"),
    [
        ([], PayoutState.PENDING, "PENDING", None),
        ([("SUCCESS", None)], PayoutState.PAID, "SUCCESS", None),
        ([("FAILED", None)], PayoutState.FAILED, "FAILED", "RECEIVER_ACCOUNT_LOCKED"),
        (
            [("FAILED", "RECEIVING_LIMIT_EXCEEDED")],
            PayoutState.FAILED,
            "FAILED",
            "RECEIVING_LIMIT_EXCEEDED",
        ),
        ([("BLOCKED", None)], PayoutState.FAILED, "BLOCKED", "RISK_DECLINE"),
        ([("ONHOLD", None)], PayoutState.PENDING, "ONHOLD", None),
        # Unclaimed money is taken back (canceled) before it is reported returned.
        ([("UNCLAIMED", None)], PayoutState.RETURNED, "RETURNED", "RECEIVER_UNREGISTERED"),
        (
            [("UNCLAIMED", None), ("RETURNED", None)],
            PayoutState.RETURNED,
            "RETURNED",
            "RECEIVER_UNREGISTERED",
        ),
        ([("SUCCESS", None), ("RETURNED", None)], PayoutState.RETURNED, "RETURNED", "RETURNED"),
        ([("SUCCESS", None), ("REFUNDED", None)], PayoutState.RETURNED, "REFUNDED", "REFUNDED"),
        ([("SUCCESS", None), ("REVERSED", None)], PayoutState.RETURNED, "REVERSED", "REVERSED"),
    ],
    ids=lambda v: "-".join(m for m, _ in v) if isinstance(v, list) else None,
)
async def test_lookup_maps_the_items_status(
    fake: FakePayPal,
    paypal: PayPalProvider,
    moves: list[tuple[str, str | None]],
    state: PayoutState,
    raw: str,
    code: str | None,
) -> None:
    submitted = await paypal.submit(instruction())
    for status, error in moves:
        fake.set_payout_status("po-1", status, error=error)

    result = await paypal.lookup("po-1", submitted.provider_reference)

    assert (result.state, result.raw_status, result.failure_code) == (state, raw, code)
    assert result.provider_reference == submitted.provider_reference


async def test_a_denied_batch_is_a_failed_payout(fake: FakePayPal, paypal: PayPalProvider) -> None:
    submitted = await paypal.submit(instruction())
    assert submitted.provider_reference is not None
    fake.set_batch_status(submitted.provider_reference, "DENIED")
    result = await paypal.lookup("po-1", submitted.provider_reference)
    assert (result.state, result.raw_status, result.failure_code) == (
        PayoutState.FAILED,
        "DENIED",
        "DENIED",
    )


@pytest.mark.parametrize(
    ("batch_status", "item_status", "state"),
    [
        ("SUCCESS", "CANCELED", PayoutState.CANCELED),
        ("SUCCESS", "DENIED", PayoutState.FAILED),
        ("CANCELED", "PENDING", PayoutState.CANCELED),
        ("PROCESSING", None, PayoutState.PENDING),
        ("SUCCESS", "SOMETHING_NEW", PayoutState.UNKNOWN),
    ],
)
def test_statuses_the_fake_never_reaches_are_mapped_too(
    batch_status: str, item_status: str | None, state: PayoutState
) -> None:
    batch: dict[str, Any] = {
        "batch_header": {
            "payout_batch_id": "B1",
            "batch_status": batch_status,
            "sender_batch_header": {"sender_batch_id": "po-1"},
        },
        "items": [{"transaction_status": item_status}] if item_status else [],
    }
    assert result_from_batch("po-1", batch).state is state


async def test_lookup_refuses_a_batch_that_is_not_this_payouts(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    other = await paypal.submit(instruction("po-other"))
    with pytest.raises(PermanentProviderError) as mismatch:
        await paypal.lookup("po-1", other.provider_reference)
    assert mismatch.value.code == "BATCH_MISMATCH"
    with pytest.raises(PermanentProviderError) as missing:
        await paypal.lookup("po-1", "NOSUCHBATCH")
    assert missing.value.code == "INVALID_RESOURCE_ID"


async def test_an_unclaimed_payout_can_be_canceled_and_comes_back(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    submitted = await paypal.submit(instruction())
    with pytest.raises(PermanentProviderError) as too_early:
        await paypal.cancel("po-1", submitted.provider_reference)
    assert too_early.value.code == "ITEM_INCORRECT_STATUS"
    with pytest.raises(PermanentProviderError):
        await paypal.cancel("po-1", None)

    fake.set_payout_status("po-1", "UNCLAIMED")
    canceled = await paypal.cancel("po-1", submitted.provider_reference)
    assert (canceled.state, canceled.raw_status) == (PayoutState.RETURNED, "RETURNED")
    assert fake.item_of("po-1").status == "RETURNED"


# -- failures ---------------------------------------------------------------------------------


async def test_a_timeout_is_an_unknown_outcome_that_lookup_resolves(fake: FakePayPal) -> None:
    paypal = PayPalProvider(config_for(fake, timeout_seconds=0.5))
    fake.add_fault(Fault(kind=FaultKind.TIMEOUT, method="POST", path="/v1/payments/payouts"))
    try:
        started = time.monotonic()
        with pytest.raises(UnknownOutcome):
            await paypal.submit(instruction())
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, f"{elapsed:.2f}s: the HTTP timeout must end the call"
        batch = fake.batch_of("po-1")
        assert batch is not None  # PayPal did create it: only the answer was lost

        found = await paypal.lookup("po-1", None)
        assert (found.state, found.provider_reference) == (
            PayoutState.PENDING,
            batch.payout_batch_id,
        )
        fake.set_payout_status("po-1", "SUCCESS")
        assert (await paypal.lookup("po-1", None)).state is PayoutState.PAID
        assert (await paypal.lookup("po-1", batch.payout_batch_id)).state is PayoutState.PAID
        assert len(fake.batches) == 1
        assert posts(fake) == 2
    finally:
        await paypal.close()


async def test_after_a_restart_an_unknown_payout_is_resolved_by_submitting_it_again(
    fake: FakePayPal,
) -> None:
    before = PayPalProvider(config_for(fake, timeout_seconds=0.5))
    fake.add_fault(Fault(kind=FaultKind.TIMEOUT, method="POST", path="/v1/payments/payouts"))
    with pytest.raises(UnknownOutcome):
        await before.submit(instruction())
    await before.close()

    after = PayPalProvider(config_for(fake))
    try:
        unknown = await after.lookup("po-1", None)
        assert unknown.state is PayoutState.UNKNOWN  # PayPal has no search by sender_batch_id
        resolved = await after.submit(instruction())
        batch = fake.batch_of("po-1")
        assert batch is not None
        assert resolved.provider_reference == batch.payout_batch_id
        assert len(fake.batches) == 1
    finally:
        await after.close()


@pytest.mark.parametrize("after_effect", [True, False], ids=["after-effect", "before-effect"])
async def test_a_dropped_connection_is_unknown_and_lookup_pays_exactly_once(
    fake: FakePayPal, paypal: PayPalProvider, after_effect: bool
) -> None:
    fake.add_fault(
        Fault(
            kind=FaultKind.DROP,
            method="POST",
            path="/v1/payments/payouts",
            after_effect=after_effect,
        )
    )
    with pytest.raises(UnknownOutcome):
        await paypal.submit(instruction())
    assert len(fake.batches) == (1 if after_effect else 0)

    found = await paypal.lookup("po-1", None)

    assert found.state is PayoutState.PENDING
    assert len(fake.batches) == 1
    batch = fake.batch_of("po-1")
    assert batch is not None
    assert found.provider_reference == batch.payout_batch_id


async def test_a_server_that_is_not_there_is_a_transient_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    paypal = PayPalProvider(
        PayPalConfig(client_id="id", client_secret="secret", api_base=f"http://127.0.0.1:{port}")
    )
    try:
        with pytest.raises(TransientProviderError):
            await paypal.submit(instruction())
    finally:
        await paypal.close()


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        (ErrorRule(status=422, name="INSUFFICIENT_FUNDS"), "INSUFFICIENT_FUNDS"),
        (ErrorRule(status=403, name="NOT_AUTHORIZED"), "NOT_AUTHORIZED"),
        (
            ErrorRule(status=400, name="RECEIVER_COUNTRY_NOT_ALLOWED"),
            "RECEIVER_COUNTRY_NOT_ALLOWED",
        ),
    ],
)
async def test_a_4xx_is_a_permanent_error_with_paypals_name(
    fake: FakePayPal, paypal: PayPalProvider, rule: ErrorRule, code: str
) -> None:
    fake.add_error(rule)
    with pytest.raises(PermanentProviderError) as refused:
        await paypal.submit(instruction())
    assert refused.value.code == code
    assert fake.batches == {}


async def test_a_body_paypal_finds_invalid_is_a_permanent_validation_error(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    with pytest.raises(PermanentProviderError) as refused:
        await paypal.submit(instruction(email="creator@localhost"))
    assert refused.value.code == "VALIDATION_ERROR"
    assert "items[0].receiver" in refused.value.detail
    assert fake.batches == {}


async def test_rate_limits_and_server_errors_are_transient_and_a_retry_pays_once(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    fake.add_fault(Fault(kind=FaultKind.RATE_LIMIT, path="/v1/payments/payouts", retry_after=7))
    with pytest.raises(TransientProviderError) as limited:
        await paypal.submit(instruction())
    assert limited.value.retry_after == 7.0
    fake.add_fault(Fault(kind=FaultKind.SERVER_ERROR, path="/v1/payments/payouts", status=503))
    with pytest.raises(TransientProviderError):
        await paypal.submit(instruction())
    assert fake.batches == {}

    fake.add_fault(Fault(kind=FaultKind.SERVER_ERROR, path="/v1/payments/payouts", times=2))
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    result = await submit_with_retries(paypal, instruction(), RetryPolicy(), sleep=no_sleep)
    assert result.state is PayoutState.PENDING
    assert len(waits) == 2
    assert len(fake.batches) == 1


async def test_bad_credentials_are_a_configuration_error(fake: FakePayPal) -> None:
    paypal = PayPalProvider(config_for(fake, client_secret="wrong"))
    try:
        with pytest.raises(ProviderConfigError):
            await paypal.submit(instruction())
    finally:
        await paypal.close()
    assert fake.batches == {}


async def test_a_paypal_that_keeps_refusing_fresh_tokens_is_asked_twice_not_forever(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    fake.add_error(ErrorRule(status=401, name="AUTHENTICATION_FAILURE", times=None))
    with pytest.raises(ProviderConfigError):
        await paypal.submit(instruction())
    assert posts(fake) == 2
    assert fake.batches == {}


async def test_a_closed_provider_sends_nothing(fake: FakePayPal) -> None:
    paypal = PayPalProvider(config_for(fake))
    await paypal.close()
    with pytest.raises(ProviderConfigError):
        await paypal.submit(instruction())
    assert fake.requests == []


# -- the thread pool --------------------------------------------------------------------------


async def test_the_event_loop_keeps_running_while_a_slow_call_waits(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    fake.add_fault(Fault(kind=FaultKind.LATENCY, method="POST", path="/v1/payments", seconds=0.5))
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    result = await paypal.submit(instruction())
    elapsed = time.monotonic() - started
    done.set()
    await ticking

    assert result.state is PayoutState.PENDING
    assert elapsed >= 0.5
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 15, f"only {len(ticks)} ticks in {elapsed:.2f}s"
    assert max(gaps) < 0.3, f"the loop stalled for {max(gaps):.3f}s"


async def test_calls_beyond_the_pool_size_wait_for_a_thread(fake: FakePayPal) -> None:
    paypal = PayPalProvider(config_for(fake, threads=2))
    fake.add_fault(
        Fault(kind=FaultKind.LATENCY, method="POST", path="/v1/payments", seconds=0.2, times=None)
    )
    try:
        started = time.monotonic()
        results = await asyncio.gather(*(paypal.submit(instruction(f"po-{n}")) for n in range(6)))
        elapsed = time.monotonic() - started
    finally:
        await paypal.close()
    assert {r.state for r in results} == {PayoutState.PENDING}
    assert len(fake.batches) == 6
    assert elapsed >= 0.6  # two at a time: three rounds of 0.2 s


# -- webhooks ---------------------------------------------------------------------------------


def event_body(fake: FakePayPal, payout_id: str = "po-1") -> bytes:
    return json.dumps(fake.event_for_item(fake.item_of(payout_id))).encode()


async def test_a_genuine_item_webhook_becomes_a_status_update(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    submitted = await paypal.submit(instruction())
    fake.set_payout_status("po-1", "SUCCESS")
    body = event_body(fake)

    (update,) = await paypal.parse_webhook(fake.sign(body), body)

    event = json.loads(body)
    assert update.event_id == event["id"]
    assert update.state is PayoutState.PAID
    assert update.payout_id == "po-1"
    assert update.provider_reference == submitted.provider_reference
    assert update.raw_type == "PAYMENT.PAYOUTS-ITEM.SUCCEEDED"
    assert update.occurred_at.tzinfo is not None


async def test_every_delivery_the_fake_sends_verifies_and_maps(fake: FakePayPal) -> None:
    """End to end: the fake posts its signed webhooks to an endpoint that hands them to the
    provider, as /webhooks/paypal will."""
    from aiohttp import web

    updates: list[tuple[str, PayoutState, str | None]] = []
    paypal = PayPalProvider(config_for(fake))

    async def hook(request: web.Request) -> web.Response:
        for update in await paypal.parse_webhook(request.headers, await request.read()):
            updates.append((str(update.raw_type), update.state, update.failure_code))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/paypal", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.settings.webhook_url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/paypal"
    try:
        await paypal.submit(instruction("po-1"))
        await paypal.submit(instruction("po-2"))
        fake.set_payout_status("po-1", "SUCCESS")
        fake.set_payout_status("po-1", "RETURNED")
        fake.set_payout_status("po-2", "UNCLAIMED")
        po_2 = fake.batch_of("po-2")
        assert po_2 is not None
        await paypal.cancel("po-2", po_2.payout_batch_id)
        deliveries = await fake.wait_for_deliveries(8)
    finally:
        await paypal.close()
        await runner.cleanup()

    assert {d.status for d in deliveries} == {200}
    assert updates == [
        ("PAYMENT.PAYOUTSBATCH.PROCESSING", PayoutState.PENDING, None),
        ("PAYMENT.PAYOUTS-ITEM.SUCCEEDED", PayoutState.PAID, None),
        ("PAYMENT.PAYOUTSBATCH.SUCCESS", PayoutState.PENDING, None),
        ("PAYMENT.PAYOUTS-ITEM.RETURNED", PayoutState.RETURNED, "RETURNED"),
        ("PAYMENT.PAYOUTSBATCH.PROCESSING", PayoutState.PENDING, None),
        # Still claimable for 30 days: pending until taken back or returned.
        ("PAYMENT.PAYOUTS-ITEM.UNCLAIMED", PayoutState.PENDING, None),
        ("PAYMENT.PAYOUTSBATCH.SUCCESS", PayoutState.PENDING, None),
        ("PAYMENT.PAYOUTS-ITEM.CANCELED", PayoutState.CANCELED, "RECEIVER_UNREGISTERED"),
    ]


async def test_the_signing_certificate_is_fetched_once(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    await paypal.submit(instruction())
    fake.set_payout_status("po-1", "SUCCESS")
    for _ in range(3):
        body = event_body(fake)
        assert await paypal.parse_webhook(fake.sign(body), body)
    assert sum(1 for _, path in fake.requests if path.startswith("/v1/notifications/certs/")) == 1


async def test_a_tampered_body_is_refused(fake: FakePayPal, paypal: PayPalProvider) -> None:
    await paypal.submit(instruction())
    fake.set_payout_status("po-1", "FAILED")
    body = event_body(fake)
    headers = fake.sign(body)
    tampered = body.replace(b'"FAILED"', b'"SUCCESS"').replace(b".FAILED", b".SUCCEEDED")
    assert tampered != body
    with pytest.raises(WebhookVerificationError, match="signature"):
        await paypal.parse_webhook(headers, tampered)


async def test_a_signature_for_another_webhook_id_is_refused(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    await paypal.submit(instruction())
    body = event_body(fake)
    with pytest.raises(WebhookVerificationError, match="signature"):
        await paypal.parse_webhook(fake.sign(body, webhook_id="WH-SOMEONE-ELSE"), body)
    other = PayPalProvider(config_for(fake, webhook_id="WH-OURS-IS-DIFFERENT"))
    try:
        with pytest.raises(WebhookVerificationError, match="signature"):
            await other.parse_webhook(fake.sign(body), body)
    finally:
        await other.close()


@pytest.mark.parametrize(
    "cert_hosts", [("*.paypal.com",), ("127.0.0.1",), ("http://localhost",)], ids=str
)
async def test_a_certificate_from_a_host_not_allowed_is_refused_unfetched(
    fake: FakePayPal, cert_hosts: tuple[str, ...]
) -> None:
    paypal = PayPalProvider(config_for(fake, cert_hosts=cert_hosts))
    try:
        await paypal.submit(instruction())
        body = event_body(fake)
        with pytest.raises(WebhookVerificationError, match="not allowed"):
            await paypal.parse_webhook(fake.sign(body), body)
    finally:
        await paypal.close()
    assert not any(path.startswith("/v1/notifications/certs/") for _, path in fake.requests)


@pytest.mark.parametrize("minutes", [-10, 10])
async def test_a_stale_or_future_transmission_time_is_refused(
    fake: FakePayPal, paypal: PayPalProvider, minutes: int
) -> None:
    await paypal.submit(instruction())
    body = event_body(fake)
    when = paypal_time(datetime.now(UTC) + timedelta(minutes=minutes))
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        await paypal.parse_webhook(fake.sign(body, transmission_time=when), body)


async def test_an_expired_certificate_is_refused() -> None:
    async with FakePayPal(FakePayPalSettings(expired_certificate=True)) as fake:
        paypal = PayPalProvider(config_for(fake))
        try:
            await paypal.submit(instruction())
            body = event_body(fake)
            with pytest.raises(WebhookVerificationError, match="not valid"):
                await paypal.parse_webhook(fake.sign(body), body)
        finally:
            await paypal.close()


@pytest.mark.parametrize(
    ("header", "value", "match"),
    [
        ("PAYPAL-AUTH-ALGO", "SHA1withRSA", "unsupported"),
        ("PAYPAL-TRANSMISSION-SIG", "not base64!", "base64"),
        ("PAYPAL-TRANSMISSION-ID", "", "missing"),
        ("PAYPAL-TRANSMISSION-TIME", "yesterday", "unreadable"),
    ],
)
async def test_malformed_signature_headers_are_refused(
    fake: FakePayPal, paypal: PayPalProvider, header: str, value: str, match: str
) -> None:
    await paypal.submit(instruction())
    body = event_body(fake)
    headers = {**fake.sign(body), header: value}
    with pytest.raises(WebhookVerificationError, match=match):
        await paypal.parse_webhook(headers, body)


async def test_without_a_webhook_id_webhooks_cannot_be_verified(fake: FakePayPal) -> None:
    paypal = PayPalProvider(config_for(fake, webhook_id=None))
    try:
        with pytest.raises(ProviderConfigError):
            await paypal.parse_webhook(fake.sign(b"{}"), b"{}")
    finally:
        await paypal.close()


def test_certificate_urls_must_come_from_an_allowed_host_over_https() -> None:
    paypal = ("*.paypal.com",)
    assert cert_url_allowed("https://api.paypal.com/v1/notifications/certs/CERT-1", paypal)
    assert cert_url_allowed("https://api.sandbox.paypal.com/v1/notifications/certs/C", paypal)
    assert not cert_url_allowed("http://api.paypal.com/v1/notifications/certs/CERT-1", paypal)
    assert not cert_url_allowed("https://paypal.com.evil.example/cert", paypal)
    assert not cert_url_allowed("https://evilpaypal.com/cert", paypal)
    assert not cert_url_allowed("https://api.paypal.com@evil.example/cert", paypal)
    assert not cert_url_allowed("file:///etc/passwd", paypal)
    assert cert_url_allowed("http://127.0.0.1:8080/cert", ("http://127.0.0.1",))


# -- configuration ----------------------------------------------------------------------------


def test_configuration_comes_from_the_environment() -> None:
    config = PayPalConfig.from_env(
        {
            "DIAMONDS_PAYPAL_CLIENT_ID": "client",
            "DIAMONDS_PAYPAL_CLIENT_SECRET": "secret",
            "DIAMONDS_PAYPAL_API_BASE": "http://127.0.0.1:9000/",
            "DIAMONDS_PAYPAL_WEBHOOK_ID": "WH-1",
            "DIAMONDS_PAYPAL_CERT_HOSTS": "*.paypal.com, http://127.0.0.1",
            "DIAMONDS_PAYPAL_TIMEOUT_SECONDS": "2.5",
            "DIAMONDS_PAYPAL_THREADS": "8",
        }
    )
    assert config.api_base == "http://127.0.0.1:9000"
    assert config.cert_hosts == ("*.paypal.com", "http://127.0.0.1")
    assert (config.webhook_id, config.timeout_seconds, config.threads) == ("WH-1", 2.5, 8)
    assert "secret" not in repr(config)

    defaults = PayPalConfig.from_env(
        {"DIAMONDS_PAYPAL_CLIENT_ID": "c", "DIAMONDS_PAYPAL_CLIENT_SECRET": "s"}
    )
    assert defaults.api_base == "https://api-m.sandbox.paypal.com"
    assert defaults.cert_hosts == ("*.paypal.com",)


async def test_the_variables_the_fake_prints_configure_a_working_provider(
    fake: FakePayPal,
) -> None:
    paypal = PayPalProvider.from_env(fake.environment())
    try:
        submitted = await paypal.submit(instruction())
        fake.set_payout_status("po-1", "SUCCESS")
        body = event_body(fake)
        (update,) = await paypal.parse_webhook(fake.sign(body), body)
    finally:
        await paypal.close()
    assert submitted.state is PayoutState.PENDING
    assert update.state is PayoutState.PAID


def test_bad_configuration_names_every_problem() -> None:
    with pytest.raises(ProviderConfigError) as bad:
        PayPalConfig.from_env(
            {
                "DIAMONDS_PAYPAL_THREADS": "0",
                "DIAMONDS_PAYPAL_TIMEOUT_SECONDS": "soon",
                "DIAMONDS_PAYPAL_CERT_HOSTS": "https://paypal.com/certs",
            }
        )
    message = str(bad.value)
    for name in (
        "DIAMONDS_PAYPAL_CLIENT_ID",
        "DIAMONDS_PAYPAL_CLIENT_SECRET",
        "DIAMONDS_PAYPAL_THREADS",
        "DIAMONDS_PAYPAL_TIMEOUT_SECONDS",
        "DIAMONDS_PAYPAL_CERT_HOSTS",
    ):
        assert name in message


async def test_an_unclaimed_payment_is_taken_back_before_it_counts_as_returned(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    submitted = await paypal.submit(instruction())
    fake.set_payout_status("po-1", "UNCLAIMED")
    looked = await paypal.lookup("po-1", submitted.provider_reference)
    assert looked.state is PayoutState.RETURNED
    assert fake.item_of("po-1").status == "RETURNED"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_certificate_that_cannot_be_had_is_refused_alike_whatever_the_fetch_did(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    """A caller choosing the certificate URL cannot tell an open port from a closed one."""
    await paypal.submit(instruction())
    body = event_body(fake)
    answers = set()
    for url in (
        f"http://127.0.0.1:{_closed_port()}/v1/notifications/certs/CERT",
        f"{fake.url}/v1/notifications/no-such-cert",
        f"{fake.url}/v1/oauth2/token",
    ):
        with pytest.raises(WebhookVerificationError) as refused:
            await paypal.parse_webhook(fake.sign(body, cert_url=url), body)
        answers.add(str(refused.value))
    assert len(answers) == 1, answers
    assert CERT_UNUSABLE in answers.pop()


async def test_a_body_that_is_not_a_json_object_is_refused_before_any_fetch(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    for body in (b"not json", b"[1, 2]", b"\xff"):
        with pytest.raises(WebhookVerificationError, match="JSON object"):
            await paypal.parse_webhook(fake.sign(body), body)
    assert not any(path.startswith("/v1/notifications/certs/") for _, path in fake.requests)
