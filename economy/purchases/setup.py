"""The coin purchase flow for a process: the payment provider (Stripe, configured from
`DIAMONDS_STRIPE_*`) and the compliance age gate; None when Stripe is not configured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from economy.app import Economy
from economy.purchases.age_check import ComplianceAgeGate
from economy.purchases.service import AgeGate, PaymentsGateway
from providers.errors import ProviderConfigError
from providers.stripe_payments import StripePayments

log = logging.getLogger(__name__)


@dataclass
class PurchaseService:
    eco: Economy
    payments: PaymentsGateway
    gate: AgeGate
    stripe: StripePayments | None = None
    """The same gateway when it is Stripe: it also verifies the payment webhooks."""

    async def close(self) -> None:
        if self.stripe is not None:
            await self.stripe.close()


def build_purchase_service(
    eco: Economy, environ: Mapping[str, str] | None = None
) -> PurchaseService | None:
    env = os.environ if environ is None else environ
    if not env.get("DIAMONDS_STRIPE_API_KEY"):
        log.info("coin purchases are off: DIAMONDS_STRIPE_API_KEY is not set")
        return None
    try:
        stripe = StripePayments.from_env(env)
    except ProviderConfigError as exc:
        log.error("coin purchases are off: %s", exc)
        return None
    return PurchaseService(
        eco=eco, payments=stripe, gate=ComplianceAgeGate(eco.settings), stripe=stripe
    )
