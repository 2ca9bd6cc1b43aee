"""Signing in and out of an area: a bearer token pasted (or a demo user's, in development) is
checked by the API's verifier and exchanged for that area's session cookie; signing out clears
it (the other area's stays).
"""

from __future__ import annotations

from aiohttp import web

from consoles.areas import Area
from consoles.pages import config_of, forbidden_page, from_this_site, sign_in_page
from consoles.session import (
    CSRF_FIELD,
    clear_session_cookie,
    csrf_matches,
    open_session,
    read_session,
    set_session_cookie,
)
from graph.auth import InvalidToken


def _safe_next(area: Area, target: str | None) -> str:
    """Where to go after signing in: a path inside the area, never another site."""
    if target and target.startswith(area.path) and not target.startswith("//"):
        return target
    return area.path


async def sign_in(request: web.Request, area: Area) -> web.Response:
    """There is no session (so no CSRF token) yet: a sign-in posted from another site (its
    `Origin`) is refused, so no one can sign a visitor in as someone else."""
    if not from_this_site(request):
        raise web.HTTPForbidden(text="sign in from this site's own sign-in page")
    form = await request.post()
    settings = config_of(request).settings
    try:
        session = open_session(settings, str(form.get("token", "")))
    except InvalidToken as exc:
        return sign_in_page(request, area, problem=str(exc))
    if not area.admits(session.principal):
        return forbidden_page(request, area, session)
    response = web.HTTPSeeOther(_safe_next(area, str(form.get("next", ""))))
    set_session_cookie(settings, response, session, area)
    raise response


async def sign_out(request: web.Request, area: Area) -> web.Response:
    """Clear the cookie, whatever the role; only with this session's CSRF token (403 without)."""
    settings = config_of(request).settings
    session = read_session(settings, request, area)
    form = await request.post()
    if session is not None and not csrf_matches(session, form.get(CSRF_FIELD)):
        return forbidden_page(request, area, session)
    response = web.HTTPSeeOther(area.path)
    clear_session_cookie(settings, response, area)
    raise response
