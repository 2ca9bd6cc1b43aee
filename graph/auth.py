"""Bearer tokens: minting development tokens and verifying the callers' JWTs (HS256 with the
configured secret; issuer and audience checked when configured) into a `Principal`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import jwt

from kernel import validation
from kernel.bounded import BoundedCache
from kernel.errors import DomainError
from settings.service import Settings

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 24 * 3600


class Role(enum.StrEnum):
    VIEWER = "VIEWER"
    CREATOR = "CREATOR"
    FINANCE = "FINANCE"
    ADMIN = "ADMIN"


class InvalidToken(ValueError):
    """The bearer token cannot be trusted; the message says why, without echoing the token."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's subject and roles, or nobody."""

    subject: str | None
    roles: frozenset[Role]
    expires_at: float | None = field(default=None, compare=False)
    """When the token stops working (seconds since the epoch); None for nobody. Not part of
    who is calling: two principals of one subject and roles are equal whatever their tokens'
    expiry."""

    @property
    def authenticated(self) -> bool:
        return self.subject is not None

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def is_staff(self) -> bool:
        """FINANCE and ADMIN are staff: they see staff accounts, which others do not."""
        return self.has(Role.FINANCE, Role.ADMIN)

    @property
    def sees_all_money(self) -> bool:
        """FINANCE and ADMIN may read every wallet; everyone else only their own."""
        return self.has(Role.FINANCE, Role.ADMIN)


ANONYMOUS = Principal(subject=None, roles=frozenset())


def parse_roles(names: Iterable[str]) -> frozenset[Role]:
    roles = set()
    for name in names:
        try:
            roles.add(Role(str(name).upper()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidToken(f"unknown role {name!r}; roles are {known}") from None
    return frozenset(roles)


def mint_token(
    settings: Settings, subject: str, roles: Iterable[str], ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> str:
    """A signed token for `subject` with `roles`, valid for `ttl_seconds`."""
    _check_subject(subject)
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": sorted(r.value for r in parse_roles(roles)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


VERIFIED_TOKENS_KEPT = 10_000
"""Tokens remembered per process once verified (least recently used forgotten first)."""
_verified: BoundedCache[tuple[str, str | None, str | None, str], tuple[Principal, float]] = (
    BoundedCache(VERIFIED_TOKENS_KEPT)
)


def verify_token(settings: Settings, token: str) -> Principal:
    """The principal a token names. Raises `InvalidToken` for a bad signature, an expired token,
    a wrong issuer or audience, a missing subject or an unknown role.

    A client sends the same token with every request, so a token once verified is remembered
    (by its exact text, under the same secret, issuer and audience) until it expires: only the
    expiry can change the answer for the same text, and it is checked again on every use."""
    key = (settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience, token)
    known = _verified.get(key)
    if known is not None:
        principal, expires_at = known
        if time.time() < expires_at:
            return principal
        _verified.pop(key)
        raise InvalidToken("the token has expired")
    principal, expires_at = _verify(settings, token)
    principal = replace(principal, expires_at=expires_at)
    _verified.put(key, (principal, expires_at))
    return principal


def _refusal(exc: jwt.PyJWTError) -> str:
    """What a caller is told of a token PyJWT refused: which rule it broke, never the decoder's
    own words (they quote the bytes it choked on)."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token lacks the {exc.claim!r} claim"
    if isinstance(exc, jwt.InvalidAudienceError):
        return "the token is not for this audience"
    if isinstance(exc, jwt.InvalidIssuerError):
        return "the token is from another issuer"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature does not match"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "the token is signed with an algorithm this service does not accept"
    return "the token is malformed"


def _verify(settings: Settings, token: str) -> tuple[Principal, float]:
    """The principal and the expiry (seconds since the epoch), checked by PyJWT."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(_refusal(exc)) from None
    subject = claims.get("sub")
    if not isinstance(subject, str):
        raise InvalidToken("the token's subject must be a string")
    _check_subject(subject)
    raw_roles = claims.get("roles", [])
    if not isinstance(raw_roles, list):
        raise InvalidToken("the token's roles must be a list")
    return Principal(subject=subject, roles=parse_roles(raw_roles)), float(claims["exp"])


def _check_subject(subject: str) -> None:
    """The one subject validator (kernel.validation.subject) applied to a token's `sub`."""
    try:
        validation.subject(subject, field="sub")
    except DomainError as exc:
        raise InvalidToken(f"the token's subject is not valid: {exc.message}") from None


def principal_from_header(settings: Settings, authorization: str | None) -> Principal:
    """ANONYMOUS without an Authorization header; the token's principal with a Bearer one."""
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("the Authorization header must be 'Bearer <token>'")
    return verify_token(settings, token.strip())
