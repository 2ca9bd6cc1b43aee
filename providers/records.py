"""What a provider's own books say it moved, for reconciliation: `ProviderRecord` (one payout or
transfer as the provider reports it) and the exact conversion of its decimal amounts to minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.base import PayoutState
from providers.errors import ProviderError

MINOR_UNIT_EXPONENTS: Mapping[str, int] = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
"""ISO 4217 minor-unit exponents that are not 2 (HUF and TWD have 2, though PayPal pays them
whole)."""


def minor_unit_exponent(currency: str) -> int:
    """How many decimals a minor unit of `currency` is (2 for USD and EUR, 0 for JPY)."""
    return MINOR_UNIT_EXPONENTS.get(currency.upper(), 2)


def decimal_to_minor(provider: str, value: str | int | Decimal, currency: str) -> int:
    """A decimal amount as a provider writes it (`"12.34"` USD, `"500"` JPY) in integer minor
    units (1234, 500), exactly. Raises `ProviderError` for a value that is not a finite number or
    that holds a fraction of a minor unit (`"12.345"` USD): money is never rounded here."""
    if isinstance(value, (float, bool)):
        raise ProviderError(provider, f"amount {value!r} is not a decimal string")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ProviderError(provider, f"amount {value!r} is not a decimal number") from None
    if not amount.is_finite():
        raise ProviderError(provider, f"amount {value!r} is not a finite number")
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ProviderError(
            provider, f"amount {value!r} {currency} is not a whole number of minor units"
        )
    return int(scaled)


@dataclass(frozen=True)
class ProviderRecord:
    """One payout as the provider's own records report it, for matching against ours.

    `provider_reference` is the id our `PayoutResult.provider_reference` and
    `StatusUpdate.provider_reference` carry for the same payout (`po_...`, a PayPal batch id, a
    bank file reference), so the two sides join on it. `payout_id` is our payout id when the
    provider echoes it back (Stripe's `transfer_group`, PayPal's `sender_batch_id`, a SEPA
    EndToEndId found in our outbox); None for money we have no record of sending.

    Amounts are integers in minor units of `currency`; `fee_minor` is None when the provider
    does not report a fee, and `converted_*` is set only when the provider reports the money in
    another currency than it was sent in. `raw` is a small JSON-ready dict for display."""

    provider: str
    provider_reference: str
    payout_id: str | None
    amount_minor: int
    currency: str
    state: PayoutState
    raw_status: str
    occurred_at: datetime
    """When it settled, or when it was created if it has not settled (UTC)."""
    fee_minor: int | None = None
    converted_amount_minor: int | None = None
    converted_currency: str | None = None
    exchange_rate: str | None = None
    """The provider's rate as a decimal string, never a float."""
    failure_code: str | None = None
    source: str = ""
    """Where it was read (`transfer+payout`, `batch`, `camt.053`, `pain.002`, ...)."""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    created_at: datetime | None = None
    """When the provider created it, where that differs from `occurred_at` (a Stripe payout
    created today arrives in two days): what `settled_records` filters its period on."""

    @property
    def listed_at(self) -> datetime:
        """The time that places the record in a period (`created_at`, else `occurred_at`)."""
        return self.created_at or self.occurred_at

    def __post_init__(self) -> None:
        for name in ("amount_minor", "fee_minor", "converted_amount_minor"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"ProviderRecord.{name} must be an int, not {value!r}")
        for moment in (self.occurred_at, self.created_at):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("ProviderRecord's times must carry a time zone")
