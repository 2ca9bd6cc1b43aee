"""The two signed-in areas, the finance console and the creator studio: where each lives, its
own session cookie and live socket under its path, and which roles may enter it (anyone else
signed in gets a 403 page, not a hidden link).
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.auth import Principal, Role


@dataclass(frozen=True)
class Area:
    slug: str
    path: str
    title: str
    roles: frozenset[Role]

    def admits(self, principal: Principal) -> bool:
        return principal.has(*self.roles)

    @property
    def cookie_name(self) -> str:
        """This area's session cookie, sent only under `path`: one per area, so signing in or
        out of one leaves the other alone."""
        return f"diamonds_{self.slug}_session"

    @property
    def live_path(self) -> str:
        """This area's live socket, under `path` so the browser sends it this area's cookie."""
        return f"{self.path}/socket"

    @property
    def role_names(self) -> str:
        return " or ".join(sorted(role.value for role in self.roles))


CONSOLE = Area("console", "/console", "Finance console", frozenset({Role.FINANCE, Role.ADMIN}))
STUDIO = Area("studio", "/studio", "Creator studio", frozenset({Role.CREATOR}))
AREAS = (CONSOLE, STUDIO)
