"""Money as the error messages show it: minor units in the major unit, with each currency's
ISO 4217 decimals, exactly."""

from __future__ import annotations

import pytest

from economy.money import format_money


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1_000, "USD", "$10.00"),
        (5, "usd", "$0.05"),
        (123_456_789, "USD", "$1,234,567.89"),
        (-1_050, "EUR", "-€10.50"),
        (0, "GBP", "£0.00"),
        (500, "JPY", "¥500"),
        (1_234_567, "KRW", "1,234,567 KRW"),
        (1_500, "KWD", "1.500 KWD"),
        (1_250, "CHF", "12.50 CHF"),
    ],
)
def test_minor_units_are_shown_in_the_major_unit(minor: int, currency: str, shown: str) -> None:
    assert format_money(minor, currency) == shown
