"""An area's live socket (`/console/socket`, `/studio/socket`): graphql-transport-ws on the API's
schema, as the signed-in user of that area's session cookie (static/live.js subscribes through
it; no token in the page).
"""

from __future__ import annotations

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from consoles.areas import Area
from consoles.pages import config_of, from_this_site
from consoles.session import read_session
from graph.context import Context
from graph.schema import schema


class LiveSocket(GraphQLView[Context, None]):
    """Subscriptions only, over websockets; HTTP requests are refused. The upgrade must come from
    this site (its Origin) with a session cookie, which SameSite=Strict keeps to this site too."""

    def __init__(self, area: Area) -> None:
        self.area = area
        super().__init__(
            schema=schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPMethodNotAllowed(request.method, ["GET (websocket)"])
        if not from_this_site(request):
            raise web.HTTPForbidden(text="the live socket answers this site's pages only")
        session = read_session(config_of(request).settings, request, self.area)
        if session is None:
            raise web.HTTPUnauthorized(text="sign in first")
        if not self.area.admits(session.principal):
            raise web.HTTPForbidden(
                text=f"the {self.area.slug} socket is for {self.area.role_names}"
            )
        return await super().__call__(request)

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> Context:
        session = read_session(config_of(request).settings, request, self.area)
        if session is None:
            raise web.HTTPUnauthorized(text="sign in first")
        return config_of(request).context_for(session.principal, request)
