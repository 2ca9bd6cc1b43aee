"""Who may enter, in a real browser: a viewer is refused the console (403, with a page saying
why), a studio session is no console session (each area signs in and out on its own), and a form
posted with a forged or missing CSRF token changes nothing (403)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from economy.users import User
from tests.browser.conftest import Served, sign_in
from tests.browser.test_finance_console import BIG, awaiting_approval, global_id


async def test_a_viewer_cannot_open_the_console(
    served: Served,
    page: Page,
    token_for: Callable[..., str],
    screenshot: Callable[[Page, str], Awaitable[None]],
) -> None:
    viewer = token_for("viewer:vic", "VIEWER")
    await page.goto(f"{served.url}/console")
    await page.fill("textarea#token", viewer)
    async with page.expect_response(f"{served.url}/console/sign-in") as answer:
        await page.click("form.stack button[type=submit]")
    assert (await answer.value).status == 403
    await expect(page.locator("h1")).to_contain_text("403")
    await screenshot(page, "viewer-refused")

    # A creator signed in to the studio is not signed in at the console, and refused there.
    await sign_in(page, served, "/studio", token_for("creator:cid", "CREATOR"))
    await page.goto(f"{served.url}/console/payouts")
    await expect(page.locator("h1")).to_contain_text("Sign in to the finance console")
    await page.fill("textarea#token", token_for("creator:cid", "CREATOR"))
    async with page.expect_response(f"{served.url}/console/sign-in") as answer:
        await page.click("form.stack button[type=submit]")
    assert (await answer.value).status == 403
    await expect(page.locator("h1")).to_contain_text("Not for your role")


async def test_signing_out_of_the_studio_leaves_the_console_signed_in(
    served: Served, page: Page, token_for: Callable[..., str]
) -> None:
    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    await sign_in(page, served, "/studio", token_for("creator:cid", "CREATOR"))
    await expect(page.locator("body")).to_contain_text("creator:cid")
    await page.click('button:has-text("Sign out")')
    await page.wait_for_load_state()
    await expect(page.locator("h1")).to_contain_text("Sign in to the creator studio")
    await page.goto(f"{served.url}/console/payouts")
    await expect(page.locator("body")).to_contain_text("finance:fay")
    await expect(page.locator('button:has-text("Sign out")')).to_be_visible()


async def test_a_forged_or_missing_csrf_token_changes_nothing(
    served: Served,
    page: Page,
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
    sql: Callable[..., Awaitable[list[Any]]],
) -> None:
    pk = await awaiting_approval(served, await rich_creator(BIG, "creator:cat"))
    await sign_in(page, served, "/console", token_for("finance:fay", "FINANCE"))
    action = f"{served.url}/console/payouts/{global_id(pk)}/approve"
    for form in ({"csrf": "forged", "confirmed": "yes"}, {"confirmed": "yes"}):
        answer = await page.request.post(action, form=form)
        assert answer.status == 403
        assert "nothing was changed" in await answer.text()
    signed_out = await page.request.post(f"{served.url}/console/sign-out", form={})
    assert signed_out.status == 403
    assert await sql("SELECT status FROM payouts WHERE id = :id", id=pk) == [("AWAITING_APPROVAL",)]
