"""The creator studio in a real browser: a creator signs in, sees the diamond wallet, asks for a
payout and, refused for compliance, sees each missing requirement; on the live page gifts arrive
and move the leaderboard without a reload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from compliance.gate.rules import Requirement
from economy.gifting import send_gift
from economy.users import User
from tests.browser.conftest import Served, sign_in


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
    await page.click("#cash-out button[type=submit]")
    requirements = page.locator(".requirements")
    await expect(requirements).to_contain_text("Identity unverified")
    await expect(page.locator("#cash-out .error, #cash-out .field-error").first).to_contain_text(
        "verify your identity"
    )
    assert await page.evaluate("window.notReloaded") is True
    await screenshot(page, "payout-refused")
    await expect(page.locator("[data-wallet=available]")).to_have_text("4,000")

    # Once compliance lets it through, the same form requests it; the wallet shows the hold.
    served.rig.gate.blocked = []
    await page.fill("#diamonds", "2000")
    await page.select_option("#provider", "ledgerbank")
    await page.click("#cash-out button[type=submit]")
    await expect(page.locator("#cash-out .notice")).to_contain_text("requested")
    await page.reload()
    await expect(page.locator("[data-wallet=available]")).to_have_text("2,000")
    await expect(page.locator("table.payouts tbody tr").first).to_contain_text("2,000")


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
