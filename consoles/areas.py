"""The two signed-in areas, the finance console and the creator studio: where each lives and
which roles may enter it (anyone else signed in gets a 403 page, not a hidden link).
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
    def role_names(self) -> str:
        return " or ".join(sorted(role.value for role in self.roles))


CONSOLE = Area("console", "/console", "Finance console", frozenset({Role.FINANCE, Role.ADMIN}))
STUDIO = Area("studio", "/studio", "Creator studio", frozenset({Role.CREATOR}))
AREAS = (CONSOLE, STUDIO)
