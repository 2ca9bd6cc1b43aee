"""Stripe's records for reconciliation, read from the fake Stripe server over real HTTP: paging
across pages, the period's bounds, fees from balance transactions, and each way the fake can
disagree with what we sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
import stripe
from diamonds_fakes.disagreements import Disagreement, DisagreementKind
from diamonds_fakes.stripe_server import FakeStripe

from providers.base import Capability, Payee, PayoutInstruction, PayoutState
from providers.config import StripeConfig
from providers.records import ProviderRecord
from providers.stripe import StripeProvider


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@pytest_asyncio.fixture
async def provider(fake: FakeStripe) -> AsyncIterator[StripeProvider]:
    made = StripeProvider(
        StripeConfig(api_key=fake.secret_key, api_base=fake.url, timeout_seconds=5.0)
    )
    yield made
    await made.close()


def instruction(payee: Payee, payout_id: str, amount: int = 2_500) -> PayoutInstruction:
    return PayoutInstruction(payout_id, f"payout:{payout_id}", amount, "USD", payee)


def day_around(fake: FakeStripe) -> tuple[datetime, datetime]:
    now = datetime.fromtimestamp(fake.now(), UTC)
    return now - timedelta(hours=12), now + timedelta(hours=12)


async def records(
    provider: StripeProvider, since: datetime, until: datetime
) -> list[ProviderRecord]:
    return [r async for r in provider.settled_records(since, until)]


def paid(fake: FakeStripe, reference: str | None) -> None:
    assert reference is not None
    fake.advance_payout(reference, "in_transit")
    fake.advance_payout(reference, "paid")


async def test_the_provider_declares_reconcile(provider: StripeProvider) -> None:
    assert Capability.RECONCILE in provider.capabilities


async def test_250_transfers_are_read_across_pages_of_100(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    payee = Payee("Cora", "US", {"account_id": fake.create_account()})
    sent = {}
    for n in range(250):
        result = await provider.submit(instruction(payee, f"po-{n}", 100 + n))
        sent[f"po-{n}"] = result.provider_reference
    before = len(fake.request_log)
    found = await records(provider, *day_around(fake))
    listed = [r for r in list(fake.request_log)[before:] if r.method == "GET"]
    assert {r.payout_id: r.provider_reference for r in found} == sent
    assert {r.payout_id: r.amount_minor for r in found} == {f"po-{n}": 100 + n for n in range(250)}
    assert all(type(r.amount_minor) is int and r.currency == "USD" for r in found)
    assert all(r.state is PayoutState.PENDING and r.raw_status == "pending" for r in found)
    assert sum(r.path == "/v1/transfers" for r in listed) == 3, "250 transfers: 3 pages of 100"
    assert sum(r.path == "/v1/payouts" for r in listed) == 3
    assert {r.stripe_account for r in listed if r.path == "/v1/payouts"} == {payee.stripe_account}


async def test_only_the_periods_transfers_are_read(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    payee = Payee("Cora", "US", {"account_id": fake.create_account()})
    fake.clock_offset_seconds = -2 * 86_400
    await provider.submit(instruction(payee, "two-days-ago"))
    fake.clock_offset_seconds = 0
    today = await provider.submit(instruction(payee, "today"))
    fake.clock_offset_seconds = 2 * 86_400
    await provider.submit(instruction(payee, "in-two-days"))
    fake.clock_offset_seconds = 0
    found = await records(provider, *day_around(fake))
    assert [(r.payout_id, r.provider_reference) for r in found] == [
        ("today", today.provider_reference)
    ]
    now = datetime.fromtimestamp(fake.now(), UTC)
    earlier = await records(provider, now - timedelta(days=3), now - timedelta(days=1))
    assert [r.payout_id for r in earlier] == ["two-days-ago"]


async def test_a_paid_payout_reads_paid_with_its_fee_from_the_balance_transaction(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    account = fake.create_account(payout_fee_bps=150)
    payee = Payee("Cora", "US", {"account_id": account})
    result = await provider.submit(instruction(payee, "po-fee", 10_001))
    paid(fake, result.provider_reference)
    (record,) = await records(provider, *day_around(fake))
    assert record.state is PayoutState.PAID
    assert record.raw_status == "paid"
    assert record.fee_minor == 151, "1.5% of 10,001 cents, rounded up"
    assert record.amount_minor == 10_001
    assert record.converted_amount_minor is None
    assert record.source == "transfer+payout"
    assert record.raw["balance_transaction"]["net"] == -10_001 - 151


async def test_a_failed_payout_reads_failed_with_its_code(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    payee = Payee("Cora", "US", {"account_id": fake.create_account()})
    result = await provider.submit(instruction(payee, "po-failed"))
    assert result.provider_reference is not None
    fake.advance_payout(result.provider_reference, "failed", "account_closed")
    (record,) = await records(provider, *day_around(fake))
    assert record.state is PayoutState.FAILED
    assert record.failure_code == "account_closed"


async def test_each_disagreement_shows_in_the_records(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    account = fake.create_account()
    payee = Payee("Cora", "US", {"account_id": account})
    for payout_id in ("kept", "dropped", "changed", "restated"):
        paid(fake, (await provider.submit(instruction(payee, payout_id))).provider_reference)
    fake.add_disagreement(Disagreement(DisagreementKind.DROP, "dropped"))
    fake.add_disagreement(Disagreement(DisagreementKind.AMOUNT, "changed", amount=2_499))
    fake.add_disagreement(Disagreement(DisagreementKind.STATUS, "restated", status="exploded"))
    fake.add_disagreement(Disagreement(DisagreementKind.EXTRA, account, amount=777))
    found = await records(provider, *day_around(fake))
    ours = {r.payout_id: r for r in found if r.payout_id}
    assert set(ours) == {"kept", "changed", "restated"}
    assert ours["kept"].amount_minor == 2_500
    assert ours["kept"].state is PayoutState.PAID
    assert ours["changed"].amount_minor == 2_499
    assert ours["restated"].state is PayoutState.UNKNOWN
    assert ours["restated"].raw_status == "exploded"
    (extra,) = [r for r in found if r.payout_id is None]
    assert extra.amount_minor == 777
    assert extra.state is PayoutState.PAID
    assert extra.provider_reference.startswith("po_")
    assert extra.source == "payout"


async def test_disagreements_are_driven_through_the_admin_api(fake: FakeStripe) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{fake.url}/__fake__/disagreements", json={"kind": "drop", "target": "po-9"}
        ) as answer:
            assert answer.status == 201
        async with http.post(
            f"{fake.url}/__fake__/disagreements", json={"kind": "amount", "target": "po-9"}
        ) as answer:
            assert answer.status == 400, "an amount disagreement needs its amount"
        async with http.get(f"{fake.url}/__fake__/disagreements") as answer:
            assert (await answer.json())["disagreements"][0]["kind"] == "drop"
    assert fake.disagreements.dropped("po-9")


async def test_the_fake_lists_as_stripe_does_both_ways(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    payee = Payee("Cora", "US", {"account_id": fake.create_account()})
    for n in range(5):
        await provider.submit(instruction(payee, f"po-{n}"))
    http = stripe.AIOHTTPClient()
    client = stripe.StripeClient(
        fake.secret_key, base_addresses={"api": fake.url}, http_client=http
    )
    try:
        await _list_both_ways(client, payee)
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]


async def _list_both_ways(client: stripe.StripeClient, payee: Payee) -> None:
    first = await client.v1.transfers.list_async({"limit": 2})
    assert first.has_more
    assert first.url == "/v1/transfers"
    assert first.object == "list"
    newest, second = (t.id for t in first.data)
    back = await client.v1.transfers.list_async({"limit": 2, "ending_before": second})
    assert [t.id for t in back.data] == [newest]
    assert not back.has_more
    every = [t.id async for t in first.auto_paging_iter()]
    assert len(every) == 5
    txns = await client.v1.balance_transactions.list_async(
        {"limit": 100}, {"stripe_account": payee.stripe_account}
    )
    assert {t.type for t in txns.data} == {"payout"}
    assert all(t.amount == -2_500 and t.net == -2_500 for t in txns.data)
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.transfers.list_async({"starting_after": newest, "ending_before": second})


def test_a_balance_transaction_in_another_currency_is_the_converted_amount() -> None:
    from providers.stripe_records import payout_record, transfer_record

    payout = {
        "id": "po_1",
        "amount": 1_000,
        "currency": "eur",
        "status": "paid",
        "created": 1_700_000_000,
        "arrival_date": 1_700_086_400,
        "metadata": {"payout_id": "po-fx"},
        "failure_code": None,
        "balance_transaction": {
            "id": "txn_1",
            "amount": -1_085,
            "fee": 0,
            "net": -1_085,
            "currency": "usd",
            "exchange_rate": 1.085,
        },
    }
    record = payout_record(payout, None, "acct_1")
    assert record.payout_id == "po-fx"
    assert (record.converted_amount_minor, record.converted_currency) == (1_085, "USD")
    assert record.exchange_rate == "1.085"
    assert record.occurred_at == datetime.fromtimestamp(1_700_086_400, UTC), "paid: arrival"
    reversed_transfer = {
        "id": "tr_1",
        "amount": 500,
        "amount_reversed": 500,
        "currency": "usd",
        "created": 1_700_000_000,
        "transfer_group": "po-gone",
        "balance_transaction": "txn_2",
    }
    lone = transfer_record(reversed_transfer)
    assert lone.state is PayoutState.CANCELED
    assert lone.raw_status == "transfer_reversed"
    assert lone.fee_minor is None, "a balance transaction not expanded tells no fee"


async def test_payouts_on_many_accounts_are_listed_a_few_accounts_at_a_time(
    fake: FakeStripe, provider: StripeProvider
) -> None:
    payees = [Payee(f"C{n}", "US", {"account_id": fake.create_account()}) for n in range(20)]
    for n, payee in enumerate(payees):
        await provider.submit(instruction(payee, f"many-{n}", 100 + n))
    found = await records(provider, *day_around(fake))
    assert sorted(r.payout_id or "" for r in found) == sorted(f"many-{n}" for n in range(20))
    assert all(r.source == "transfer+payout" for r in found)
    accounts = {r.raw["account"] for r in found}
    assert accounts == {p.stripe_account for p in payees}
