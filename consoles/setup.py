"""Mounting the consoles on the service's app: the templates, the static files, the live socket
and every route of `/console` and `/studio` (the app assembly calls `add_consoles`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from consoles import bulk, exports, finance, reconciliation, reports, reviews, studio
from consoles.areas import AREAS, Area
from consoles.formatting import FILTERS
from consoles.graphiql_notice import graphiql_offline_note
from consoles.live import LiveSocket
from consoles.pages import CONFIG, TEMPLATES, ConsoleConfig, Refusal
from consoles.signin import sign_in, sign_out

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/consoles/static"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _answering_refusals(handler: Handler) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refusal as refusal:
            return refusal.response

    return handle


def add_consoles(app: web.Application, config: ConsoleConfig) -> None:
    """Serve the finance console at `/console` and the creator studio at `/studio`, and add the
    offline note to the GraphiQL page."""
    app[CONFIG] = config
    app.middlewares.append(graphiql_offline_note)
    environment = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("consoles", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        app_key=TEMPLATES,
        undefined=jinja2.ChainableUndefined,
    )
    environment.filters.update(FILTERS)
    environment.globals.update(static=STATIC_PATH, console_path="/console", studio_path="/studio")
    routes = app.router
    for area in AREAS:
        _add_sign_in_routes(routes, area)
        routes.add_route("GET", area.live_path, LiveSocket(area))
    get, post = _get(routes), _post(routes)
    get("/console", finance.payouts_page)
    get("/console/payouts", finance.payouts_page)
    get("/console/payouts.csv", exports.payouts_csv)
    post("/console/bulk-approve", bulk.bulk_approve)
    get("/console/queues/{queue}", finance.queue_page)
    get("/console/payouts/{payout_id}", finance.payout_page)
    post("/console/payouts/{payout_id}/{action}", finance.payout_action)
    get("/console/discrepancies", finance.discrepancies_page)
    post("/console/discrepancies/{discrepancy_id}/acknowledge", finance.acknowledge_discrepancy)
    get("/console/reviews/{review}", reviews.review_page)
    get("/console/audit", reports.audit_page)
    get("/console/reports/year-end", reports.year_end_page)
    get("/console/reports/year-end.csv", reports.year_end_csv)
    get("/console/reconciliation", reconciliation.runs_page)
    post("/console/reconciliation", reconciliation.reconcile)
    get("/console/reconciliation/{run_id}", reconciliation.run_page)
    get("/console/reconciliation/{run_id}/lines.csv", reconciliation.run_csv)
    post("/console/reconciliation/{run_id}/lines/{line_id}/resolve", reconciliation.resolve)
    post("/console/reviews/{review}/{subject_id}", reviews.decide)
    get("/studio", studio.studio_page)
    post("/studio/payouts", studio.request_payout)
    get("/studio/payouts/{payout_id}", studio.payout_page)
    get("/studio/setup", studio.setup_page)
    post("/studio/setup/{section}", studio.setup_action)
    get("/studio/live", studio.live_page)
    get("/studio/earnings", studio.earnings_page)
    get("/studio/wallet", studio.wallet_page)
    routes.add_static(STATIC_PATH, STATIC_DIR)


def _get(routes: web.UrlDispatcher) -> Callable[[str, Handler], object]:
    return lambda path, handler: routes.add_get(path, _answering_refusals(handler))


def _post(routes: web.UrlDispatcher) -> Callable[[str, Handler], object]:
    return lambda path, handler: routes.add_post(path, _answering_refusals(handler))


def _add_sign_in_routes(routes: web.UrlDispatcher, area: Area) -> None:
    routes.add_post(f"{area.path}/sign-in", _answering_refusals(partial(sign_in, area=area)))
    routes.add_post(f"{area.path}/sign-out", _answering_refusals(partial(sign_out, area=area)))
