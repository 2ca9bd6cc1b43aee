"""Conversion rates work in whole numbers: every rounding goes down, and what rounding leaves
over stays with the platform."""

from __future__ import annotations

import pytest

from settings.rates import CashRate, GiftRate, GiftSplit


def test_by_default_a_coin_is_two_diamonds_shared_half_and_half() -> None:
    split = GiftRate().split(5)
    assert split == GiftSplit(coins=5, creator_diamonds=5, platform_diamonds=5)
    assert split.gross_diamonds == 10


def test_a_split_of_nothing_is_nothing() -> None:
    assert GiftRate().split(0) == GiftSplit(coins=0, creator_diamonds=0, platform_diamonds=0)


def test_a_negative_amount_of_coins_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        GiftRate().split(-1)


@pytest.mark.parametrize(
    ("rate", "coins", "creator", "platform"),
    [
        (GiftRate(diamonds_per_coin=1, creator_share_bps=5_000), 3, 1, 2),
        (GiftRate(diamonds_per_coin=3, creator_share_bps=3_333), 1, 0, 3),
        (GiftRate(diamonds_per_coin=3, creator_share_bps=3_333), 5, 4, 11),
        (GiftRate(diamonds_per_coin=2, creator_share_bps=7_000), 29_999, 41_998, 18_000),
        (GiftRate(diamonds_per_coin=1, creator_share_bps=1), 9_999, 0, 9_999),
        (GiftRate(diamonds_per_coin=1, creator_share_bps=10_000), 7, 7, 0),
        (GiftRate(diamonds_per_coin=1, creator_share_bps=0), 7, 0, 7),
    ],
)
def test_the_creator_share_rounds_down_and_the_remainder_goes_to_the_platform(
    rate: GiftRate, coins: int, creator: int, platform: int
) -> None:
    assert rate.split(coins) == GiftSplit(coins, creator, platform)


def test_a_split_never_loses_or_invents_a_diamond() -> None:
    for per_coin in (1, 2, 3, 7):
        for bps in (0, 1, 3_333, 5_000, 6_667, 9_999, 10_000):
            rate = GiftRate(diamonds_per_coin=per_coin, creator_share_bps=bps)
            for coins in (*range(50), 29_999, 34_999, 44_999 * 10_000):
                split = rate.split(coins)
                assert type(split.creator_diamonds) is int
                assert type(split.platform_diamonds) is int
                assert split.gross_diamonds == coins * per_coin
                assert split.creator_diamonds * 10_000 <= coins * per_coin * bps
                assert (split.creator_diamonds + 1) * 10_000 > coins * per_coin * bps


@pytest.mark.parametrize(
    ("fraction", "diamonds", "minor"),
    [
        ((1, 2), 0, 0),
        ((1, 2), 1, 0),
        ((1, 2), 3, 1),
        ((1, 2), 200, 100),
        ((9, 20), 3, 1),
        ((9, 20), 100, 45),
        ((3, 1), 7, 21),
    ],
)
def test_cash_for_diamonds_rounds_down_to_a_whole_minor_unit(
    fraction: tuple[int, int], diamonds: int, minor: int
) -> None:
    paid = CashRate("USD", fraction).cash_for(diamonds)
    assert paid == minor
    assert type(paid) is int


@pytest.mark.parametrize(
    ("fraction", "minor", "diamonds"),
    [((1, 2), 0, 0), ((1, 2), 1, 2), ((1, 2), 100, 200), ((9, 20), 1, 3), ((9, 20), 45, 100)],
)
def test_diamonds_for_cash_is_the_fewest_diamonds_worth_it(
    fraction: tuple[int, int], minor: int, diamonds: int
) -> None:
    assert CashRate("USD", fraction).diamonds_for(minor) == diamonds


def test_diamonds_for_and_cash_for_agree() -> None:
    for fraction in ((1, 2), (9, 20), (1, 1), (3, 7), (5, 1)):
        rate = CashRate("USD", fraction)
        for minor in range(300):
            needed = rate.diamonds_for(minor)
            assert type(needed) is int
            assert rate.cash_for(needed) >= minor
            assert needed == 0 or rate.cash_for(needed - 1) < minor
