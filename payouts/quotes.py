"""What a payout of some diamonds would pay (gross, fee, withholding, net), checked as a request
is checked before anything is held: `quote_payout`, used by `requestPayout` and `payoutQuote`.
"""

from __future__ import annotations

from dataclasses import dataclass

from compliance.gate.rules import Requirement
from economy.money import format_money
from economy.users import User
from kernel.clock import utcnow
from kernel.errors import DomainError
from kernel.validation import whole_number
from payouts.service import PayoutService


class RequirementsNotMet(DomainError):
    """The compliance gate blocks the payout; every missing requirement is listed."""

    def __init__(self, requirements: tuple[Requirement, ...]) -> None:
        self.requirements = requirements
        codes = ", ".join(r.code for r in requirements)
        super().__init__("PAYOUT_BLOCKED", f"payouts are blocked until: {codes}", None)


@dataclass(frozen=True)
class Quote:
    """What a payout of some diamonds pays, in integer minor units."""

    diamonds: int
    currency: str
    gross_minor: int
    fee_minor: int
    withholding_minor: int

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.fee_minor - self.withholding_minor


def withholding(gross_minor: int, bps: int) -> int:
    """Tax withheld, rounded up to the minor unit so that never too little is withheld."""
    return -(-gross_minor * bps // 10_000)


def check_diamonds(svc: PayoutService, diamonds: int) -> None:
    """INVALID_AMOUNT unless `diamonds` is a whole number from 1 to the policy's maximum."""
    whole_number(
        diamonds,
        field="diamonds",
        code="INVALID_AMOUNT",
        low=1,
        high=svc.policy.max_diamonds,
        what="the diamonds",
    )


async def quote_payout(
    svc: PayoutService, creator: User, *, diamonds: int, provider: str, currency: str
) -> Quote:
    """The quote for `creator` cashing out `diamonds` through `provider` in `currency`; reads
    only. Raises `DomainError`: INVALID_AMOUNT, UNKNOWN_PROVIDER, PROVIDER_NOT_CONFIGURED
    (`ProviderNotConfigured`), UNSUPPORTED_CURRENCY (no cash rate for it, or the provider does
    not pay it), BELOW_MINIMUM, PAYOUT_BLOCKED (`RequirementsNotMet`) or AMOUNT_TOO_SMALL."""
    check_diamonds(svc, diamonds)
    code = currency.strip().upper()
    chosen = svc.provider(provider)
    rate = svc.eco.settings.cash_rates.get(code)
    if rate is None:
        priced = ", ".join(sorted(svc.eco.settings.cash_rates)) or "none"
        raise DomainError(
            "UNSUPPORTED_CURRENCY",
            f"diamonds have no cash value in {code[:8]!r}: DIAMONDS_CASH_RATES has no rate for "
            f"it (rates: {priced})",
            "currency",
        )
    if code not in chosen.currencies:
        raise DomainError(
            "UNSUPPORTED_CURRENCY",
            f"{provider} does not pay out in {code[:8]!r} (it pays "
            f"{', '.join(sorted(chosen.currencies))})",
            "currency",
        )
    gross = rate.cash_for(diamonds)
    minimum = svc.policy.minimum_minor
    if gross < minimum:
        raise DomainError(
            "BELOW_MINIMUM",
            f"{diamonds:,} diamonds are worth {format_money(gross, code)}; the minimum is "
            f"{rate.diamonds_for(minimum):,} diamonds ({format_money(minimum, code)})",
            "diamonds",
        )
    async with svc.eco.db.read() as conn:
        eligibility = await svc.gate.check(
            conn,
            user_id=creator.id,
            provider=provider,
            currency=code,
            amount_minor=gross,
            today=utcnow().date(),
        )
    if not eligibility.eligible:
        raise RequirementsNotMet(eligibility.requirements)
    quote = Quote(
        diamonds=diamonds,
        currency=code,
        gross_minor=gross,
        fee_minor=chosen.fee_minor(gross, code),
        withholding_minor=withholding(gross, eligibility.withholding_bps),
    )
    if quote.net_minor <= 0:
        raise DomainError(
            "AMOUNT_TOO_SMALL", "nothing would be left after fees and withholding", "diamonds"
        )
    return quote
