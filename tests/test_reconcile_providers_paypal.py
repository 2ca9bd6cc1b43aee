"""PayPal's records for reconciliation, read from the fake PayPal server over real HTTP: batches
paged as the OpenAPI document says, fees parsed exactly, and each way the fake can disagree."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from diamonds_fakes.disagreements import Disagreement, DisagreementKind
from diamonds_fakes.paypal_server import FakePayPal, FakePayPalSettings

from providers.base import Capability, Payee, PayoutInstruction, PayoutState
from providers.errors import ProviderError
from providers.paypal import PayPalProvider
from providers.paypal_records import records_from_batch
from providers.records import ProviderRecord

from .test_provider_paypal import config_for

SINCE = datetime.now(UTC) - timedelta(days=1)
UNTIL = datetime.now(UTC) + timedelta(days=1)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal(FakePayPalSettings(item_fee_bps=200)) as server:
        yield server


@pytest_asyncio.fixture
async def paypal(fake: FakePayPal) -> AsyncIterator[PayPalProvider]:
    provider = PayPalProvider(config_for(fake))
    yield provider
    await provider.close()


def instruction(payout_id: str, amount: int = 1_234) -> PayoutInstruction:
    payee = Payee("Pat", "US", {"email": "pat@example.com"})
    return PayoutInstruction(payout_id, f"payout:{payout_id}", amount, "USD", payee)


async def records(paypal: PayPalProvider, references: list[str]) -> list[ProviderRecord]:
    return [r async for r in paypal.settled_records(SINCE, UNTIL, references=references)]


async def send(paypal: PayPalProvider, fake: FakePayPal, payout_id: str, amount: int) -> str:
    result = await paypal.submit(instruction(payout_id, amount))
    assert result.provider_reference is not None
    fake.set_payout_status(payout_id, "SUCCESS")
    return result.provider_reference


async def test_the_provider_declares_reconcile(paypal: PayPalProvider) -> None:
    assert Capability.RECONCILE in paypal.capabilities


async def test_the_batches_named_are_read_with_their_fees(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    paid = await send(paypal, fake, "pp-paid", 10_001)
    pending = (await paypal.submit(instruction("pp-pending", 500))).provider_reference
    assert pending is not None
    found = {r.payout_id: r for r in await records(paypal, [paid, pending, paid])}
    assert set(found) == {"pp-paid", "pp-pending"}, "a batch named twice is read once"
    assert found["pp-paid"].provider_reference == paid
    assert found["pp-paid"].amount_minor == 10_001
    assert found["pp-paid"].fee_minor == 201, "2% of $100.01, rounded up to the cent"
    assert found["pp-paid"].state is PayoutState.PAID
    assert found["pp-paid"].raw_status == "SUCCESS"
    assert found["pp-pending"].state is PayoutState.PENDING
    assert all(type(r.amount_minor) is int for r in found.values())


async def test_a_batch_paypal_does_not_know_gives_no_record(paypal: PayPalProvider) -> None:
    assert await records(paypal, ["NOSUCHBATCH42"]) == []


async def test_a_large_batch_is_read_page_by_page(fake: FakePayPal, paypal: PayPalProvider) -> None:
    batch_id = await post_batch(fake, "pp-big", 250)
    fake.set_batch_status(batch_id, "PROCESSING")
    paypal.RECORDS_PAGE_SIZE = 100  # type: ignore[misc] # a small page for the test
    found = await records(paypal, [batch_id])
    pages = [p for m, p in fake.requests if m == "GET" and batch_id in p]
    assert len(pages) == 3
    assert len(found) == 250
    assert len({r.provider_reference for r in found}) == 250, "items we never sent: by item id"
    assert all(r.payout_id is None for r in found)
    assert sum(r.amount_minor for r in found) == sum(range(100, 350))


async def test_the_fake_pages_as_the_openapi_document_says(fake: FakePayPal) -> None:
    batch_id = await post_batch(fake, "pp-pages", 5)
    async with aiohttp.ClientSession() as http:
        token = await token_of(http, fake)
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{fake.url}/v1/payments/payouts/{batch_id}"
        async with http.get(
            url, params={"page": "2", "page_size": "2", "total_required": "true"}, headers=headers
        ) as answer:
            page = await answer.json()
        async with http.get(url, params={"page_size": "0"}, headers=headers) as refused:
            assert refused.status == 400
    assert page["total_items"] == 5
    assert page["total_pages"] == 3
    assert len(page["items"]) == 2
    assert {link["rel"] for link in page["links"]} == {"self", "next", "previous"}


async def test_each_disagreement_shows_in_the_records(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    refs = {p: await send(paypal, fake, p, 2_500) for p in ("kept", "gone", "changed", "odd")}
    fake.add_disagreement(Disagreement(DisagreementKind.DROP, "gone"))
    fake.add_disagreement(Disagreement(DisagreementKind.AMOUNT, "changed", amount=2_400))
    fake.add_disagreement(Disagreement(DisagreementKind.STATUS, "odd", status="MYSTERY"))
    fake.add_disagreement(Disagreement(DisagreementKind.EXTRA, "kept", amount=999))
    found = await records(paypal, list(refs.values()))
    ours = {r.payout_id: r for r in found if r.payout_id}
    assert set(ours) == {"kept", "changed", "odd"}
    assert ours["kept"].amount_minor == 2_500
    assert ours["changed"].amount_minor == 2_400
    assert ours["odd"].state is PayoutState.UNKNOWN
    assert ours["odd"].raw_status == "MYSTERY"
    (extra,) = [r for r in found if r.payout_id is None]
    assert extra.amount_minor == 999
    assert extra.state is PayoutState.PAID
    assert extra.provider_reference != refs["kept"]
    assert extra.raw["payout_batch_id"] == refs["kept"]


def test_amounts_with_a_fraction_of_a_cent_are_refused() -> None:
    batch: dict[str, Any] = {
        "batch_header": {"payout_batch_id": "B1", "batch_status": "SUCCESS"},
        "items": [
            {
                "payout_item_id": "I1",
                "transaction_status": "SUCCESS",
                "payout_item": {"amount": {"currency": "USD", "value": "12.345"}},
            }
        ],
    }
    with pytest.raises(ProviderError, match="whole number of minor units"):
        records_from_batch(batch)
    batch["items"][0]["payout_item"]["amount"] = {"currency": "USD", "value": 12.34}
    with pytest.raises(ProviderError, match="not a decimal string"):
        records_from_batch(batch)
    batch["items"][0]["payout_item"]["amount"] = {"currency": "JPY", "value": "500"}
    (record,) = records_from_batch(batch)
    assert record.amount_minor == 500
    assert record.currency == "JPY"


def test_a_denied_batch_decides_for_its_items() -> None:
    batch = {
        "batch_header": {
            "payout_batch_id": "B2",
            "batch_status": "DENIED",
            "sender_batch_header": {"sender_batch_id": "po-7"},
            "time_created": "2026-12-07T10:00:00Z",
        },
        "items": [
            {
                "payout_item_id": "I2",
                "transaction_status": "PENDING",
                "payout_item": {
                    "sender_item_id": "po-7",
                    "amount": {"currency": "EUR", "value": "1.50"},
                },
                "currency_conversion": {
                    "from_amount": {"currency": "EUR", "value": "1.50"},
                    "to_amount": {"currency": "USD", "value": "1.62"},
                    "exchange_rate": "1.08",
                },
            }
        ],
    }
    (record,) = records_from_batch(batch)
    assert record.state is PayoutState.FAILED
    assert record.payout_id == "po-7"
    assert record.provider_reference == "B2"
    assert record.amount_minor == 150
    assert (record.converted_amount_minor, record.converted_currency) == (162, "USD")
    assert record.exchange_rate == "1.08"
    assert record.occurred_at == datetime(2026, 12, 7, 10, tzinfo=UTC)


async def token_of(http: aiohttp.ClientSession, fake: FakePayPal) -> str:
    pair = f"{fake.settings.client_id}:{fake.settings.client_secret}".encode()
    async with http.post(
        f"{fake.url}/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    ) as answer:
        return str((await answer.json())["access_token"])


async def post_batch(fake: FakePayPal, sender_batch_id: str, count: int) -> str:
    """A batch of `count` items (100, 101, ... cents) sent straight to the fake."""
    body = {
        "sender_batch_header": {"sender_batch_id": sender_batch_id, "recipient_type": "EMAIL"},
        "items": [
            {
                "amount": {"value": f"{(100 + n) // 100}.{(100 + n) % 100:02d}", "currency": "USD"},
                "receiver": f"r{n}@example.com",
                "sender_item_id": f"{sender_batch_id}-{n}",
            }
            for n in range(count)
        ],
    }
    async with aiohttp.ClientSession() as http:
        token = await token_of(http, fake)
        async with http.post(
            f"{fake.url}/v1/payments/payouts",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as answer:
            assert answer.status == 201, await answer.text()
            return str((await answer.json())["batch_header"]["payout_batch_id"])


async def test_transaction_search_finds_payouts_no_batch_of_ours_holds(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    ours = await send(paypal, fake, "pp-ours", 1_000)
    await send(paypal, fake, "pp-not-named", 3_000)
    await send(paypal, fake, "pp-long-ago", 5_000)
    fake.item_of("pp-long-ago").time_processed = "2020-01-01T00:00:00Z"
    found = await records(paypal, [ours])
    assert [r.payout_id for r in found if r.source == "batch"] == ["pp-ours"]
    (stranger,) = [r for r in found if r.source == "transaction-search"]
    assert stranger.payout_id is None
    assert stranger.amount_minor == 3_000, "money out is negative at PayPal, positive here"
    assert stranger.fee_minor == 60
    assert stranger.state is PayoutState.PAID
    assert stranger.provider_reference == fake.item_of("pp-not-named").transaction_id


async def test_without_the_reporting_permission_the_batches_still_count(
    fake: FakePayPal, paypal: PayPalProvider
) -> None:
    from diamonds_fakes.paypal_server import ErrorRule

    ours = await send(paypal, fake, "pp-ours", 1_000)
    fake.add_error(
        ErrorRule(
            status=403,
            name="NOT_AUTHORIZED",
            message="Authorization failed due to insufficient permissions.",
            method="GET",
            path="/v1/reporting/transactions",
        )
    )
    found = await records(paypal, [ours])
    assert [r.payout_id for r in found] == ["pp-ours"]


async def test_the_fake_refuses_a_search_over_more_than_31_days(fake: FakePayPal) -> None:
    async with aiohttp.ClientSession() as http:
        token = await token_of(http, fake)
        async with http.get(
            f"{fake.url}/v1/reporting/transactions",
            params={
                "start_date": "2025-01-01T00:00:00+00:00",
                "end_date": "2025-03-01T00:00:00+00:00",
            },
            headers={"Authorization": f"Bearer {token}"},
        ) as answer:
            assert answer.status == 400
