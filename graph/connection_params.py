"""The bearer token a websocket client sends in its `connection_init` payload (connectionParams),
in any of the shapes common clients use; a payload that carries credentials in no shape we read
is refused rather than connected as anonymous.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.auth import InvalidToken

ACCEPTED_SHAPES = (
    '{"Authorization": "Bearer <token>"}, {"authorization": ...}, '
    '{"headers": {"Authorization": ...}}, {"authToken": "<token>"} or {"token": "<token>"}'
)
_AUTHORIZATION_KEYS = ("Authorization", "authorization")
_TOKEN_KEYS = ("authToken", "token")
_CREDENTIAL_HINTS = ("auth", "token", "bearer", "jwt", "credential", "session", "cookie", "key")
"""A key containing one of these (any case) looks like it carries credentials."""


class UnreadableCredentials(InvalidToken):
    """connectionParams carries credentials in a shape this server does not read."""


def authorization_from_params(params: Mapping[str, Any]) -> str | None:
    """The `Bearer <token>` the connectionParams carry, or None when they carry no credentials
    at all. Raises `UnreadableCredentials` for a value that is not a string, for two shapes
    that disagree, and for credential-like keys in no accepted shape."""
    found: dict[str, str] = {}
    headers = params.get("headers")
    if headers is not None and not isinstance(headers, Mapping):
        raise UnreadableCredentials(
            f"connectionParams.headers must be an object; send {ACCEPTED_SHAPES}"
        )
    for where, source, keys in (
        ("", params, _AUTHORIZATION_KEYS),
        ("headers.", headers or {}, _AUTHORIZATION_KEYS),
        ("", params, _TOKEN_KEYS),
    ):
        for key in keys:
            if key in source:
                found[where + key] = _bearer(where + key, source[key], keys is _TOKEN_KEYS)
    if len(set(found.values())) > 1:
        names = ", ".join(sorted(found))
        raise UnreadableCredentials(f"connectionParams carries different tokens in {names}")
    if found:
        return next(iter(found.values()))
    suspicious = [key for key in _keys(params) if _looks_like_credentials(key)]
    if suspicious:
        raise UnreadableCredentials(
            f"connectionParams carries {', '.join(sorted(suspicious))}, which this server does "
            f"not read as a token; send {ACCEPTED_SHAPES}"
        )
    return None


def _bearer(name: str, value: object, bare_allowed: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UnreadableCredentials(f"connectionParams.{name} must be a non-empty string")
    value = value.strip()
    if bare_allowed and not value.lower().startswith("bearer "):
        return f"Bearer {value}"
    return value


def _keys(params: Mapping[str, Any]) -> list[str]:
    """The payload's keys and those of its `headers`, as `headers.<key>`."""
    keys = [str(key) for key in params]
    headers = params.get("headers")
    if isinstance(headers, Mapping):
        keys += [f"headers.{key}" for key in headers]
    return keys


def _looks_like_credentials(key: str) -> bool:
    lowered = key.lower()
    return any(hint in lowered for hint in _CREDENTIAL_HINTS)
