"""The platform's own ledger accounts: where spent coins go, where coins and diamonds are issued
from, and where the platform's share of each gift is booked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger import PLATFORM, Asset, BalancePolicy, open_account

HOT_SHARDS = 32
"""Platform accounts are touched by every gift: spread them widely."""


@dataclass(frozen=True)
class PlatformAccounts:
    coins_spent: int
    """COIN: credited with every coin a viewer spends on a gift."""
    coin_promotions: int
    """COIN: issues the promotional coins an admin grants (runs negative)."""
    coin_sales: int
    """COIN: issues the coins viewers buy (runs negative)."""
    diamond_issuance: int
    """DIAMOND: issues every diamond a gift is worth (runs negative)."""
    diamond_revenue: int
    """DIAMOND: the platform's share of each gift."""


async def open_platform_accounts(conn: AsyncConnection) -> PlatformAccounts:
    """The platform's accounts, opened on first use."""

    async def one(name: str, asset: Asset, policy: BalancePolicy) -> int:
        account = await open_account(conn, PLATFORM, name, asset, policy=policy, shards=HOT_SHARDS)
        return account.id

    return PlatformAccounts(
        coins_spent=await one("coins_spent", Asset.COIN, BalancePolicy.NON_NEGATIVE),
        coin_promotions=await one("coin_promotions", Asset.COIN, BalancePolicy.UNBOUNDED),
        coin_sales=await one("coin_sales", Asset.COIN, BalancePolicy.UNBOUNDED),
        diamond_issuance=await one("diamond_issuance", Asset.DIAMOND, BalancePolicy.UNBOUNDED),
        diamond_revenue=await one("diamond_revenue", Asset.DIAMOND, BalancePolicy.NON_NEGATIVE),
    )
