"""Subjects are validated in one place (kernel.validation.subject) wherever they enter: a
token's `sub`, minting a token, and the user directory; its cache of users is bounded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest

from economy.app import Economy
from graph.auth import InvalidToken, mint_token, verify_token
from kernel.bounded import BoundedCache
from kernel.errors import DomainError
from settings.service import Settings

HOSTILE_SUBJECTS = [
    pytest.param("viewer:\ud800", id="lone surrogate"),
    pytest.param("viewer:\x00ann", id="NUL"),
    pytest.param("viewer:\x7fann", id="DEL"),
    pytest.param("   ", id="blank"),
    pytest.param("s" * 256, id="too long"),
]


def signed(settings: Settings, subject: str) -> str:
    """A token carrying `subject`, validly signed with the API's own secret."""
    claims = {"sub": subject, "roles": ["VIEWER"], "exp": 4_000_000_000}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
async def test_a_signed_token_with_a_hostile_subject_is_refused_with_401_and_writes_nothing(
    subject: str,
    settings: Settings,
    api: Any,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    before = await row_counts()
    response = await api.post(
        "/graphql",
        json={"query": "{ me { subject } }"},
        headers={"Authorization": f"Bearer {signed(settings, subject)}"},
    )
    assert response.status == 401
    body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "subject" in body["errors"][0]["message"]
    assert await row_counts() == before


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_verifying_or_minting_a_hostile_subject_raises_invalid_token(
    subject: str, settings: Settings
) -> None:
    with pytest.raises(InvalidToken, match="subject"):
        verify_token(settings, signed(settings, subject))
    with pytest.raises(InvalidToken, match="subject"):
        mint_token(settings, subject, ["VIEWER"])


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
async def test_the_user_directory_refuses_a_hostile_subject_before_writing(
    subject: str,
    economy: Economy,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    before = await row_counts()
    with pytest.raises(DomainError) as refused:
        await economy.users.ensure(subject)
    assert refused.value.code == "INVALID_SUBJECT"
    assert await row_counts() == before


async def test_a_subject_at_the_length_limit_is_stored_whole(economy: Economy) -> None:
    subject = "s" * 255
    assert (await economy.users.ensure(subject)).subject == subject


def test_a_bounded_cache_forgets_the_least_recently_used_entry() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert len(cache) == 2
    assert "b" not in cache
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert cache.pop("a") == 1
    assert cache.pop("a") is None
    assert "a" not in cache
    assert len(cache) == 1


async def test_the_user_directory_keeps_at_most_its_bound_of_users(
    economy: Economy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from economy import users

    monkeypatch.setattr(users, "USERS_KEPT", 3)
    directory = users.UserDirectory(economy.db, diamond_shards=1)
    for n in range(10):
        await directory.ensure(f"viewer:{n}")
    assert len(directory._by_subject) == 3
    assert (await directory.ensure("viewer:0")).subject == "viewer:0"  # read again, not lost
