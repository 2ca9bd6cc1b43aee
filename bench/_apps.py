"""The application the benchmarks serve: the Diamonds service exactly as `diamonds serve` builds
it, with one mutation more, `benchNoop`, which does nothing: the baseline that shows what a
request costs before any gift is booked.
"""

from __future__ import annotations

import strawberry
from aiohttp import web
from strawberry.types import Info

from bench import _gcwatch
from diamonds.workers import service_app
from economy.app import Economy
from graph.context import Context
from graph.schema import DiamondsSchema, Mutation, Query, Subscription, schema
from graph.server import DiamondsGraphQLView


@strawberry.input
class NoopInput:
    stream_id: strawberry.ID
    gift_id: strawberry.ID
    quantity: int
    idempotency_key: str


@strawberry.type
class NoopPayload:
    replayed: bool
    errors: list[str]


@strawberry.type
class BenchMutation(Mutation):
    @strawberry.mutation(description="Does nothing: the benchmarks' baseline.")  # type: ignore[untyped-decorator]
    async def bench_noop(self, info: Info[Context, None], input: NoopInput) -> NoopPayload:
        return NoopPayload(replayed=False, errors=[])


bench_schema = DiamondsSchema(
    query=Query,
    mutation=BenchMutation,
    subscription=Subscription,
    config=schema.config,
    extensions=schema.extensions,
)


def bench_app(eco: Economy, payout_worker: bool) -> web.Application:
    _gcwatch.install()  # with BENCH_GC_DIR set: this process's collections, timed
    app = service_app(eco, payout_worker)
    for route in app.router.routes():
        if isinstance(route.handler, DiamondsGraphQLView):
            route.handler.schema = bench_schema
            route.handler.feeds.schema = bench_schema
    return app
