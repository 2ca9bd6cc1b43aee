"""An area's session: a bearer token, checked by the API's own verifier, kept in that area's
signed, HttpOnly, SameSite=Strict cookie (scoped to its path, signed with a key of its own) that
expires with the token, and its per-session CSRF token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import jwt
from aiohttp import web

from consoles.areas import Area
from graph.auth import InvalidToken, Principal, verify_token
from settings.service import Settings

CSRF_FIELD = "csrf"
_KEY_LABEL = b"diamonds console session cookie"


@dataclass(frozen=True)
class Session:
    """A signed-in visitor: who the token names, the token, its expiry and the CSRF token."""

    principal: Principal
    token: str
    expires_at: int
    csrf: str


def _key(settings: Settings, area: Area) -> bytes:
    """An area's cookie signing key, derived from the API's secret (never the secret itself) and
    the area, so one area's cookie, renamed, does not verify in the other."""
    label = _KEY_LABEL + b" " + area.slug.encode()
    return hmac.new(settings.jwt_secret.encode(), label, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(settings: Settings, area: Area, payload: str) -> str:
    return _b64(hmac.new(_key(settings, area), payload.encode(), hashlib.sha256).digest())


def open_session(settings: Settings, token: str) -> Session:
    """A new session for a bearer token, checked as the API checks it (`InvalidToken` if not)."""
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer ") :].strip()
    if not token:
        raise InvalidToken("paste a bearer token")
    principal = verify_token(settings, token)
    claims = jwt.decode(token, options={"verify_signature": False})
    return Session(principal, token, int(claims["exp"]), secrets.token_urlsafe(32))


def read_session(settings: Settings, request: web.Request, area: Area) -> Session | None:
    """The request's session in `area`: None without that area's cookie, with a forged one (or
    the other area's), or once the token has expired or stopped verifying (e.g. the secret
    changed)."""
    cookie = request.cookies.get(area.cookie_name)
    if not cookie or "." not in cookie:
        return None
    payload, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(signature, _signature(settings, area, payload)):
        return None
    try:
        fields = json.loads(_unb64(payload))
        token, csrf = str(fields["token"]), str(fields["csrf"])
        principal = verify_token(settings, token)
        expires_at = int(fields["exp"])
    except (ValueError, KeyError, TypeError, InvalidToken):
        return None
    if expires_at <= time.time():
        return None
    return Session(principal, token, expires_at, csrf)


def set_session_cookie(
    settings: Settings, response: web.StreamResponse, session: Session, area: Area
) -> None:
    """Write the area's session cookie, sent only under its path: it never outlives the token
    (`Max-Age`: the token's time left)."""
    payload = _b64(
        json.dumps(
            {"token": session.token, "csrf": session.csrf, "exp": session.expires_at}
        ).encode()
    )
    response.set_cookie(
        area.cookie_name,
        f"{payload}.{_signature(settings, area, payload)}",
        max_age=max(0, session.expires_at - int(time.time())),
        path=area.path,
        httponly=True,
        samesite="Strict",
        secure=not settings.development,
    )


def clear_session_cookie(settings: Settings, response: web.StreamResponse, area: Area) -> None:
    response.del_cookie(
        area.cookie_name,
        path=area.path,
        httponly=True,
        samesite="Strict",
        secure=not settings.development,
    )


def csrf_matches(session: Session, submitted: object) -> bool:
    """Whether a form's CSRF field is this session's token."""
    return isinstance(submitted, str) and hmac.compare_digest(submitted, session.csrf)
