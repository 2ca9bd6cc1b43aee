"""OpenTelemetry tracing, off unless `DIAMONDS_OTEL_ENDPOINT` (or `OTEL_EXPORTER_OTLP_ENDPOINT`)
is set: a span per HTTP request (aiohttp) with the GraphQL operation's spans inside (Strawberry).

The request span is this module's middleware (W3C `traceparent` honoured), not
opentelemetry-instrumentation-aiohttp-server: its middleware works only after patching
`web.Application` for the whole process.

Only `graph.server` imports this module, and only when tracing is configured, so without it
nothing of OpenTelemetry is imported (it is the optional `otel` extra). Resolver arguments are
left out of the spans: they carry the callers' data (tax ids, emails).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from graphql import GraphQLResolveInfo
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

from graph.schema import schema
from settings.observability import ObservabilitySettings

_TRACED: list[type[SchemaExtension]] = []
"""The schema's tracing extension once added (the schema is shared by every app)."""


def trace_app(
    app: web.Application,
    settings: ObservabilitySettings,
    processor: SpanProcessor | None = None,
) -> TracerProvider:
    """Trace `app`'s requests and the schema's operations, exporting the spans through
    `processor` (by default, in batches over OTLP/HTTP to the configured endpoint)."""
    resource = Resource.create({"service.name": settings.otel_service_name})
    provider = TracerProvider(resource=resource)
    if processor is None:
        endpoint = settings.otel_endpoint or ""
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_url(endpoint)))
    provider.add_span_processor(processor)
    app.middlewares.insert(0, _request_spans(provider.get_tracer("diamonds.http")))

    class Traced(OpenTelemetryExtension):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(arg_filter=_no_arguments, tracer_provider=provider, **kwargs)

    schema.extensions = (*[e for e in schema.extensions if e not in _TRACED], Traced)
    _TRACED[:] = [Traced]
    app.on_cleanup.append(lambda _app: _shutdown(provider))
    return provider


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _request_spans(tracer: Tracer) -> Middleware:
    """A server span per request, named by method and route (`POST /graphql`), with its status."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        with tracer.start_as_current_span(
            f"{request.method} {route}",
            context=extract(dict(request.headers)),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": request.method, "http.route": route},
        ) as span:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                span.set_attribute("http.response.status_code", exc.status)
                raise
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    return middleware


async def _shutdown(provider: TracerProvider) -> None:
    provider.shutdown()


def _no_arguments(_args: dict[str, Any], _info: GraphQLResolveInfo[Any]) -> dict[str, Any]:
    return {}


def _traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: the endpoint itself when it names `/v1/traces`, else that path
    under it (as the `OTEL_EXPORTER_OTLP_ENDPOINT` convention has it)."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else base + "/v1/traces"
