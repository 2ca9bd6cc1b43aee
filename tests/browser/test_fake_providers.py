"""The finance console against the real providers over real HTTP: the service with the real
compliance gate, PayPal and Stripe pointed at the project's fake servers on loopback. A finance
user clears a sanctions hit, approves the creator's payout, and watches PayPal's webhook (sent by
the fake, signed as PayPal signs) turn it PAID live; a Stripe payout is paid the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from diamonds_fakes.paypal_server import FakePayPal, FakePayPalSettings
from diamonds_fakes.stripe_server import FakeStripe
from playwright.async_api import Page, expect

from compliance.service import Compliance
from diamonds.app import mount_consoles
from economy.app import Economy
from economy.users import User
from graph.server import create_app
from payouts.eligibility import ComplianceGate
from payouts.quotes import RequirementsNotMet
from payouts.requests import request_payout
from payouts.service import PayoutService
from payouts.store import load_payout
from payouts.webhooks import payout_id_of
from providers.config import StripeConfig
from providers.paypal import PayPalProvider
from providers.registry import ProviderRegistry
from providers.stripe import StripeProvider
from settings.payouts import PayoutPolicy
from tests.browser.conftest import sign_in
from tests.browser.test_finance_console import BIG, global_id
from tests.compliance_fixtures import make_payout_ready
from tests.payout_fixtures import ledger_is_clean
from tests.test_provider_paypal import config_for

_keys = itertools.count(1)


@dataclass(frozen=True)
class ServedWithFakes:
    url: str
    svc: PayoutService
    paypal: FakePayPal
    stripe: FakeStripe


@pytest.fixture
async def served_with_fakes(economy: Economy) -> AsyncIterator[ServedWithFakes]:
    """`diamonds serve`'s app (embedded worker, consoles) with the real compliance gate, and
    PayPal and Stripe as its providers, each talking to its fake server on 127.0.0.1."""
    registry = ProviderRegistry({}, discover=False)
    svc = PayoutService(
        eco=economy,
        gate=ComplianceGate(economy.settings),
        providers=registry,
        policy=PayoutPolicy(
            minimum_minor=100,
            daily_cap_minor=10**9,
            approval_threshold_minor=50_000,
            retry_base_seconds=0,
            lookup_after_seconds=3_600,
            max_dispatch_attempts=3,
        ),
    )
    app = create_app(
        economy, svc, run_worker=True, compliance=Compliance(economy.db, economy.settings)
    )
    mount_consoles(app, economy, svc)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    paypal = FakePayPal(FakePayPalSettings(webhook_url=f"{url}/webhooks/paypal"))
    stripe = FakeStripe(webhook_urls=[f"{url}/webhooks/stripe"])
    try:
        async with paypal, stripe:
            registry.register(PayPalProvider(config_for(paypal)))
            registry.register(
                StripeProvider(
                    StripeConfig(
                        api_key=stripe.secret_key,
                        api_base=stripe.url,
                        webhook_secret=stripe.webhook_secret,
                        timeout_seconds=5,
                    )
                )
            )
            yield ServedWithFakes(url, svc, paypal, stripe)
            await registry.close()
    finally:
        await runner.cleanup()


async def payout_awaiting_approval(served: ServedWithFakes, creator: User, provider: str) -> int:
    made = await request_payout(
        served.svc,
        creator,
        diamonds=BIG,
        provider=provider,
        currency="USD",
        key=f"fakes-{next(_keys)}",
    )
    assert made.payout.status == "AWAITING_APPROVAL", made
    return made.payout.id


async def approve_in_the_console(page: Page, served: ServedWithFakes, pk: int) -> None:
    await page.goto(f"{served.url}/console/payouts/{global_id(pk)}")
    await expect(page.locator("body")).to_have_attribute("data-live", "connected")
    await page.click("form[data-action=approve] button")
    await page.click("form.confirm button[name=confirm]")
    await expect(page.locator(".notice")).to_have_text("Approved.")
    await expect(page.locator("#payout-panel h1 .status")).to_have_text("submitted", timeout=15_000)


async def test_finance_clears_a_sanctions_hit_then_pays_through_paypal_live(
    served_with_fakes: ServedWithFakes,
    economy: Economy,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    served = served_with_fakes
    creator = await rich_creator(BIG, "creator:anvar")
    await make_payout_ready(economy, creator, legal_name="Anvar Karimov", country="UZ")
    with pytest.raises(RequirementsNotMet) as blocked:
        await request_payout(
            served.svc, creator, diamonds=BIG, provider="paypal", currency="USD", key="early"
        )
    assert [r.code for r in blocked.value.requirements] == ["SANCTIONS_REVIEW"]

    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    await page.goto(f"{served.url}/console/reviews/sanctions")
    row = page.locator("table.reviews tbody tr", has_text="creator:anvar")
    await expect(row).to_contain_text("KARIMOV, Anvar Rustamovich")
    await screenshot(page, "sanctions-hit")
    await row.locator("select[name=decision]").select_option("CLEAR")
    await row.locator("input[name=note]").fill("born 1990, not 1971")
    await row.locator("button").click()
    await expect(page.locator(".notice")).to_be_visible()
    await expect(page.locator("table.reviews")).not_to_contain_text("creator:anvar")
    await screenshot(page, "sanctions-cleared")

    pk = await payout_awaiting_approval(served, creator, "paypal")
    await approve_in_the_console(page, served, pk)
    await page.evaluate("window.notReloaded = true")
    [item] = [
        item
        for item in served.paypal.items.values()
        if (payout_id_of(item.sender_batch_id) or (0, 0))[0] == pk
    ]
    assert item.item["amount"] == {"value": "600.00", "currency": "USD"}, item
    served.paypal.set_item_status(item.payout_item_id, "SUCCESS")
    await expect(page.locator("#payout-panel h1 .status")).to_have_text("paid", timeout=15_000)
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"
    await screenshot(page, "paid-through-paypal")
    await ledger_is_clean(economy)


async def test_a_stripe_payout_approved_in_the_console_is_paid_by_stripes_webhook_live(
    served_with_fakes: ServedWithFakes,
    economy: Economy,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    served = served_with_fakes
    creator = await rich_creator(BIG, "creator:sam")
    account = served.stripe.create_account()
    await make_payout_ready(economy, creator, provider="stripe", method={"account_id": account})
    pk = await payout_awaiting_approval(served, creator, "stripe")

    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    await approve_in_the_console(page, served, pk)
    await page.evaluate("window.notReloaded = true")
    async with economy.db.read() as conn:
        payout = await load_payout(conn, pk)
    assert payout is not None
    assert payout.provider_reference is not None
    assert served.stripe.payouts[payout.provider_reference]["amount"] == 60_000
    served.stripe.advance_payout(payout.provider_reference, "in_transit")
    served.stripe.advance_payout(payout.provider_reference, "paid")
    await expect(page.locator("#payout-panel h1 .status")).to_have_text("paid", timeout=15_000)
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"
    await screenshot(page, "paid-through-stripe")
    await ledger_is_clean(economy)
