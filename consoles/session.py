"""The console session: a bearer token, checked by the API's own verifier, kept in a signed,
HttpOnly, SameSite=Strict cookie that expires with the token, and its per-session CSRF token.
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

from graph.auth import InvalidToken, Principal, verify_token
from settings.service import Settings

COOKIE_NAME = "diamonds_session"
CSRF_FIELD = "csrf"
_KEY_LABEL = b"diamonds console session cookie"


@dataclass(frozen=True)
class Session:
    """A signed-in visitor: who the token names, the token, its expiry and the CSRF token."""

    principal: Principal
    token: str
    expires_at: int
    csrf: str


def _key(settings: Settings) -> bytes:
    """The cookie's signing key, derived from the API's secret (never the secret itself)."""
    return hmac.new(settings.jwt_secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(settings: Settings, payload: str) -> str:
    return _b64(hmac.new(_key(settings), payload.encode(), hashlib.sha256).digest())


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


def read_session(settings: Settings, request: web.Request) -> Session | None:
    """The request's session: None without a cookie, with a forged one, or once the token has
    expired or stopped verifying (e.g. the secret changed)."""
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie or "." not in cookie:
        return None
    payload, _, signature = cookie.rpartition(".")
    if not hmac.compare_digest(signature, _signature(settings, payload)):
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


def set_session_cookie(settings: Settings, response: web.StreamResponse, session: Session) -> None:
    """Write the session cookie: it never outlives the token (`Max-Age`: the token's time left)."""
    payload = _b64(
        json.dumps(
            {"token": session.token, "csrf": session.csrf, "exp": session.expires_at}
        ).encode()
    )
    response.set_cookie(
        COOKIE_NAME,
        f"{payload}.{_signature(settings, payload)}",
        max_age=max(0, session.expires_at - int(time.time())),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=not settings.development,
    )


def clear_session_cookie(settings: Settings, response: web.StreamResponse) -> None:
    response.del_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Strict", secure=not settings.development
    )


def csrf_matches(session: Session, submitted: object) -> bool:
    """Whether a form's CSRF field is this session's token."""
    return isinstance(submitted, str) and hmac.compare_digest(submitted, session.csrf)
