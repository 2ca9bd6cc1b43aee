"""CORS for `/graphql` through aiohttp-cors: the configured origins get preflight answers and
`Access-Control-*` headers on their responses; any other origin gets none (and a 403 preflight).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp_cors
from aiohttp import web

from settings.cors import CorsSettings

ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Accept", "Authorization", "Content-Type")
PREFLIGHT_MAX_AGE_SECONDS = 600


def add_graphql_routes(
    app: web.Application,
    view: Callable[[web.Request], Awaitable[web.StreamResponse]],
    cors: CorsSettings,
) -> None:
    """`GET` and `POST /graphql` served by `view`, and `OPTIONS` answering CORS preflights.
    aiohttp-cors cannot share a `*` route with a handler that is not an aiohttp `web.View`, so
    each method has its route."""
    resource = app.router.add_resource("/graphql")
    options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
        allow_credentials=cors.credentials,
        allow_headers=ALLOWED_HEADERS,
        allow_methods=ALLOWED_METHODS,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
    setup = aiohttp_cors.setup(app, defaults={origin: options for origin in cors.origins})
    for method in ALLOWED_METHODS:
        setup.add(resource.add_route(method, view))
