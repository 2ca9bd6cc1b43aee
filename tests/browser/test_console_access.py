"""Who may enter, in a real browser: a viewer is refused the console (403, with a page saying
why), and a form posted with a forged or missing CSRF token changes nothing (403)."""

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

    # A creator signed in to the studio is refused the console too, and a viewer the studio.
    await sign_in(page, served, "/studio", token_for("creator:cid", "CREATOR"))
    refused = await page.goto(f"{served.url}/console/payouts")
    assert refused is not None
    assert refused.status == 403
    await expect(page.locator("h1")).to_contain_text("Not for your role")


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
