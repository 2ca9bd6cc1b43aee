"""Provider webhooks over HTTP: `POST /webhooks/{provider}` hands the raw body and headers to the
provider to verify, then applies the updates; a bad signature is a 400 and changes nothing.
"""

from __future__ import annotations

import logging

from aiohttp import web

from economy.payouts.service import PayoutService
from economy.payouts.webhooks import receive_webhook
from providers.base import Capability
from providers.errors import ProviderConfigError, WebhookVerificationError

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 512 * 1024


def add_webhook_routes(app: web.Application, svc: PayoutService) -> None:
    async def receive(request: web.Request) -> web.Response:
        slug = request.match_info["provider"]
        try:
            provider = svc.providers.get(slug)
        except ProviderConfigError:
            return web.json_response({"error": f"no provider {slug!r}"}, status=404)
        if Capability.WEBHOOKS not in provider.capabilities:
            return web.json_response({"error": f"{slug} sends no webhooks"}, status=404)
        body = await request.read()
        try:
            applied = await receive_webhook(svc, provider, request.headers, body)
        except WebhookVerificationError as exc:
            log.warning("refused a %s webhook: %s", slug, exc)
            return web.json_response({"error": "signature verification failed"}, status=400)
        return web.json_response(
            {"received": [{"event": a.event_id, "outcome": a.outcome} for a in applied]}
        )

    app.router.add_post("/webhooks/{provider}", receive)
