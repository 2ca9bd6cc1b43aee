"""The creator studio in a real browser: a creator signs in, sees the diamond wallet, asks for a
payout and, refused for compliance, sees each missing requirement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from compliance.policy import Requirement
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
