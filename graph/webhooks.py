"""Provider webhooks over HTTP: `POST /webhooks/{provider}` hands the raw body and headers to the
provider to verify, then applies the updates: Stripe's payment events to coin purchases, every
provider's payout events to payouts; and Stripe Identity's on `POST /webhooks/identity/stripe`, to
compliance. A bad signature is a 400 and changes nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web

from compliance.identity.service import apply_stripe_event
from compliance.identity.stripe_identity import (
    IdentityProviderError,
    StripeIdentity,
    WebhookRejected,
)
from compliance.service import Compliance
from economy.purchases.service import apply_payment_event
from economy.purchases.setup import PurchaseService
from kernel.metrics import WEBHOOK_VERIFICATIONS_FAILED
from payouts.service import PayoutService
from payouts.webhooks import receive_webhook
from providers.base import Capability
from providers.errors import ProviderConfigError, ProviderError, WebhookVerificationError

log = logging.getLogger(__name__)


def add_webhook_routes(
    app: web.Application, payouts: PayoutService | None, purchases: PurchaseService | None
) -> None:
    async def receive(request: web.Request) -> web.Response:
        slug = request.match_info["provider"]
        body = await request.read()
        try:
            if slug == "stripe" and purchases is not None and purchases.stripe is not None:
                event = purchases.stripe.parse_event(request.headers, body)
                if event is not None:
                    outcome = await apply_payment_event(purchases.eco, event)
                    return web.json_response(
                        {"received": [{"event": event.event_id, "outcome": outcome}]}
                    )
            if payouts is None:
                return _no_such(slug)
            try:
                provider = payouts.providers.get(slug)
            except ProviderConfigError:
                return _no_such(slug)
            if Capability.WEBHOOKS not in provider.capabilities:
                return _no_such(slug)
            applied = await receive_webhook(payouts, provider, request.headers, body)
        except WebhookVerificationError as exc:
            WEBHOOK_VERIFICATIONS_FAILED.labels(slug).inc()
            log.warning("refused a %s webhook: %s", slug, exc)
            return web.json_response({"error": "signature verification failed"}, status=400)
        except ProviderError as exc:
            # E.g. Stripe's transfer reversal before a failure is reported: ask for redelivery.
            log.error("a %s webhook could not be applied yet: %s", slug, exc)
            return web.json_response({"error": "try again later"}, status=503)
        return web.json_response(
            {"received": [{"event": a.event_id, "outcome": a.outcome} for a in applied]}
        )

    app.router.add_post("/webhooks/{provider}", receive)


def _no_such(slug: str) -> web.Response:
    return web.json_response({"error": f"no webhooks are received for {slug!r}"}, status=404)


IDENTITY_PATH = "/webhooks/identity/stripe"
MAX_IDENTITY_BODY_BYTES = 256 * 1024


def add_identity_webhook_route(app: web.Application, compliance: Compliance) -> None:
    """Serve Stripe Identity's webhooks on `IDENTITY_PATH` of `app`: verify the Stripe-Signature,
    then apply the `identity.verification_session.*` event once. A bad signature is a 400 and
    changes nothing; an event we could not apply is a 503 (Stripe retries)."""

    async def receive(request: web.Request) -> web.Response:
        verifier = StripeIdentity.of(compliance.settings)
        if verifier is None:
            return web.json_response({"error": "Stripe Identity is not configured"}, status=404)
        try:
            body = await request.content.read(MAX_IDENTITY_BODY_BYTES + 1)
            if len(body) > MAX_IDENTITY_BODY_BYTES:
                return web.json_response({"error": "the body is too large"}, status=413)
            try:
                event = verifier.parse_webhook(request.headers, body)
            except WebhookRejected as exc:
                WEBHOOK_VERIFICATIONS_FAILED.labels("stripe_identity").inc()
                log.warning("refused a Stripe Identity webhook: %s", exc)
                return web.json_response({"error": "signature verification failed"}, status=400)
            if event is None:
                return web.json_response({"outcome": "IGNORED"})
            try:
                outcome = await apply_stripe_event(compliance, verifier, event)
            except IdentityProviderError as exc:
                log.warning("Stripe Identity event %s not applied: %s", event.event_id, exc)
                return web.json_response({"error": "try again later"}, status=503)
            return web.json_response({"event": event.event_id, "outcome": outcome})
        finally:
            await verifier.close()

    app.router.add_post(IDENTITY_PATH, receive)
