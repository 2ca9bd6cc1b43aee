"""The finance console's bulk work and reports in a real browser: three payouts approved at once
from the queue (after a confirmation), the filtered payouts list downloaded as CSV and read, the
audit log showing the approvals, and a reconciliation run's exceptions on its page.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from diamonds_fakes.disagreements import Disagreement, DisagreementKind
from playwright.async_api import Page, expect

from diamonds.app import mount_consoles
from economy.users import User
from graph.server import create_app
from kernel.clock import utc_today
from tests.browser.conftest import Served, sign_in
from tests.browser.test_finance_console import BIG, awaiting_approval, global_id
from tests.stripe_rig import Pay, StripeRig


async def test_finance_bulk_approves_three_and_exports_the_list_as_csv(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
    tmp_path: Path,
) -> None:
    ids = []
    for name in ("ana", "ben", "cy"):
        ids.append(
            global_id(await awaiting_approval(served, await rich_creator(BIG, f"creator:{name}")))
        )
    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    await page.goto(f"{served.url}/console/queues/awaiting-approval")
    await expect(page.locator("#total-count")).to_have_text("3")
    for payout_id in ids:
        await page.check(f"tr[data-payout-id='{payout_id}'] input[type=checkbox]")
    await page.click("#bulk-approve-selected")
    await expect(page.locator("#bulk-confirm")).to_contain_text("Approve 3 payouts?")
    await screenshot(page, "bulk-confirm")
    await page.click("#bulk-confirm button")
    await expect(page.locator("#bulk-results")).to_contain_text("Approved 3.")
    for payout_id in ids:
        await expect(page.locator(f"[data-result-for='{payout_id}']")).to_contain_text("approved")
    await screenshot(page, "bulk-approved")

    await page.goto(
        f"{served.url}/console/payouts?min_diamonds={BIG}&max_diamonds={BIG}&sort=OLDEST"
    )
    await expect(page.locator("#total-count")).to_have_text("3")
    async with page.expect_download() as download_info:
        await page.click("#export-csv")
    download = await download_info.value
    saved = tmp_path / "payouts.csv"
    await download.save_as(saved)
    with saved.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [r["creator"] for r in rows] == ["creator:ana", "creator:ben", "creator:cy"]
    assert {int(r["diamonds"]) for r in rows} == {BIG}
    assert {r["status"] for r in rows} <= {"APPROVED", "SUBMITTED"}

    await page.goto(f"{served.url}/console/audit?action=PAYOUT_APPROVED")
    await expect(page.locator("#audit-log tbody tr")).to_have_count(3)
    await expect(page.locator("#audit-log")).to_contain_text("finance:fay")
    await screenshot(page, "audit-log")


@pytest.fixture
async def stripe_served(stripe_rig: StripeRig) -> AsyncIterator[str]:
    """The service wired to the fake Stripe (which can reconcile), with the consoles."""
    app = create_app(stripe_rig.eco, stripe_rig.svc)
    mount_consoles(app, stripe_rig.eco, stripe_rig.svc)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_the_reconciliation_page_runs_a_day_and_shows_its_exceptions(
    stripe_served: str,
    stripe_rig: StripeRig,
    pay: Pay,
    page: Page,
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    await pay()
    dropped = await pay()
    stripe_rig.fake.add_disagreement(Disagreement(DisagreementKind.DROP, dropped.reference))
    await page.goto(f"{stripe_served}/console")
    await page.fill("textarea#token", token_for("finance:fay", "FINANCE"))
    await page.click("form.stack button[type=submit]")
    await page.wait_for_load_state()
    await page.goto(f"{stripe_served}/console/reconciliation")
    await page.select_option("#reconcile-form select[name=provider]", "stripe")
    await page.fill("#reconcile-form input[name=since]", utc_today().isoformat())
    await page.click("#reconcile-form button")
    await expect(page.locator("h1")).to_contain_text("Reconciliation of stripe")
    lines = page.locator("#reconciliation-lines tbody tr")
    await expect(lines).to_have_count(1)
    await expect(page.locator("#reconciliation-totals")).to_be_visible()
    await screenshot(page, "reconciliation-run")
    await lines.first.locator("input[name=note]").fill("checked with Stripe support")
    await lines.first.locator("button").click()
    await expect(page.locator("#reconciliation-lines")).to_contain_text(
        "checked with Stripe support"
    )
    await page.goto(f"{stripe_served}/console/reconciliation")
    await expect(page.locator("#reconciliation-runs tbody tr")).to_have_count(1)
