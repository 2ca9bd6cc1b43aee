"""Conversion rates between the assets: coins into diamonds, diamonds into cash, as configured
(`DIAMONDS_DIAMONDS_PER_COIN`, `DIAMONDS_CREATOR_SHARE_BPS`, `DIAMONDS_CASH_RATES`).

All arithmetic is on integers; every rounding goes down and the remainder stays with the platform.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GiftSplit:
    """What one gift is worth once it lands: the creator's and the platform's diamonds."""

    coins: int
    creator_diamonds: int
    platform_diamonds: int

    @property
    def gross_diamonds(self) -> int:
        return self.creator_diamonds + self.platform_diamonds


@dataclass(frozen=True)
class GiftRate:
    """Each coin spent on a gift is worth `diamonds_per_coin` diamonds, of which the creator
    receives `creator_share_bps` basis points (rounded down) and the platform keeps the rest."""

    diamonds_per_coin: int = 2
    creator_share_bps: int = 5_000

    def split(self, coins: int) -> GiftSplit:
        if coins < 0:
            raise ValueError("coins must not be negative")
        gross = coins * self.diamonds_per_coin
        creator = gross * self.creator_share_bps // 10_000
        return GiftSplit(coins=coins, creator_diamonds=creator, platform_diamonds=gross - creator)


@dataclass(frozen=True)
class CashRate:
    """What a diamond is worth in one currency, as a fraction of its minor unit (cents)."""

    currency: str
    minor_per_diamond: tuple[int, int]

    def cash_for(self, diamonds: int) -> int:
        """Minor units paid for `diamonds`, rounded down to a whole minor unit."""
        numerator, denominator = self.minor_per_diamond
        return diamonds * numerator // denominator

    def diamonds_for(self, minor: int) -> int:
        """The fewest diamonds that are worth at least `minor` minor units."""
        numerator, denominator = self.minor_per_diamond
        return -(-minor * denominator // numerator)
