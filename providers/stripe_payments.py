"""Money coming in through Stripe: PaymentIntents for coin purchases, and the signed
`payment_intent.*` webhook events that say whether they were paid. No database here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from providers.config import StripeConfig
from providers.errors import WebhookVerificationError
from providers.stripe import SIGNATURE_HEADER, SLUG, StripeProvider, verify_signature

PAYMENT_EVENTS = frozenset(
    {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"}
)


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    client_secret: str
    status: str
    amount: int
    currency: str


@dataclass(frozen=True)
class PaymentEvent:
    """A verified `payment_intent.*` event."""

    event_id: str
    type: str
    payment_intent_id: str
    amount: int
    amount_received: int
    currency: str
    metadata: Mapping[str, str] = field(default_factory=dict)


class StripePayments:
    """Creates PaymentIntents with the payout provider's client and error mapping (same key,
    same API base, same timeouts), so both directions of money speak to Stripe one way."""

    def __init__(self, config: StripeConfig) -> None:
        self.config = config
        self._stripe = StripeProvider(config)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StripePayments:
        return cls(StripeConfig.from_env(env))

    async def create_payment_intent(
        self, *, amount_minor: int, currency: str, metadata: Mapping[str, str], key: str
    ) -> PaymentIntent:
        """Raises `TransientProviderError`, `PermanentProviderError`, `UnknownOutcome` (retry
        with the same `key`: Stripe replays the first answer) or `ProviderConfigError`."""
        intent = await self._stripe._call(
            "write",
            "create the payment intent",
            lambda: self._stripe._client.v1.payment_intents.create_async(
                {
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "metadata": dict(metadata),
                    "automatic_payment_methods": {"enabled": True},
                },
                {"idempotency_key": key},
            ),
        )
        return PaymentIntent(
            id=intent.id,
            client_secret=intent.client_secret or "",
            status=intent.status,
            amount=intent.amount,
            currency=intent.currency.upper(),
        )

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> PaymentEvent | None:
        """The payment event in a verified delivery; None for events of other kinds. Raises
        `WebhookVerificationError` for a bad signature or a malformed event."""
        secret = self.config.webhook_secret
        if not secret:
            raise WebhookVerificationError(SLUG, "DIAMONDS_STRIPE_WEBHOOK_SECRET is not set")
        signature = next(
            (v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None
        )
        verify_signature(
            signature, body, secret, tolerance_seconds=self.config.webhook_tolerance_seconds
        )
        try:
            event = json.loads(body)
            kind = event["type"]
            if kind not in PAYMENT_EVENTS:
                return None
            intent = event["data"]["object"]
            return PaymentEvent(
                event_id=str(event["id"]),
                type=kind,
                payment_intent_id=str(intent["id"]),
                amount=int(intent["amount"]),
                amount_received=int(intent.get("amount_received") or 0),
                currency=str(intent["currency"]).upper(),
                metadata={str(k): str(v) for k, v in (intent.get("metadata") or {}).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError(SLUG, f"not a payment intent event: {exc}") from None

    async def close(self) -> None:
        await self._stripe.close()
