"""What every console page shares: the app's console configuration, rendering a template (or
only its fragment for a fetch), the signed-in guard with its sign-in and 403 answers, and the
CSRF check for forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from consoles.areas import Area
from consoles.execute import ContextFactory, OperationFailed, run_operation
from consoles.session import CSRF_FIELD, Session, csrf_matches, read_session
from settings.service import Settings

FRAGMENT_HEADER = "X-Console-Fragment"
"""Sent by static/console.js: answer with the page's fragment, not the whole page."""


@dataclass(frozen=True)
class ConsoleConfig:
    """What the app assembly gives the consoles: the settings, how to build the API's context,
    and (in development only) the demo users' tokens the sign-in page offers."""

    settings: Settings
    context_for: ContextFactory
    demo_tokens: Mapping[str, str] = field(default_factory=dict)


CONFIG: web.AppKey[ConsoleConfig] = web.AppKey("consoles_config", ConsoleConfig)
TEMPLATES: web.AppKey[Any] = web.AppKey("consoles_templates")


def from_this_site(request: web.Request) -> bool:
    """Whether a browser request came from this site's pages: no `Origin`, or one naming this host
    (the host only: behind a TLS proxy the scheme seen here differs from the browser's)."""
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def config_of(request: web.Request) -> ConsoleConfig:
    return request.app[CONFIG]


def wants_fragment(request: web.Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def render(
    request: web.Request, template: str, values: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    return aiohttp_jinja2.render_template(
        template, request, dict(values), status=status, app_key=TEMPLATES
    )


class Guarded:
    """A signed-in visitor admitted to an area: the session and how to run operations."""

    def __init__(self, request: web.Request, area: Area, session: Session) -> None:
        self.request = request
        self.area = area
        self.session = session

    async def run(self, name: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        context = config_of(self.request).context_for(self.session.principal, self.request)
        return await run_operation(context, name, variables)

    def page(self, template: str, values: Mapping[str, Any], *, status: int = 200) -> web.Response:
        """A page of this area, with what the layout needs (who is signed in, the CSRF token)."""
        return render(
            self.request,
            template,
            {
                "area": self.area,
                "live_path": self.area.live_path,
                "session": self.session,
                "csrf": self.session.csrf,
                **values,
            },
            status=status,
        )

    def refused(self, failure: OperationFailed) -> web.Response:
        """The API's top-level refusal as a page: 403 for FORBIDDEN, 400 for the rest."""
        status = {"FORBIDDEN": 403, "UNAUTHENTICATED": 401, "NOT_FOUND": 404}.get(failure.code, 400)
        return self.page("refused.html", {"failure": failure}, status=status)


def sign_in_page(request: web.Request, area: Area, *, problem: str | None = None) -> web.Response:
    settings = config_of(request).settings
    tokens = config_of(request).demo_tokens if settings.development else {}
    return render(
        request,
        "sign_in.html",
        {
            "area": area,
            "session": None,
            "problem": problem,
            "demo_tokens": tokens,
            "next": request.path_qs if request.method == "GET" else area.path,
        },
        status=401 if problem else 200,
    )


def forbidden_page(request: web.Request, area: Area, session: Session) -> web.Response:
    return render(
        request,
        "forbidden.html",
        {"area": area, "session": session, "csrf": session.csrf},
        status=403,
    )


class Refusal(Exception):
    """A guard's answer that is not the page asked for (sign-in form, 403)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def guard(request: web.Request, area: Area) -> Guarded:
    """The visitor, admitted to `area`; raises `Refusal` with the sign-in form or a 403 page."""
    session = read_session(config_of(request).settings, request, area)
    if session is None:
        raise Refusal(sign_in_page(request, area))
    if not area.admits(session.principal):
        raise Refusal(forbidden_page(request, area, session))
    return Guarded(request, area, session)


async def guarded_form(request: web.Request, area: Area) -> tuple[Guarded, Mapping[str, str]]:
    """A POSTed form from an admitted visitor with this session's CSRF token; a missing or forged
    token raises `Refusal` with a 403 page, and nothing is done."""
    signed_in = guard(request, area)
    form = await request.post()
    if not csrf_matches(signed_in.session, form.get(CSRF_FIELD)):
        raise Refusal(
            signed_in.page(
                "refused.html",
                {
                    "failure": OperationFailed(
                        "CSRF",
                        "the form's security token is missing or "
                        "wrong (stale page?); nothing was changed",
                    )
                },
                status=403,
            )
        )
    return signed_in, {key: str(value) for key, value in form.items()}
