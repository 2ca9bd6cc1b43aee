"""The finance console in a real browser: a FINANCE user signs in, finds a payout awaiting
approval, approves it (confirming first) and watches it reach PAID without a reload; rejects one,
first without a reason (the error shows next to the field), then with one.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession
from playwright.async_api import Page, expect

from economy.users import User
from payouts.requests import request_payout
from tests.browser.conftest import Served, sign_in
from tests.payout_fixtures import signed

BIG = 120_000
"""Diamonds worth $600, above the rig's approval threshold: the payout awaits approval."""
_keys = itertools.count(1)


def global_id(pk: int) -> str:
    return base64.urlsafe_b64encode(f"Payout:{pk}".encode()).decode()


async def awaiting_approval(served: Served, creator: User) -> int:
    made = await request_payout(
        served.rig.svc,
        creator,
        diamonds=BIG,
        provider="ledgerbank",
        currency="USD",
        key=f"browser-{next(_keys)}",
    )
    assert made.payout.status == "AWAITING_APPROVAL"
    return made.payout.id


async def test_finance_approves_a_payout_and_watches_it_get_paid_live(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    creator = await rich_creator(BIG, "creator:cara")
    pk = await awaiting_approval(served, creator)

    await page.goto(f"{served.url}/console")
    await screenshot(page, "sign-in")
    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    await expect(page.locator("h1")).to_have_text("Payouts")
    await page.click("nav.main >> text=Awaiting approval")
    row = page.locator(f"tr[data-payout-id='{global_id(pk)}']")
    await expect(row).to_contain_text("creator:cara")
    await expect(row).to_contain_text("600.00 USD")
    await screenshot(page, "awaiting-approval")
    await row.locator("a").first.click()

    await expect(page.locator("#payout-panel h1 .status")).to_have_text("awaiting approval")
    await expect(page.locator("body")).to_have_attribute("data-live", "connected")
    entries = page.locator("table.ledger-entries tbody tr")
    await expect(entries).to_have_count(1)
    await expect(entries.first).to_contain_text("120,000 diamonds")
    await expect(page.locator("#payout-compliance [data-check=identity]")).to_have_text(
        "not started"
    )
    await page.evaluate("window.notReloaded = true")
    await screenshot(page, "payout")
    await page.click("form[data-action=approve] button")
    await expect(page.locator("form.confirm")).to_contain_text("This moves money")
    await screenshot(page, "confirm-approve")
    await page.click("form.confirm button[name=confirm]")
    await expect(page.locator(".notice")).to_have_text("Approved.")

    # The worker sends it to the bank (SUBMITTED); the bank's webhook then says PAID.
    status = page.locator("#payout-panel h1 .status")
    await expect(status).to_have_text("submitted", timeout=15_000)
    headers, body = signed({"id": f"evt-{pk}", "state": "PAID", "payout": f"diamonds-payout-{pk}"})
    async with ClientSession() as http:
        answer = await http.post(f"{served.url}/webhooks/ledgerbank", data=body, headers=headers)
        assert answer.status == 200
    await expect(status).to_have_text("paid")
    assert await page.evaluate("window.notReloaded") is True, "the page was reloaded"
    await expect(page.locator("table.history")).to_contain_text("finance:fay")
    # The live re-render brings the hold's posting and the cash legs too.
    kinds = page.locator("table.ledger-entries tbody tr")
    await expect(kinds.locator("td:nth-child(3)")).to_have_text(
        ["payout hold", "hold posted", "payout paid"]
    )
    await screenshot(page, "paid")


async def test_finance_rejects_a_payout_with_a_reason(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    sql: Callable[..., Awaitable[list[Any]]],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    creator = await rich_creator(BIG, "creator:rex")
    pk = await awaiting_approval(served, creator)
    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    await page.goto(f"{served.url}/console/payouts/{global_id(pk)}")

    reject = page.locator("form[data-action=reject]")
    await reject.locator("button").click()
    await expect(page.locator("form[data-action=reject] .field-error")).to_be_visible()
    await screenshot(page, "reject-without-reason")
    assert await sql("SELECT status FROM payouts WHERE id = :id", id=pk) == [("AWAITING_APPROVAL",)]

    await page.fill("form[data-action=reject] input[name=reason]", "payee name does not match")
    await page.click("form[data-action=reject] button")
    await expect(page.locator(".notice")).to_have_text("Rejected.")
    await expect(page.locator("#payout-panel h1 .status")).to_have_text("rejected")
    await expect(page.locator("table.history")).to_contain_text("payee name does not match")
    await screenshot(page, "rejected")
    assert await sql("SELECT status FROM payouts WHERE id = :id", id=pk) == [("REJECTED",)]
