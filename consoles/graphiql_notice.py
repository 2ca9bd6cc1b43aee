"""The note added to the GraphiQL page (`GET /graphql` in development): GraphiQL loads React and
its own code from a CDN, so offline it never leaves "Loading..."; the note says so and points to
the consoles, and hides itself once GraphiQL has loaded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

GRAPHQL_PATH = "/graphql"
NOTE = """
<div id="diamonds-offline-note" style="position:fixed;left:0;right:0;bottom:0;z-index:9999;
  padding:10px 16px;background:#fffaeb;border-top:1px solid #fedf89;color:#1d232b;
  font:14px system-ui,sans-serif">
  GraphiQL loads React and GraphiQL from a CDN (unpkg.com): without internet it stays on
  "Loading...". Everything still works offline: the <a href="/console">finance console</a>,
  the <a href="/studio">creator studio</a>, and the API itself at <code>POST /graphql</code>.
</div>
<script>
  window.addEventListener("load", function () {
    if (window.GraphiQL) document.getElementById("diamonds-offline-note").remove();
  });
</script>
"""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def graphiql_offline_note(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if (
        request.method == "GET"
        and request.path == GRAPHQL_PATH
        and isinstance(response, web.Response)
        and response.content_type == "text/html"
        and response.text
        and "</body>" in response.text
    ):
        response.text = response.text.replace("</body>", f"{NOTE}</body>", 1)
    return response
