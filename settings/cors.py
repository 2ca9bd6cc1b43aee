"""Which browser origins may call the API across origins (CORS), read from `DIAMONDS_CORS_*`:
none by default in production, the usual local development servers in development.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from kernel.env import EnvReader

DEVELOPMENT_ORIGINS = (
    "http://localhost:3000",
    "http://localhost:5173",
    "http://127.0.0.1:3000",
    "http://127.0.0.1:5173",
)
"""The dev servers of Create React App / Next.js (3000) and Vite (5173)."""


@dataclass(frozen=True)
class CorsSettings:
    """Origins allowed to call `/graphql` from a browser, and whether with credentials."""

    origins: tuple[str, ...] = ()
    credentials: bool = False
    """Whether the browser may send cookies and HTTP auth (`Access-Control-Allow-Credentials`);
    a bearer token in the `Authorization` header needs no credentials."""

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], problems: list[str], *, development: bool
    ) -> CorsSettings:
        """Read and validate; every problem is appended to `problems`."""
        read = EnvReader(env, problems)
        items = read.items("DIAMONDS_CORS_ORIGINS")
        if items is None:
            origins: tuple[str, ...] = DEVELOPMENT_ORIGINS if development else ()
        else:
            origins = tuple(origin for item in items if (origin := _origin(item, read)) is not None)
        return cls(origins=origins, credentials=read.boolean("DIAMONDS_CORS_CREDENTIALS", False))


def _origin(item: str, read: EnvReader) -> str | None:
    """`https://app.example.com` or `http://localhost:3000`, normalized to lower case; no path,
    no wildcard (a refused item is a problem)."""
    try:
        parts = urlsplit(item)
        _port = parts.port  # a port that is not a number raises
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or "*" in item
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        read.problems.append(
            f"DIAMONDS_CORS_ORIGINS item {item!r}: expected an origin such as "
            "https://app.example.com or http://localhost:3000 (scheme, host and port only)"
        )
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
