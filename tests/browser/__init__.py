"""Browser tests of the consoles: headless Chromium driven by Playwright against a real server."""
