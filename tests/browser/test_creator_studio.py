"""The creator studio in a real browser: a creator signs in, sees the diamond wallet and where
they may cash out, asks for a payout and, refused for compliance, sees each missing requirement
with its fix; reviews the quote, confirms, and watches the payout get paid live; on the live page
gifts arrive and move the leaderboard without a reload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession
from playwright.async_api import Page, expect

from compliance.gate.rules import Requirement
from economy.gifting import send_gift
from economy.users import User
from graph.global_ids import pk_of
from tests.browser.conftest import Served, sign_in
from tests.payout_fixtures import signed


async def test_a_creator_sees_the_wallet_and_why_a_payout_is_refused(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    await rich_creator(4_000, "creator:ida")
    served.rig.gate.blocked = [
        Requirement("IDENTITY_UNVERIFIED", "verify your identity before cashing out")
    ]
    await sign_in(page, served, "/studio", token_for("creator:ida", "CREATOR"))
    await expect(page.locator("[data-wallet=available]")).to_have_text("4,000")
    await screenshot(page, "studio")

    await page.evaluate("window.notReloaded = true")
    await page.fill("#diamonds", "2000")
    await page.select_option("#provider", "ledgerbank")
    await page.click("#cash-out button[name=review]")
    requirements = page.locator(".requirements")
    await expect(requirements).to_contain_text("Identity unverified")
    fix = requirements.locator("[data-requirement=IDENTITY_UNVERIFIED] a.fix")
    await expect(fix).to_have_attribute("href", "/studio/setup#identity")
    await expect(page.locator("#cash-out .error, #cash-out .field-error").first).to_contain_text(
        "verify your identity"
    )
    assert await page.evaluate("window.notReloaded") is True
    await screenshot(page, "payout-refused")
    await expect(page.locator("[data-wallet=available]")).to_have_text("4,000")

    # The fix link lands on the part of the setup page that says what to do.
    await fix.click()
    await expect(page.locator("#identity")).to_contain_text("startIdentityVerification")
    await screenshot(page, "setup")

    # Once compliance lets it through, the same form quotes it, and Confirm requests it.
    served.rig.gate.blocked = []
    await page.goto(f"{served.url}/studio")
    await page.fill("#diamonds", "2000")
    await page.select_option("#provider", "ledgerbank")
    await page.click("#cash-out button[name=review]")
    await expect(page.locator("[data-quote=net]")).to_have_text("10.00 USD")
    await page.click("#cash-out button[name=confirm]")
    await expect(page.locator("#payout-panel .notice")).to_contain_text("requested")
    await page.goto(f"{served.url}/studio")
    await expect(page.locator("[data-wallet=available]")).to_have_text("2,000")
    await expect(page.locator("table.payouts tbody tr").first).to_contain_text("2,000")


BIG = 120_000
"""Diamonds worth $600, above the rig's approval threshold: the payout awaits approval."""

APPROVE = """
mutation($id: ID!) { approvePayout(input: {payoutId: $id}) { payout { status } errors { code } } }
"""


async def test_a_creator_reviews_the_quote_confirms_and_watches_the_payout_get_paid_live(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    row_counts: Callable[..., Awaitable[dict[str, int]]],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    await rich_creator(BIG, "creator:ivy")
    served.rig.bank.fee = 125
    served.rig.gate.withholding_bps = 2_400
    await sign_in(page, served, "/studio", token_for("creator:ivy", "CREATOR"))

    # Eligibility up front (compliance as it really stands: nothing done yet), each with its fix.
    bank = page.locator("#eligibility li[data-provider=ledgerbank]")
    await expect(bank).to_have_attribute("data-eligible", "no")
    await expect(bank.locator("[data-requirement=IDENTITY_UNVERIFIED] a.fix")).to_have_attribute(
        "href", "/studio/setup#identity"
    )
    await expect(
        bank.locator("[data-requirement=PAYOUT_METHOD_UNVERIFIED] a.fix")
    ).to_have_attribute("href", "/studio/setup#payout-method-ledgerbank")

    before = await row_counts("payouts", "ledger_holds", "ledger_transactions")
    await page.fill("#diamonds", str(BIG))
    await page.select_option("#provider", "ledgerbank")
    await page.click("#cash-out button[name=review]")
    review = page.locator("#payout-review")
    await expect(review.locator("[data-quote=gross]")).to_have_text("600.00 USD")
    await expect(review.locator("[data-quote=fee]")).to_have_text("1.25 USD")
    await expect(review.locator("[data-quote=withholding]")).to_have_text("144.00 USD")
    await expect(review.locator("[data-quote=net]")).to_have_text("454.75 USD")
    await screenshot(page, "review")
    # Reviewing asked for a quote only: nothing is held or recorded before Confirm.
    assert await row_counts("payouts", "ledger_holds", "ledger_transactions") == before
    await expect(page.locator("[data-wallet=available]")).to_have_text("120,000")

    # A Confirm without this session's CSRF token (forged or missing) requests nothing.
    confirm = {"diamonds": str(BIG), "provider": "ledgerbank", "currency": "USD"}
    for csrf in ({"csrf": "forged"}, {}):
        answer = await page.request.post(
            f"{served.url}/studio/payouts", form={**confirm, **csrf, "confirmed": "yes"}
        )
        assert answer.status == 403
        assert "nothing was changed" in await answer.text()
    assert await row_counts("payouts", "ledger_holds", "ledger_transactions") == before

    await page.click("#payout-review button[name=confirm]")
    panel = page.locator("#payout-panel")
    await expect(panel.locator(".notice")).to_have_text("Payout requested.")
    status = panel.locator("h1 .status")
    await expect(status).to_have_text("awaiting approval")
    await expect(panel).to_contain_text("454.75 USD")
    await expect(page.locator("body")).to_have_attribute("data-live", "connected")
    await page.evaluate("window.notReloaded = true")
    await screenshot(page, "payout-requested")

    # Finance approves through the API; the worker submits it, the bank's webhook says PAID.
    payout_id = page.url.rsplit("/", 1)[1].split("?")[0]
    pk = pk_of(payout_id, "Payout")
    finance = {"Authorization": f"Bearer {token_for('finance:fay', 'FINANCE')}"}
    async with ClientSession() as http:
        answer = await http.post(
            f"{served.url}/graphql",
            json={"query": APPROVE, "variables": {"id": payout_id}},
            headers=finance,
        )
        approved = await answer.json()
        assert approved["data"]["approvePayout"]["errors"] == [], approved
        await expect(status).to_have_text("submitted", timeout=15_000)
        headers, body = signed(
            {"id": f"evt-{pk}", "state": "PAID", "payout": f"diamonds-payout-{pk}"}
        )
        paid = await http.post(f"{served.url}/webhooks/ledgerbank", data=body, headers=headers)
        assert paid.status == 200
    await expect(status).to_have_text("paid")
    await expect(page.locator("#payout-history")).to_contain_text("finance")
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"
    await screenshot(page, "payout-paid")


async def test_a_creator_watches_gifts_arrive_and_the_leaderboard_move_in_their_live_stream(
    served: Served,
    page: Page,
    live_stream: Callable[..., Awaitable[Any]],
    funded_viewer: Callable[..., Awaitable[User]],
    gift: Callable[..., Awaitable[Any]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    live = await live_stream(title="Sunday songs")
    viewer = await funded_viewer(100, "viewer:gil")
    rival = await funded_viewer(100, "viewer:hal")
    rose = await gift("Rose", 1)
    await sign_in(page, served, "/studio", token_for(live.creator.subject, "CREATOR"))
    await page.goto(f"{served.url}/studio/live")
    await expect(page.locator("h1")).to_have_text("Live: Sunday songs")
    await expect(page.locator("body")).to_have_attribute("data-live", "connected")

    await send_gift(
        served.rig.eco, viewer, stream_id=live.stream.id, gift_id=rose.id, quantity=5, key="g1"
    )
    row = page.locator("#gift-feed tr").first
    await expect(row).to_contain_text("Rose")
    await expect(row).to_contain_text("5")
    await expect(page.locator("#stream-total")).to_have_text("5")
    leaderboard = page.locator("#leaderboard tr")
    await expect(leaderboard).to_have_count(1)
    await expect(leaderboard.first).to_contain_text(viewer.display_name)
    await page.evaluate("window.notReloaded = true")

    await send_gift(
        served.rig.eco, rival, stream_id=live.stream.id, gift_id=rose.id, quantity=8, key="g2"
    )
    await expect(leaderboard).to_have_count(2)
    await expect(leaderboard.nth(0)).to_contain_text(rival.display_name)
    await expect(leaderboard.nth(0)).to_contain_text("8")
    await expect(leaderboard.nth(1)).to_contain_text(viewer.display_name)
    await expect(leaderboard.nth(1)).to_contain_text("5")
    assert await page.evaluate("window.notReloaded") is True
    await screenshot(page, "live")


async def test_a_creator_sees_the_earnings_chart_and_a_readable_wallet_history(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    await rich_creator(4_000, "creator:eve")
    await sign_in(page, served, "/studio", token_for("creator:eve", "CREATOR"))
    await page.goto(f"{served.url}/studio/earnings")
    chart = page.locator("#earnings-chart svg")
    await expect(chart).to_be_visible()
    await expect(chart).to_contain_text("Diamonds earned per day")
    await expect(page.locator("#period-total")).to_have_text("4,000")
    await expect(page.locator("#streams tbody tr").first).to_contain_text("earning")
    await expect(page.locator("#streams tbody tr").first).to_contain_text("4,000")
    await screenshot(page, "earnings")

    await page.click("nav.main >> text=Wallet history")
    entry = page.locator("#wallet-history tbody tr").first
    await expect(entry).to_contain_text("Gift received")
    await expect(entry).to_contain_text("earning")
    await expect(entry).to_contain_text("4,000")
    await screenshot(page, "wallet-history")


async def test_a_creator_fixes_a_missing_requirement_from_its_link(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    await rich_creator(4_000, "creator:jo")
    await sign_in(page, served, "/studio", token_for("creator:jo", "CREATOR"))
    bank = page.locator("#eligibility li[data-provider=ledgerbank]")
    await bank.locator("[data-requirement=AGE_UNVERIFIED] a.fix").click()
    await expect(page).to_have_url(f"{served.url}/studio/setup#identity")
    identity = page.locator("#identity")
    await expect(identity.locator("[data-setup=identity]")).to_contain_text("not started")

    # A payload error shows next to its field, and nothing is lost of what was typed.
    await identity.locator("input[name=legal_name]").fill("Jo Creator")
    await identity.locator("input[name=date_of_birth]").fill("1990-04-01")
    await identity.locator("input[name=country]").fill("Q1")
    await identity.locator("button[type=submit]").click()
    await expect(identity.locator(".field-error, .error").first).to_be_visible()
    await expect(identity.locator("input[name=legal_name]")).to_have_value("Jo Creator")
    await screenshot(page, "setup-refused")

    await identity.locator("input[name=country]").fill("US")
    await identity.locator("button[type=submit]").click()
    await expect(page.locator(".notice")).to_contain_text("Identity verification started")
    await expect(page.locator("#identity [data-setup=identity]")).to_contain_text("pending")
    await expect(page.locator("[data-setup=date-of-birth]")).to_contain_text("1990-04-01")
    await screenshot(page, "setup-done")
