"""The browser bench: the service (payouts through the test bank, the embedded worker, the
consoles) on a free loopback port, and Debian's Chromium driven by Playwright (never a browser
download). Without Chromium the tests are skipped, except under CI, where `.ci/run` installs it.
Screenshots go to test-output/screenshots/ (not committed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from diamonds.app import mount_consoles
from graph.server import create_app
from tests.payout_fixtures import Rig

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Served:
    url: str
    rig: Rig


@pytest.fixture
async def served(rig: Rig) -> AsyncIterator[Served]:
    """The service as `diamonds serve` assembles it, with the test bank as its only provider."""
    app = create_app(rig.eco, rig.svc, run_worker=True)
    mount_consoles(app, rig.eco, rig.svc)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(f"http://127.0.0.1:{port}", rig)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Awaitable[None]]:
    """`await screenshot(page, "payout")`: the whole page, named after the test and database."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = request.node.name.replace("[", "-").replace("]", "")

    async def take(page: Page, what: str) -> None:
        await page.screenshot(path=str(SCREENSHOTS / f"{test}-{what}.png"), full_page=True)

    return take


class Site(Protocol):
    """Anything served at a base URL (`Served`, or a bench of its own)."""

    @property
    def url(self) -> str: ...


async def sign_in(page: Page, served: Site, area: str, token: str) -> None:
    """Open `area` (`/console` or `/studio`), get its sign-in form, paste the token."""
    await page.goto(f"{served.url}{area}")
    await page.fill("textarea#token", token)
    await page.click("form.stack button[type=submit]")
    await page.wait_for_load_state()
