"""The areas' sessions without a browser: the cookie's attributes and lifetime, a forged cookie,
a sign-in from another site, one cookie per area (signed in and out separately, not replayable
in the other), and the sign-in page's demo users in development only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer

from consoles.areas import CONSOLE, STUDIO
from diamonds.app import mount_consoles
from economy.app import Economy
from graph.server import create_app


def client_for(eco: Economy) -> TestClient:  # type: ignore[type-arg]
    app = create_app(eco)
    mount_consoles(app, eco, None)
    return TestClient(TestServer(app))


def csrf_on(page: str) -> str:
    """The CSRF token a signed-in page's forms carry."""
    return page.split('name="csrf" value="')[1].split('"')[0]


async def test_the_cookie_is_signed_httponly_strict_and_ends_with_the_token(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    token = token_for("finance:fay", "FINANCE", ttl_seconds=600)
    async with client_for(economy) as client:
        answer = await client.post("/console/sign-in", data={"token": token}, allow_redirects=False)
        assert answer.status == 303
        cookie = answer.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # development
        max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
        assert 590 <= max_age <= 600
        assert (await client.get("/console/payouts")).status == 200

        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({CONSOLE.cookie_name: "e30.forged-signature"})
        forged = await client.get("/console/payouts")
        assert forged.status == 200
        assert "Sign in to the finance console" in await forged.text()


async def test_a_bad_token_or_another_sites_sign_in_is_refused(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    async with client_for(economy) as client:
        bad = await client.post("/console/sign-in", data={"token": "not-a-token"})
        assert bad.status == 401
        assert "the token is malformed" in await bad.text()
        elsewhere = await client.post(
            "/console/sign-in",
            data={"token": token_for("finance:fay", "FINANCE")},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        )
        assert elsewhere.status == 403
        assert CONSOLE.cookie_name not in elsewhere.cookies
        expired = token_for("finance:fay", "FINANCE", ttl_seconds=-10)
        assert (await client.post("/console/sign-in", data={"token": expired})).status == 401


async def test_outside_development_no_demo_users_and_a_secure_cookie(
    economy: Economy,
    start_economy: Callable[..., Awaitable[Economy]],
    token_for: Callable[..., str],
) -> None:
    async with client_for(economy) as client:
        assert "Sign in as demo-finance" in await (await client.get("/console")).text()
    production = await start_economy(development=False)
    async with client_for(production) as client:
        page = await (await client.get("/studio")).text()
        assert "Sign in to the creator studio" in page
        assert "demo-" not in page
        answer = await client.post(
            "/studio/sign-in",
            data={"token": token_for("creator:cy", "CREATOR")},
            allow_redirects=False,
        )
        assert "Secure" in answer.headers["Set-Cookie"]


async def test_each_area_has_its_own_cookie_under_its_own_path(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    async with client_for(economy) as client:
        console = await client.post(
            "/console/sign-in",
            data={"token": token_for("finance:fay", "FINANCE")},
            allow_redirects=False,
        )
        studio = await client.post(
            "/studio/sign-in",
            data={"token": token_for("creator:cy", "CREATOR")},
            allow_redirects=False,
        )
        assert console.cookies[CONSOLE.cookie_name]["path"] == "/console"
        assert studio.cookies[STUDIO.cookie_name]["path"] == "/studio"
        assert STUDIO.cookie_name not in console.cookies
        assert CONSOLE.cookie_name not in studio.cookies
        assert "Sign out" in await (await client.get("/console/payouts")).text()
        assert "Sign out" in await (await client.get("/studio")).text()


async def test_signing_out_of_one_area_leaves_the_other_signed_in(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    both = token_for("staff:sam", "FINANCE", "CREATOR")
    async with client_for(economy) as client:
        await client.post("/console/sign-in", data={"token": both})
        console_page = await (await client.get("/console/payouts")).text()
        csrf = csrf_on(console_page)
        assert "Sign in to the creator studio" in await (await client.get("/studio")).text()

        await client.post("/studio/sign-in", data={"token": both})
        studio_csrf = csrf_on(await (await client.get("/studio")).text())
        assert studio_csrf != csrf
        out = await client.post("/studio/sign-out", data={"csrf": studio_csrf})
        assert out.status == 200
        assert "Sign in to the creator studio" in await (await client.get("/studio")).text()
        assert "Sign out" in await (await client.get("/console/payouts")).text()
        assert csrf in await (await client.get("/console/payouts")).text()


async def test_a_studio_cookie_is_not_a_console_session(
    economy: Economy, token_for: Callable[..., str]
) -> None:
    both = token_for("staff:sam", "FINANCE", "CREATOR")
    async with client_for(economy) as client:
        studio = await client.post("/studio/sign-in", data={"token": both}, allow_redirects=False)
        replayed = studio.cookies[STUDIO.cookie_name].value
        client.session.cookie_jar.clear()
        client.session.cookie_jar.update_cookies({CONSOLE.cookie_name: replayed})
        page = await client.get("/console/payouts")
        assert page.status == 200
        assert "Sign in to the finance console" in await page.text()
