"""The conformance suite's sandbox for Acme: drives `AcmeApi`'s test side (settle a payment, lose
an answer, sign a webhook) as `providers.testing.ProviderSandbox` asks. Imported by tests only.
"""

from __future__ import annotations

from acme_payouts.api import AcmeApi
from providers.base import PayoutResult
from providers.testing import Delivery, LostAnswer, Outcome, ProviderSandbox, Signing


class AcmeSandbox(ProviderSandbox):
    failure_code = "wallet_closed"

    def __init__(self, api: AcmeApi) -> None:
        self.api = api

    async def settle(self, result: PayoutResult, outcome: Outcome) -> None:
        status = {"PAID": "paid", "FAILED": "failed", "RETURNED": "returned"}[outcome]
        self.api.settle(result.provider_reference or "", status, self.failure_code)

    async def payouts_at_provider(self, payout_id: str) -> int:
        return sum(p["payout_id"] == payout_id for p in self.api.payments.values())

    async def lose_next_answer(self, how: LostAnswer) -> None:
        self.api.lose_next_answer = (
            TimeoutError if how is LostAnswer.TIMEOUT else ConnectionResetError
        )

    async def restore(self) -> None:
        self.api.lose_next_answer = None

    async def webhook(self, result: PayoutResult, outcome: Outcome, signing: Signing) -> Delivery:
        del outcome  # the payment was settled to it already
        return self.api.webhook_for(
            result.provider_reference or "",
            secret="not-the-secret" if signing is Signing.WRONG_SECRET else None,
            age_seconds=3600 if signing is Signing.STALE else 0,
        )
