"""The aiohttp application: `/graphql` (GraphiQL on GET in development), `/healthz` (up), `/readyz`
(the database answers and is migrated), `/metrics` and request ids (graph.metrics, .observability).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from compliance.service import Compliance
from economy.app import Economy
from economy.purchases.setup import PurchaseService
from graph.apq import OrjsonView, PersistedQueries, PersistedQueryView, SharedQueries
from graph.auth import InvalidToken, principal_from_header
from graph.context import Context
from graph.cors import add_graphql_routes
from graph.live_feeds import Feeds
from graph.media_types import MediaTypeView
from graph.metrics import add_metrics_route
from graph.observability import add_request_observation, bind_caller
from graph.request_guard import MAX_REQUEST_BYTES, RefusedRequest, RequestGuardView
from graph.schema import schema
from graph.webhooks import add_identity_webhook_route, add_webhook_routes
from graph.websocket import LiveView, connection_context
from payouts.runtime import embedded_worker
from payouts.service import PayoutService

log = logging.getLogger(__name__)

ECONOMY: web.AppKey[Economy] = web.AppKey("economy", Economy)

SchemaState = Callable[[Economy], Awaitable[tuple[str | None, str | None]]]
"""The database schema's revision and the newest one (the shell's migrations know them)."""
SCHEMA_STATE: web.AppKey[SchemaState] = web.AppKey("schema_state")


class DiamondsGraphQLView(
    MediaTypeView,
    PersistedQueryView,
    RequestGuardView,
    OrjsonView,
    LiveView,
    GraphQLView[Context, None],
):
    """Strawberry's view with our context: the economy and the caller named by the token."""

    def __init__(
        self,
        eco: Economy,
        payouts: PayoutService | None = None,
        purchases: PurchaseService | None = None,
    ) -> None:
        super().__init__(
            schema=schema,
            graphql_ide="graphiql" if eco.settings.development else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=eco.settings.max_subscriptions_per_connection,
        )
        self.eco = eco
        self.max_query_bytes = eco.settings.max_query_bytes
        self.feeds = Feeds(schema, eco)
        self.persisted_queries = PersistedQueries(
            shared=SharedQueries(eco.settings.redis_url, f"{eco.settings.redis_channel}:apq:")
            if eco.settings.redis_url is not None
            else None
        )
        self.payouts = payouts
        self.purchases = purchases

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> Context:
        if isinstance(response, web.WebSocketResponse):  # authenticated at connection_init
            return connection_context(
                self.eco, request, response, payouts=self.payouts, purchases=self.purchases
            )
        try:
            principal = principal_from_header(
                self.eco.settings, request.headers.get("Authorization")
            )
        except InvalidToken as exc:
            # Answered like every refusal before execution, so in the media type the client
            # prefers: Apollo Client reads a 401's GraphQL errors only under
            # application/graphql-response+json.
            raise RefusedRequest(
                401,
                str(exc),
                "UNAUTHENTICATED",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        bind_caller(principal.subject)
        return Context(
            eco=self.eco,
            principal=principal,
            request=request,
            response=response,
            payouts=self.payouts,
            purchases=self.purchases,
        )


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    eco = request.app[ECONOMY]
    state = request.app.get(SCHEMA_STATE)
    try:
        if state is None:
            await eco.db.ping()
            return web.json_response({"status": "ready"})
        revision, head = await state(eco)
    except Exception:
        log.exception("readiness check: the database did not answer")
        return web.json_response({"status": "unavailable", "reason": "database"}, status=503)
    if revision != head:
        return web.json_response(
            {"status": "unavailable", "reason": "migrations pending", "at": revision, "head": head},
            status=503,
        )
    return web.json_response({"status": "ready", "revision": revision})


def create_app(
    eco: Economy,
    payouts: PayoutService | None = None,
    *,
    purchases: PurchaseService | None = None,
    run_worker: bool = False,
    schema_state: SchemaState | None = None,
    compliance: Compliance | None = None,
) -> web.Application:
    """The whole HTTP service around one economy; the economy is closed when the app stops.
    With `payouts`, the payout mutations and provider webhooks are served, with `run_worker`
    a payout worker runs inside this process (the embedded default), and with `schema_state`
    `/readyz` also says whether the database is migrated. Stripe Identity's webhooks reach
    `compliance` (by default on the economy's database and settings)."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    add_request_observation(app)
    if eco.settings.observability.otel_endpoint is not None:
        from graph.tracing import trace_app  # OpenTelemetry is imported only when configured

        trace_app(app, eco.settings.observability)
    app[ECONOMY] = eco
    if schema_state is not None:
        app[SCHEMA_STATE] = schema_state
    view = DiamondsGraphQLView(eco, payouts, purchases)
    add_graphql_routes(app, view, eco.settings.cors)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_metrics_route(
        app, eco.settings.observability, payouts, development=eco.settings.development
    )

    async def close_economy(_app: web.Application) -> None:
        await eco.close()

    add_webhook_routes(app, payouts, purchases)
    add_identity_webhook_route(app, compliance or Compliance(eco.db, eco.settings))
    if purchases is not None:
        app.on_cleanup.append(lambda _app: purchases.close())
    if payouts is not None:
        if run_worker:
            app.cleanup_ctx.append(embedded_worker(payouts))
        app.on_cleanup.append(lambda _app: payouts.providers.close())
    app.on_cleanup.append(lambda _app: view.persisted_queries.close())
    app.on_cleanup.append(close_economy)
    return app
