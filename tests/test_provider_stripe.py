"""The Stripe provider against the fake Stripe server over real HTTP: the conformance suite, the
two idempotent calls, error mapping, retries owned by our layer, lookups, cancels, transfer
reversals and signed webhooks delivered to a real receiver."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
import pytest_asyncio
import stripe
from aiohttp import web
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.stripe_server import FakeStripe

from providers.base import Payee, PayoutInstruction, PayoutProvider, PayoutResult, PayoutState
from providers.config import StripeConfig
from providers.errors import (
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnknownOutcome,
    WebhookVerificationError,
)
from providers.retry import RetryPolicy, submit_with_retries
from providers.stripe import (
    StripeProvider,
    idempotency_key,
    payout_state,
    retry_after,
    verify_signature,
)
from providers.testing import (
    Delivery,
    LostAnswer,
    Outcome,
    ProviderConformance,
    ProviderSandbox,
    Signing,
)

TIMEOUT = 1.0
"""Short enough that the lost-answer scenarios (a hanging fake) finish quickly, long enough that
an ordinary call to the fake on a loaded CI machine does not time out (0.4 s did)."""
"""The provider's HTTP timeout in these tests: a hang longer than this is a lost answer."""

FAST = RetryPolicy(
    max_attempts=4, max_total_seconds=5, initial_backoff_seconds=0.01, jitter_seconds=0.01
)


class StripeSandbox(ProviderSandbox):
    """Drives the fake Stripe server for the conformance suite."""

    failure_code = "account_closed"

    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake

    async def settle(self, result: PayoutResult, outcome: Outcome) -> None:
        assert result.provider_reference is not None
        payout = result.provider_reference
        if outcome is Outcome.FAILED:
            self.fake.advance_payout(payout, "failed", self.failure_code)
            return
        self.fake.advance_payout(payout, "in_transit")
        self.fake.advance_payout(payout, "paid")
        if outcome is Outcome.RETURNED:
            self.fake.advance_payout(payout, "failed", self.failure_code)

    async def payouts_at_provider(self, payout_id: str) -> int:
        return len(self.fake.payouts_with("payout_id", payout_id))

    async def lose_next_answer(self, how: LostAnswer) -> None:
        kind = FaultKind.TIMEOUT if how is LostAnswer.TIMEOUT else FaultKind.DROP
        self.fake.add_fault(Fault(kind, method="POST", path="/v1/payouts", seconds=5 * TIMEOUT))

    async def restore(self) -> None:
        self.fake.faults.clear()

    async def webhook(self, result: PayoutResult, outcome: Outcome, signing: Signing) -> Delivery:
        assert result.provider_reference is not None
        if outcome is Outcome.RETURNED:
            (event,) = [
                e
                for e in self.fake.events_about(result.provider_reference, "payout.updated")
                if e["data"]["previous_attributes"]["status"] == "paid"
            ]
        else:
            type_ = "payout.paid" if outcome is Outcome.PAID else "payout.failed"
            event = self.fake.events_about(result.provider_reference, type_)[-1]
        secret = "whsec_not_the_endpoint_secret" if signing is Signing.WRONG_SECRET else None
        stamp = int(time.time()) - 3600 if signing is Signing.STALE else None
        return self.fake.webhook_delivery(event, secret=secret, timestamp=stamp)


def config_for(fake: FakeStripe, **changes: object) -> StripeConfig:
    values: dict[str, object] = {
        "api_key": fake.secret_key,
        "api_base": fake.url,
        "webhook_secret": fake.webhook_secret,
        "timeout_seconds": TIMEOUT,
    }
    values.update(changes)
    return StripeConfig(**values)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@pytest_asyncio.fixture
async def stripe_provider(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider(config_for(fake))
    yield provider
    await provider.close()


@pytest.fixture
def creator(fake: FakeStripe) -> Payee:
    return Payee("Cora Creator", "US", {"account_id": fake.create_account()})


def instruction_for(
    payee: Payee, payout_id: str = "po-1", amount: int = 2_500
) -> PayoutInstruction:
    return PayoutInstruction(
        payout_id=payout_id,
        idempotency_key=f"payout:{payout_id}",
        amount_minor=amount,
        currency="USD",
        payee=payee,
    )


class TestStripeConformance(ProviderConformance):
    @pytest_asyncio.fixture
    async def provider(self, fake: FakeStripe) -> AsyncIterator[PayoutProvider]:
        provider = StripeProvider(config_for(fake))
        yield provider
        await provider.close()

    @pytest.fixture
    def payee(self, fake: FakeStripe) -> Payee:
        return Payee("Conformance", "US", {"account_id": fake.create_account()})

    @pytest.fixture
    def currency(self) -> str:
        return "USD"

    @pytest_asyncio.fixture
    async def sandbox(self, fake: FakeStripe) -> AsyncIterator[ProviderSandbox]:
        yield StripeSandbox(fake)

    @pytest_asyncio.fixture
    async def bad_credentials_provider(self, fake: FakeStripe) -> AsyncIterator[PayoutProvider]:
        provider = StripeProvider(config_for(fake, api_key="sk_test_not_the_right_key"))
        yield provider
        await provider.close()


# --- submit: two idempotent calls -----------------------------------------------------------------


async def test_submit_transfers_then_pays_out_each_with_its_own_key(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    result = await stripe_provider.submit(instruction_for(creator, "po-keys"))

    posts = [r for r in fake.request_log if r.method == "POST"]
    assert [(r.path, r.idempotency_key, r.stripe_account) for r in posts] == [
        ("/v1/transfers", "payout:po-keys:transfer", None),
        ("/v1/payouts", "payout:po-keys:payout", creator.stripe_account),
    ]
    (transfer,) = fake.transfers_with("po-keys")
    assert transfer["destination"] == creator.stripe_account
    assert transfer["amount"] == 2_500
    assert transfer["currency"] == "usd"
    payout = fake.payouts[result.provider_reference or ""]
    assert payout["metadata"] == {"payout_id": "po-keys", "transfer": transfer["id"]}
    assert result == PayoutResult("po-keys", PayoutState.PENDING, payout["id"], "pending")
    assert fake.balance_of(creator.stripe_account) == 0, "the transfer's money left in the payout"


async def test_a_rerun_is_answered_from_stripes_idempotency_store(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    before = fake.balance_of(None)
    first = await stripe_provider.submit(instruction_for(creator, "po-rerun"))
    again = await stripe_provider.submit(instruction_for(creator, "po-rerun"))
    assert again == first
    assert len(fake.transfers_with("po-rerun")) == 1
    assert fake.balance_of(None) == before - 2_500


async def test_reusing_a_key_for_a_different_amount_is_a_permanent_idempotency_error(
    stripe_provider: StripeProvider, creator: Payee
) -> None:
    await stripe_provider.submit(instruction_for(creator, "po-changed", amount=100))
    with pytest.raises(PermanentProviderError) as refused:
        await stripe_provider.submit(instruction_for(creator, "po-changed", amount=999))
    assert refused.value.code == "idempotency_error"


def test_keys_that_would_pass_stripes_limit_are_hashed_deterministically() -> None:
    long_key = "k" * 300
    assert idempotency_key(long_key, "payout") == idempotency_key(long_key, "payout")
    assert len(idempotency_key(long_key, "transfer")) <= 255
    assert idempotency_key(long_key, "payout") != idempotency_key(long_key, "transfer")
    assert idempotency_key("short", "payout") == "short:payout"


# --- refusals before and after money moves --------------------------------------------------------


@pytest.mark.parametrize(
    ("account_options", "code"),
    [
        ({"payouts_enabled": False}, "payouts_not_allowed"),
        ({"past_due": ["individual.verification.document"]}, "account_requirements_past_due"),
    ],
)
async def test_an_account_that_cannot_pay_out_is_refused_before_any_transfer(
    fake: FakeStripe,
    stripe_provider: StripeProvider,
    account_options: dict[str, object],
    code: str,
) -> None:
    payee = Payee("Blocked", "US", {"account_id": fake.create_account(**account_options)})  # type: ignore[arg-type]
    with pytest.raises(PermanentProviderError) as refused:
        await stripe_provider.submit(instruction_for(payee, "po-blocked"))
    assert refused.value.code == code
    assert fake.transfers == {}


@pytest.mark.parametrize(
    ("payee", "code"),
    [
        (Payee("No account", "US"), "no_stripe_account"),
        (Payee("Bad id", "US", {"account_id": "ba_123"}), "no_stripe_account"),
        (Payee("Unknown", "US", {"account_id": "acct_doesnotexist"}), "resource_missing"),
    ],
)
async def test_a_payee_without_a_usable_account_is_a_permanent_error(
    fake: FakeStripe, stripe_provider: StripeProvider, payee: Payee, code: str
) -> None:
    with pytest.raises(PermanentProviderError) as refused:
        await stripe_provider.submit(instruction_for(payee))
    assert refused.value.code == code
    assert fake.transfers == {}


async def test_bad_amounts_and_currencies_are_refused_without_a_request(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    zero = instruction_for(creator, amount=0)
    yen = PayoutInstruction("po-yen", "payout:po-yen", 100, "JPY", creator)
    for instruction, code in ((zero, "invalid_amount"), (yen, "unsupported_currency")):
        with pytest.raises(PermanentProviderError) as refused:
            await stripe_provider.submit(instruction)
        assert refused.value.code == code
    assert fake.requests == 0


async def test_a_platform_short_of_funds_is_refused_with_stripes_code(creator: Payee) -> None:
    async with FakeStripe(platform_balance=1_000) as poor:
        payee = Payee("Cora", "US", {"account_id": poor.create_account()})
        provider = StripeProvider(config_for(poor))
        try:
            with pytest.raises(PermanentProviderError) as refused:
                await provider.submit(instruction_for(payee, amount=5_000))
        finally:
            await provider.close()
    assert refused.value.code == "balance_insufficient"


async def test_a_payout_refused_after_the_transfer_reverses_the_transfer(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    assert creator.stripe_account is not None
    platform_before = fake.balance_of(None)
    fake.add_fault(Fault(FaultKind.LATENCY, method="POST", path="/v1/transfers", seconds=0.3))
    submit = asyncio.create_task(stripe_provider.submit(instruction_for(creator, "po-race")))
    for _ in range(400):  # until the account check has passed and the transfer is in its latency
        if any(r.path == "/v1/transfers" for r in fake.request_log):
            break
        await asyncio.sleep(0.005)
    fake.update_account(creator.stripe_account, payouts_enabled=False)

    with pytest.raises(PermanentProviderError) as refused:
        await submit
    assert refused.value.code == "payouts_not_allowed"
    (transfer,) = fake.transfers_with("po-race")
    assert transfer["reversed"] is True
    assert transfer["amount_reversed"] == 2_500
    assert fake.balance_of(creator.stripe_account) == 0
    assert fake.balance_of(None) == platform_before
    assert fake.payouts_with("payout_id", "po-race") == []


# --- transport failures: transient, unknown, and who retries --------------------------------------


async def test_stripe_python_does_not_retry_on_its_own(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    fake.add_fault(Fault(FaultKind.SERVER_ERROR, path="/v1/accounts", status=503))
    with pytest.raises(TransientProviderError):
        await stripe_provider.submit(instruction_for(creator))
    assert fake.requests == 1, "one attempt of ours is one HTTP request"


async def test_a_rate_limit_is_transient_with_stripes_retry_after(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    fake.add_fault(Fault(FaultKind.RATE_LIMIT, method="POST", path="/v1/transfers", retry_after=7))
    with pytest.raises(TransientProviderError) as limited:
        await stripe_provider.submit(instruction_for(creator))
    assert limited.value.retry_after == 7.0


async def test_retries_through_rate_limits_and_server_errors_pay_once(
    fake: FakeStripe,
    stripe_provider: StripeProvider,
    creator: Payee,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.add_fault(Fault(FaultKind.RATE_LIMIT, method="POST", path="/v1/transfers", retry_after=0))
    fake.add_fault(Fault(FaultKind.SERVER_ERROR, method="POST", path="/v1/payouts", times=2))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    with caplog.at_level(logging.WARNING, logger="providers.retry"):
        result = await submit_with_retries(
            stripe_provider, instruction_for(creator, "po-retry"), FAST, sleep=sleep
        )

    assert result.state is PayoutState.PENDING
    assert len(sleeps) == 3
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 3
    assert len(fake.transfers_with("po-retry")) == 1
    assert len(fake.payouts_with("payout_id", "po-retry")) == 1
    transfer_keys = {r.idempotency_key for r in fake.request_log if r.path == "/v1/transfers"}
    assert transfer_keys == {"payout:po-retry:transfer"}, "every attempt carries the same key"


async def test_a_timeout_on_a_write_is_unknown_and_the_retry_helper_does_not_retry_it(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    fake.add_fault(Fault(FaultKind.TIMEOUT, method="POST", path="/v1/transfers", seconds=2))
    with pytest.raises(UnknownOutcome):
        await submit_with_retries(stripe_provider, instruction_for(creator, "po-hang"), FAST)
    assert len([r for r in fake.request_log if r.path == "/v1/transfers"]) == 1
    with pytest.raises(PayoutNotFound):
        await stripe_provider.lookup("po-hang", None)  # the transfer went through, no payout yet
    result = await stripe_provider.submit(instruction_for(creator, "po-hang"))
    assert result.state is PayoutState.PENDING
    assert len(fake.transfers_with("po-hang")) == 1, "the re-run replayed the transfer"


async def test_a_refused_connection_sent_nothing_and_is_transient(creator: Payee) -> None:
    async with FakeStripe() as gone:
        url = gone.url
    provider = StripeProvider(StripeConfig(api_key="sk_test_x", api_base=url, timeout_seconds=1))
    try:
        with pytest.raises(TransientProviderError):
            await provider.submit(instruction_for(creator))
    finally:
        await provider.close()


async def test_a_dropped_connection_on_a_lookup_is_only_transient(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    await stripe_provider.submit(instruction_for(creator, "po-read"))
    # twice: aiohttp itself repeats a GET once when a kept-alive connection drops
    fake.add_fault(Fault(FaultKind.DROP, method="GET", path="/v1/transfers", times=2))
    with pytest.raises(TransientProviderError):
        await stripe_provider.lookup("po-read", None)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("soon", None), (None, None)],
)
def test_retry_after_reads_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after({} if header is None else {"retry-after": header}) == seconds


def test_retry_after_reads_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = retry_after({"Retry-After": when})
    assert waited is not None
    assert 27 <= waited <= 30


# --- lookup and cancel ----------------------------------------------------------------------------


async def test_lookup_by_reference_and_without_one_agree(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    submitted = await stripe_provider.submit(instruction_for(creator, "po-look"))
    assert submitted.provider_reference is not None
    fake.advance_payout(submitted.provider_reference, "in_transit")
    by_reference = await stripe_provider.lookup("po-look", submitted.provider_reference)
    by_search = await stripe_provider.lookup("po-look", None)
    assert by_reference == by_search
    assert by_search.state is PayoutState.PENDING
    assert by_search.raw_status == "in_transit"


async def test_lookup_pages_through_a_busy_account(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    ours = await stripe_provider.submit(instruction_for(creator, "po-early", amount=10))
    headers = {
        "Authorization": f"Bearer {fake.secret_key}",
        "Stripe-Account": creator.stripe_account or "",
    }
    assert creator.stripe_account is not None
    fake.accounts[creator.stripe_account].available["usd"] = 10_000
    async with aiohttp.ClientSession() as session:
        for n in range(120):
            async with session.post(
                f"{fake.url}/v1/payouts",
                data={"amount": "1", "currency": "usd", "metadata[payout_id]": f"other-{n}"},
                headers=headers,
            ) as resp:
                assert resp.status == 200
    found = await stripe_provider.lookup("po-early", None)
    assert found.provider_reference == ours.provider_reference
    lists = [r for r in fake.request_log if r.method == "GET" and r.path == "/v1/payouts"]
    assert len(lists) == 2, "the payout was on the second page"


async def test_a_failed_payout_found_by_lookup_brings_the_money_back(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    platform_before = fake.balance_of(None)
    submitted = await stripe_provider.submit(instruction_for(creator, "po-fail"))
    assert submitted.provider_reference is not None
    fake.advance_payout(submitted.provider_reference, "failed", "no_account")
    assert fake.balance_of(creator.stripe_account) == 2_500, "Stripe returns it to the account"

    found = await stripe_provider.lookup("po-fail", submitted.provider_reference)
    assert (found.state, found.failure_code) == (PayoutState.FAILED, "no_account")
    assert fake.balance_of(creator.stripe_account) == 0
    assert fake.balance_of(None) == platform_before
    again = await stripe_provider.lookup("po-fail", submitted.provider_reference)
    assert again == found
    (transfer,) = fake.transfers_with("po-fail")
    assert len(transfer["reversals"]["data"]) == 1, "the reversal happens once"


async def test_cancel_a_pending_payout_and_return_the_money(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    platform_before = fake.balance_of(None)
    submitted = await stripe_provider.submit(instruction_for(creator, "po-cancel"))
    canceled = await stripe_provider.cancel("po-cancel", submitted.provider_reference)
    assert canceled.state is PayoutState.CANCELED
    assert fake.payouts[canceled.provider_reference or ""]["status"] == "canceled"
    assert fake.balance_of(None) == platform_before


async def test_a_paid_payout_cannot_be_canceled(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    submitted = await stripe_provider.submit(instruction_for(creator, "po-late"))
    fake.advance_payout(submitted.provider_reference or "", "paid")
    with pytest.raises(PermanentProviderError) as refused:
        await stripe_provider.cancel("po-late", submitted.provider_reference)
    assert refused.value.code == "payout_not_cancelable"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("pending", PayoutState.PENDING),
        ("in_transit", PayoutState.PENDING),
        ("paid", PayoutState.PAID),
        ("failed", PayoutState.FAILED),
        ("canceled", PayoutState.CANCELED),
        ("something_new", PayoutState.UNKNOWN),
    ],
)
def test_stripe_statuses_in_our_words(status: str, state: PayoutState) -> None:
    assert payout_state(status) is state


# --- webhooks -------------------------------------------------------------------------------------


def test_the_signature_check_takes_any_matching_v1_and_refuses_the_rest() -> None:
    body = b'{"id": "evt_1"}'
    now = 1_700_000_000
    fake = FakeStripe(webhook_secret="whsec_right")
    good = fake.sign(body, timestamp=now).split(",")[1]
    wrong = fake.sign(body, secret="whsec_wrong", timestamp=now).split(",")[1]

    assert verify_signature(f"t={now},{wrong},{good}", body, "whsec_right", now=now) == now
    for header in (
        f"t={now},{wrong}",
        f"{good}",
        f"t={now}",
        f"t=abc,{good}",
        "",
        None,
    ):
        with pytest.raises(WebhookVerificationError):
            verify_signature(header, body, "whsec_right", now=now)
    with pytest.raises(WebhookVerificationError):
        verify_signature(f"t={now},{good}", body, "whsec_right", now=now + 301)
    with pytest.raises(WebhookVerificationError):
        verify_signature(f"t={now},{good}", body, "whsec_right", now=now - 301)
    assert verify_signature(f"t={now},{good}", body, "whsec_right", now=now + 299) == now


async def test_events_that_are_not_about_our_payouts_give_no_update(
    fake: FakeStripe, stripe_provider: StripeProvider, creator: Payee
) -> None:
    await stripe_provider.submit(instruction_for(creator, "po-noise"))
    (transfer_event,) = [e for e in fake.events if e["type"] == "transfer.created"]
    assert await stripe_provider.parse_webhook(*fake.webhook_delivery(transfer_event)) == []
    (payout,) = fake.payouts_with("payout_id", "po-noise")
    foreign = json.loads(json.dumps(fake.events_about(payout["id"], "payout.created")[0]))
    foreign["data"]["object"]["metadata"] = {}  # a payout someone else made
    assert await stripe_provider.parse_webhook(*fake.webhook_delivery(foreign)) == []


async def test_a_webhook_without_a_configured_secret_is_a_configuration_error(
    fake: FakeStripe, creator: Payee
) -> None:
    provider = StripeProvider(config_for(fake, webhook_secret=None))
    try:
        event = {"object": "event"}
        with pytest.raises(ProviderConfigError):
            await provider.parse_webhook(*fake.webhook_delivery(event))
    finally:
        await provider.close()


async def test_signed_webhooks_reach_a_real_endpoint_and_map_every_step(
    creator: Payee,
) -> None:
    received: list[tuple[str, PayoutState]] = []
    refused: list[str] = []
    holder: dict[str, StripeProvider] = {}

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            updates = await holder["provider"].parse_webhook(request.headers, body)
        except WebhookVerificationError as exc:
            refused.append(str(exc))
            return web.Response(status=400)
        received.extend((u.raw_type or "", u.state) for u in updates)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/stripe", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/stripe"
    try:
        async with FakeStripe(webhook_urls=[receiver]) as server:
            provider = holder["provider"] = StripeProvider(config_for(server))
            payee = Payee("Cora", "US", {"account_id": server.create_account()})
            submitted = await provider.submit(instruction_for(payee, "po-hook"))
            reference = submitted.provider_reference or ""
            server.advance_payout(reference)  # in transit
            server.advance_payout(reference)  # paid
            server.advance_payout(reference, "failed", "account_closed")  # came back
            await server.wait_for_deliveries()
            server.resend(server.events_about(reference, "payout.paid")[0]["id"])
            await server.wait_for_deliveries()
            statuses = [d.status for d in server.deliveries]
            await provider.close()
    finally:
        await runner.cleanup()

    assert refused == []
    assert set(statuses) == {200}
    assert sorted(received, key=str) == sorted(
        [
            ("payout.created", PayoutState.PENDING),
            ("payout.updated", PayoutState.PENDING),
            ("payout.updated", PayoutState.PAID),
            ("payout.paid", PayoutState.PAID),
            ("payout.paid", PayoutState.PAID),  # the resent one
            ("payout.updated", PayoutState.RETURNED),
            ("payout.failed", PayoutState.FAILED),
        ],
        key=str,
    )


async def test_verify_event_reads_other_event_types_for_their_own_handlers(
    fake: FakeStripe, stripe_provider: StripeProvider
) -> None:
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        fake.secret_key, base_addresses={"api": fake.url}, http_client=http, max_network_retries=0
    )
    intent = await client.v1.payment_intents.create_async(
        {"amount": 499, "currency": "usd", "metadata": {"purchase": "pu-1"}}
    )
    fake.succeed_payment_intent(intent.id)
    (event,) = fake.events_about(intent.id, "payment_intent.succeeded")
    verified = stripe_provider.verify_event(*fake.webhook_delivery(event))
    assert verified["data"]["object"]["metadata"] == {"purchase": "pu-1"}
    assert await stripe_provider.parse_webhook(*fake.webhook_delivery(event)) == []
    await http.close_async()  # type: ignore[no-untyped-call]


# --- configuration --------------------------------------------------------------------------------


def test_the_registry_builds_stripe_from_the_environment() -> None:
    provider = StripeProvider.from_env(
        {
            "DIAMONDS_STRIPE_API_KEY": "sk_test_abc",
            "DIAMONDS_STRIPE_API_BASE": "http://127.0.0.1:12111",
            "DIAMONDS_STRIPE_TIMEOUT_SECONDS": "3",
        }
    )
    assert provider.config.api_base == "http://127.0.0.1:12111"
    assert provider.config.timeout_seconds == 3.0
    assert provider.config.webhook_secret is None
