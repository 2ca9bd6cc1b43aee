"""Money as people read it: integer minor units shown in the currency's major unit with its ISO
4217 number of decimals, e.g. 1000 USD is "$10.00", 500 JPY "¥500" and 1500 KWD "1.500 KWD".
"""

from __future__ import annotations

from collections.abc import Mapping

DECIMALS: Mapping[str, int] = {
    # ISO 4217 currencies whose minor unit is not a hundredth of the major unit; 2 otherwise.
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"),
        0,
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
SYMBOLS: Mapping[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
"""Currencies shown with a symbol; every other one with its code after the number."""


def format_money(minor: int, currency: str) -> str:
    """`minor` minor units of `currency` for a person to read: "$1,234.56", "-€0.05", "¥500",
    "12.50 CHF". Exact: integer arithmetic only."""
    code = currency.strip().upper()
    decimals = DECIMALS.get(code, 2)
    whole, fraction = divmod(abs(minor), 10**decimals)
    number = f"{whole:,}" + (f".{fraction:0{decimals}d}" if decimals else "")
    sign = "-" if minor < 0 else ""
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {code}"
