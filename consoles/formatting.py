"""How the templates show values: money in minor units as decimal text (integer arithmetic only),
diamonds and list totals with thousands separators, and the API's timestamps to the minute (UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MINOR_DIGITS = {"JPY": 0, "KRW": 0, "HUF": 2, "BHD": 3, "KWD": 3}
"""Decimal places of a currency's minor unit where it is not 2 (ISO 4217)."""


def money(minor: int | str | None, currency: str = "USD") -> str:
    """`1234, "USD"` is `12.34 USD`; exact, no floats."""
    if minor is None:
        return "—"
    amount = int(minor)
    digits = MINOR_DIGITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**digits)
    text = f"{whole:,}" if digits == 0 else f"{whole:,}.{part:0{digits}d}"
    return f"{sign}{text} {currency}"


def diamonds(count: int | str | None) -> str:
    if count is None:
        return "—"
    return f"{int(count):,}"


def counted(total: int, one: str, many: str) -> str:
    """`340, "entry", "entries"` is `340 entries`; `1` is `1 entry`."""
    return f"{total:,} {one if total == 1 else many}"


def when(timestamp: str | None) -> str:
    """`2026-12-07T16:50:30.123+00:00` is `2026-12-07 16:50`."""
    if not timestamp:
        return "—"
    return timestamp.replace("T", " ")[:16]


def words(code: str | None) -> str:
    """`AWAITING_APPROVAL` is `awaiting approval`."""
    return (code or "").replace("_", " ").lower()


FILTERS: dict[str, Callable[..., Any]] = {
    "money": money,
    "diamonds": diamonds,
    "counted": counted,
    "when": when,
    "words": words,
}
