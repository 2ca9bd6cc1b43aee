"""Bearer tokens: what `mint_token` signs `verify_token` accepts, and every token that cannot be
trusted is refused with `InvalidToken`."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import jwt
import pytest

from graph.auth import (
    ANONYMOUS,
    InvalidToken,
    Principal,
    Role,
    mint_token,
    principal_from_header,
    verify_token,
)
from settings.service import Settings

SECRET = "auth-test-secret-with-more-than-32-bytes"
SETTINGS = Settings(database_url="sqlite+aiosqlite:///unused.db", jwt_secret=SECRET)
CHECKED = replace(SETTINGS, jwt_issuer="https://auth.example", jwt_audience="diamonds-api")


def signed(claims: dict[str, Any], secret: str = SECRET) -> str:
    """A token with exactly these claims, signed as the service signs."""
    return jwt.encode(claims, secret, algorithm="HS256")


def later(seconds: int = 3600) -> int:
    return int(time.time()) + seconds


def test_a_minted_token_verifies_to_its_subject_and_roles() -> None:
    token = mint_token(SETTINGS, "viewer:ann", ["viewer", "CREATOR"])

    principal = verify_token(SETTINGS, token)

    assert principal == Principal("viewer:ann", frozenset({Role.VIEWER, Role.CREATOR}))
    assert principal.authenticated
    assert principal.has(Role.CREATOR)
    assert not principal.has(Role.ADMIN, Role.FINANCE)
    assert not principal.sees_all_money
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["roles"] == ["CREATOR", "VIEWER"]
    assert claims["exp"] - claims["iat"] == 24 * 3600


@pytest.mark.parametrize("role", ["FINANCE", "ADMIN"])
def test_finance_and_admin_see_all_money(role: str) -> None:
    principal = verify_token(SETTINGS, mint_token(SETTINGS, "staff:1", [role]))
    assert principal.sees_all_money


def test_a_token_without_roles_is_a_plain_signed_in_user() -> None:
    principal = verify_token(SETTINGS, signed({"sub": "viewer:bo", "exp": later()}))
    assert principal == Principal("viewer:bo", frozenset())
    assert principal.authenticated


def test_an_expired_token_is_refused() -> None:
    token = mint_token(SETTINGS, "viewer:ann", ["VIEWER"], ttl_seconds=-1)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SETTINGS, token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    other = replace(SETTINGS, jwt_secret="another-secret-also-more-than-32-bytes")
    token = mint_token(other, "admin:mallory", ["ADMIN"])
    with pytest.raises(InvalidToken) as refused:
        verify_token(SETTINGS, token)
    assert token not in str(refused.value)


def test_a_token_whose_claims_were_changed_is_refused() -> None:
    header, _, signature = mint_token(SETTINGS, "viewer:ann", ["VIEWER"]).split(".")
    forged_claims = signed({"sub": "viewer:ann", "roles": ["ADMIN"], "exp": later()}).split(".")[1]
    with pytest.raises(InvalidToken):
        verify_token(SETTINGS, f"{header}.{forged_claims}.{signature}")


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(
        {"sub": "admin:x", "roles": ["ADMIN"], "exp": later()}, None, algorithm="none"
    )
    with pytest.raises(InvalidToken):
        verify_token(SETTINGS, token)


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "LATER", "roles": ["VIEWER"]},
        {"sub": "", "exp": "LATER"},
        {"sub": "   ", "exp": "LATER"},
        {"sub": "s" * 256, "exp": "LATER"},
        {"sub": 42, "exp": "LATER"},
        {"sub": "viewer:ann"},
        {"sub": "viewer:ann", "exp": "LATER", "roles": ["GOD"]},
        {"sub": "viewer:ann", "exp": "LATER", "roles": "ADMIN"},
    ],
    ids=[
        "no-sub",
        "empty-sub",
        "blank-sub",
        "long-sub",
        "number-sub",
        "no-exp",
        "unknown-role",
        "roles-not-a-list",
    ],
)
def test_a_token_with_bad_claims_is_refused(claims: dict[str, Any]) -> None:
    if claims.get("exp") == "LATER":
        claims = {**claims, "exp": later()}
    with pytest.raises(InvalidToken):
        verify_token(SETTINGS, signed(claims))


def test_minting_refuses_an_empty_subject_or_an_unknown_role() -> None:
    with pytest.raises(InvalidToken, match="subject"):
        mint_token(SETTINGS, "  ", ["VIEWER"])
    with pytest.raises(InvalidToken, match="unknown role 'GOD'"):
        mint_token(SETTINGS, "viewer:ann", ["GOD"])


def test_issuer_and_audience_are_signed_and_checked_when_configured() -> None:
    token = mint_token(CHECKED, "viewer:ann", ["VIEWER"])
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="diamonds-api")
    assert (claims["iss"], claims["aud"]) == ("https://auth.example", "diamonds-api")
    assert verify_token(CHECKED, token).subject == "viewer:ann"

    without_either = mint_token(SETTINGS, "viewer:ann", ["VIEWER"])
    wrong_issuer = mint_token(replace(CHECKED, jwt_issuer="https://evil.example"), "v:1", [])
    wrong_audience = mint_token(replace(CHECKED, jwt_audience="another-api"), "v:1", [])
    for token in (without_either, wrong_issuer, wrong_audience):
        with pytest.raises(InvalidToken):
            verify_token(CHECKED, token)


def test_issuer_and_audience_are_not_required_unless_configured() -> None:
    token = mint_token(CHECKED, "viewer:ann", ["VIEWER"])
    assert verify_token(SETTINGS, token).subject == "viewer:ann"


def test_the_authorization_header_names_the_caller() -> None:
    token = mint_token(SETTINGS, "viewer:ann", ["VIEWER"])

    assert principal_from_header(SETTINGS, None) is ANONYMOUS
    assert principal_from_header(SETTINGS, "") is ANONYMOUS
    assert not ANONYMOUS.authenticated
    assert principal_from_header(SETTINGS, f"Bearer {token}").subject == "viewer:ann"
    assert principal_from_header(SETTINGS, f"bearer  {token} ").subject == "viewer:ann"
    for header in (f"Basic {token}", "Bearer", "Bearer   ", token):
        with pytest.raises(InvalidToken):
            principal_from_header(SETTINGS, header)


def test_a_remembered_token_still_expires_on_time() -> None:
    token = signed({"sub": "viewer:kim", "exp": time.time() + 1.0})
    assert verify_token(SETTINGS, token).subject == "viewer:kim"
    assert verify_token(SETTINGS, token).subject == "viewer:kim"  # remembered now

    time.sleep(1.1)

    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SETTINGS, token)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SETTINGS, token)


def test_a_remembered_token_is_remembered_only_under_the_secret_that_verified_it() -> None:
    token = mint_token(SETTINGS, "admin:ann", ["ADMIN"])
    assert verify_token(SETTINGS, token).has(Role.ADMIN)

    rotated = replace(SETTINGS, jwt_secret="the-next-secret-also-more-than-32-bytes")
    with pytest.raises(InvalidToken):
        verify_token(rotated, token)
    with pytest.raises(InvalidToken):
        verify_token(CHECKED, token)  # issuer and audience now required


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("abc.\udcb7\udcb7.def".encode("utf-8", "surrogateescape").decode("latin-1"), "malformed"),
        ("eyJhbGciOiJIUzI1NiJ9.t7e3.xx", "malformed"),
        ("not-a-token", "malformed"),
        (mint_token(replace(SETTINGS, jwt_secret="x" * 40), "viewer:ann", ["VIEWER"]), "signature"),
        (signed({"sub": "viewer:ann", "exp": later(), "nbf": later()}), "not valid yet"),
        (signed({"sub": "viewer:ann"}), "'exp' claim"),
    ],
    ids=["undecodable-header", "bad-padding", "one-segment", "other-secret", "not-yet", "no-exp"],
)
def test_a_refused_token_is_told_which_rule_it_broke_never_the_decoders_words(
    token: str, said: str
) -> None:
    with pytest.raises(InvalidToken) as refused:
        verify_token(SETTINGS, token)
    message = str(refused.value)
    assert said in message
    for leak in ("codec", "byte", "padding", "segments", "Invalid", "utf-8"):
        assert leak not in message, message
