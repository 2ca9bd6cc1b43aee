"""Stripe Identity's webhooks over HTTP: `POST /webhooks/identity/stripe` verifies the
Stripe-Signature, then applies the `identity.verification_session.*` event once. A bad
signature is a 400 and changes nothing; an event we could not apply is a 500 (Stripe retries).
"""

from __future__ import annotations

import logging

from aiohttp import web

from compliance.stripe_identity import IdentityProviderError, StripeIdentity, WebhookRejected
from compliance.verification import apply_stripe_event
from economy.app import Economy

log = logging.getLogger(__name__)

PATH = "/webhooks/identity/stripe"
MAX_BODY_BYTES = 256 * 1024


def add_identity_webhook_route(app: web.Application, eco: Economy) -> None:
    """Serve Stripe Identity's webhooks on `PATH` of `app`."""

    async def receive(request: web.Request) -> web.Response:
        verifier = StripeIdentity.of(eco.settings)
        if verifier is None:
            return web.json_response({"error": "Stripe Identity is not configured"}, status=404)
        try:
            body = await request.content.read(MAX_BODY_BYTES + 1)
            if len(body) > MAX_BODY_BYTES:
                return web.json_response({"error": "the body is too large"}, status=413)
            try:
                event = verifier.parse_webhook(request.headers, body)
            except WebhookRejected as exc:
                log.warning("refused a Stripe Identity webhook: %s", exc)
                return web.json_response({"error": "signature verification failed"}, status=400)
            if event is None:
                return web.json_response({"outcome": "IGNORED"})
            try:
                outcome = await apply_stripe_event(eco, verifier, event)
            except IdentityProviderError as exc:
                log.warning("Stripe Identity event %s not applied: %s", event.event_id, exc)
                return web.json_response({"error": "try again later"}, status=503)
            return web.json_response({"event": event.event_id, "outcome": outcome})
        finally:
            await verifier.close()

    app.router.add_post(PATH, receive)
