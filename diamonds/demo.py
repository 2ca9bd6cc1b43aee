"""Demo data: a gift catalog with TikTok's prices, coin bundles priced in USD and EUR, four demo
users (viewer, creator, and admin and finance as staff), a live stream, welcome coins. Idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from economy.app import Economy
from economy.catalog import put_coin_bundle, put_gift
from economy.grants import grant_coins
from economy.streams import start_stream
from economy.tables import streams
from economy.users import User
from economy.wallets import wallet_balance
from graph.auth import Principal, Role, mint_token
from kernel.errors import DomainError
from settings.service import Settings

DEMO_GIFTS: tuple[tuple[str, int], ...] = (
    ("Rose", 1),
    ("TikTok", 1),
    ("Finger Heart", 5),
    ("Panda", 5),
    ("Doughnut", 30),
    ("Rainbow Puke", 100),
    ("Hand Hearts", 100),
    ("Concert", 500),
    ("Lion", 29_999),
    # Reported at 34,999 coins; newer reports say 44,999. The catalog is data: reprice it here.
    ("Universe", 34_999),
)
"""Gift name and price in coins, as TikTok LIVE prices them."""

DEMO_BUNDLES: tuple[tuple[int, Mapping[str, int]], ...] = (
    (70, {"USD": 99, "EUR": 99}),
    (350, {"USD": 499, "EUR": 499}),
    (700, {"USD": 999, "EUR": 999}),
    (1_400, {"USD": 1_999, "EUR": 1_999}),
    (3_500, {"USD": 4_999, "EUR": 4_999}),
    (7_000, {"USD": 9_999, "EUR": 9_999}),
)
"""Coins per bundle and its price in minor units per currency: a price table, not a rate.

The USD prices are the in-app ones reported for TikTok (70 coins for $0.99); the EUR column
follows the app stores' price points and is illustrative.
"""

VIEWER = "demo-viewer"
CREATOR = "demo-creator"
ADMIN = "demo-admin"
FINANCE = "demo-finance"

DEMO_ROLES: Mapping[str, tuple[Role, ...]] = {
    VIEWER: (Role.VIEWER,),
    CREATOR: (Role.CREATOR, Role.VIEWER),
    ADMIN: (Role.ADMIN,),
    FINANCE: (Role.FINANCE,),
}
"""Each demo subject and the roles its token carries."""

WELCOME_COINS = 10_000
WELCOME_KEY = "demo-welcome-coins"
"""The grant's fixed idempotency key: loading the demo again replays the grant, never repeats it."""

STREAM_TITLE = "Demo stream"


@dataclass(frozen=True)
class DemoSummary:
    """What `load_demo` put in place (or found already there)."""

    gifts: tuple[tuple[str, int], ...]
    bundles: tuple[tuple[int, Mapping[str, int]], ...]
    stream_id: int
    stream_started: bool
    """False when the creator's live stream was already running."""
    coins_granted: bool
    """False when the welcome grant had been made by an earlier load."""
    viewer_coins: int
    subjects: tuple[str, ...]


async def load_demo(eco: Economy) -> DemoSummary:
    """Put the demo catalog, users, stream and welcome coins in place. Running it again changes
    nothing: the catalog is upserted, users are found, the live stream is reused and the grant
    is replayed by its idempotency key."""
    async with eco.db.write() as conn:
        for name, coins in DEMO_GIFTS:
            await put_gift(conn, name, coins)
        for bundle_coins, prices in DEMO_BUNDLES:
            await put_coin_bundle(conn, bundle_coins, prices.items())

    users = {
        subject: await eco.users.ensure(
            subject, staff=Principal(subject=subject, roles=frozenset(roles)).is_staff
        )
        for subject, roles in DEMO_ROLES.items()
    }
    grant = await grant_coins(
        eco,
        users[ADMIN],
        subject=VIEWER,
        coins=WELCOME_COINS,
        reason="Demo welcome coins",
        key=WELCOME_KEY,
    )
    stream_id, started = await _live_demo_stream(eco, users[CREATOR])
    async with eco.db.read() as conn:
        viewer_coins = (await wallet_balance(conn, users[VIEWER].coin_account_id)).balance
    return DemoSummary(
        gifts=DEMO_GIFTS,
        bundles=DEMO_BUNDLES,
        stream_id=stream_id,
        stream_started=started,
        coins_granted=not grant.replayed,
        viewer_coins=viewer_coins,
        subjects=tuple(DEMO_ROLES),
    )


async def _live_demo_stream(eco: Economy, creator: User) -> tuple[int, bool]:
    """The creator's live stream, started unless one is live already; and whether it started."""
    try:
        stream = await start_stream(eco, creator, STREAM_TITLE)
    except DomainError as exc:
        if exc.code != "STREAM_ALREADY_LIVE":
            raise
    else:
        return stream.id, True
    async with eco.db.read() as conn:
        live = await conn.scalar(
            select(streams.c.id).where(
                streams.c.creator_id == creator.id, streams.c.status == "LIVE"
            )
        )
    if live is None:  # ended between our two statements: very unlucky, so just try once more
        stream = await start_stream(eco, creator, STREAM_TITLE)
        return stream.id, True
    return int(live), False


def demo_tokens(settings: Settings) -> dict[str, str]:
    """A bearer token for each demo subject, with its demo roles (valid for a day)."""
    return {subject: mint_token(settings, subject, roles) for subject, roles in DEMO_ROLES.items()}
