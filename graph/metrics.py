"""`GET /metrics`: the Prometheus exposition of `kernel.metrics`, with the payout gauges read
just before. Behind `DIAMONDS_METRICS_TOKEN` when set; without it open in development only.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from kernel.metrics import CONTENT_TYPE, render
from payouts.gauges import refresh_payout_gauges
from payouts.service import PayoutService
from settings.observability import ObservabilitySettings

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"


def add_metrics_route(
    app: web.Application,
    settings: ObservabilitySettings,
    payouts: PayoutService | None,
    *,
    development: bool,
) -> None:
    """Serve `/metrics` on `app`: asking for `Authorization: Bearer <DIAMONDS_METRICS_TOKEN>`
    when the token is set; open in development without one; not at all in production
    without one."""
    token = settings.metrics_token
    if token is None and not development:
        log.info("/metrics is not served: set DIAMONDS_METRICS_TOKEN to serve it")
        return
    expected = None if token is None else f"Bearer {token}".encode()

    async def metrics(request: web.Request) -> web.Response:
        if expected is not None and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(), expected
        ):
            return web.json_response(
                {"error": "/metrics needs the bearer token DIAMONDS_METRICS_TOKEN"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        if payouts is not None:
            try:
                await refresh_payout_gauges(payouts)
            except Exception:
                log.exception("/metrics: the payout gauges could not be read")
        return web.Response(body=render(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get(METRICS_PATH, metrics)
