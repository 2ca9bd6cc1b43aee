"""Who sees and spends what: a caller sees only their own wallets, FINANCE and ADMIN see all,
roles gate the mutations, and an unexpected failure never leaks its internals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graph.global_ids import to_global_id

from .queries import GRANT, SEND_GIFT

Post = Callable[..., Awaitable[Any]]

WALLET_BY_ID = "query($id: ID!) { node(id: $id) { id ... on Wallet { balance } } }"


async def test_without_a_token_me_is_unauthenticated_but_the_catalog_is_public(
    graphql: Post, gift: Callable[..., Awaitable[Any]]
) -> None:
    await gift("Rose", 1)
    me = await graphql("{ me { subject } }")
    assert me.data == {"me": None}
    assert me.error_codes == ["UNAUTHENTICATED"]
    catalog = await graphql("{ giftCatalog { name } }")
    assert catalog.data == {"giftCatalog": [{"name": "Rose"}]}


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "],
)
async def test_a_bad_authorization_header_is_refused_with_401(authorization: str, api: Any) -> None:
    response = await api.post(
        "/graphql",
        json={"query": "{ giftCatalog { name } }"},
        headers={"Authorization": authorization},
    )
    assert response.status == 401
    body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_expired_or_foreign_token_is_refused(
    api: Any, token_for: Callable[..., str]
) -> None:
    import jwt

    expired = token_for("viewer:old", "VIEWER", ttl_seconds=-60)
    foreign = jwt.encode(
        {"sub": "viewer:x", "roles": ["ADMIN"], "exp": 4_000_000_000},
        "someone-elses-secret-0123456789abcdef",
        algorithm="HS256",
    )
    for token in (expired, foreign):
        response = await api.post(
            "/graphql",
            json={"query": "{ me { subject } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 401


async def test_a_user_sees_their_own_wallets_and_not_anothers(
    graphql: Post, funded_viewer: Any
) -> None:
    ann = await funded_viewer(30, "viewer:ann")
    bob = await funded_viewer(40, "viewer:bob")
    mine = await graphql(
        WALLET_BY_ID, {"id": to_global_id("Wallet", ann.coin_account_id)}, subject="viewer:ann"
    )
    assert mine.data["node"]["balance"] == 30

    theirs = await graphql(
        WALLET_BY_ID, {"id": to_global_id("Wallet", bob.coin_account_id)}, subject="viewer:ann"
    )
    assert theirs.data == {"node": None}

    through_user = await graphql(
        "query($id: ID!) { node(id: $id) { ... on User { subject coinWallet { balance } } } }",
        {"id": to_global_id("User", bob.id)},
        subject="viewer:ann",
    )
    assert through_user.error_codes == ["FORBIDDEN"]
    assert "40" not in str(through_user.body)


@pytest.mark.parametrize("role", ["FINANCE", "ADMIN"])
async def test_finance_and_admin_see_every_wallet(
    role: str, graphql: Post, funded_viewer: Any
) -> None:
    bob = await funded_viewer(40, "viewer:bob")
    seen = await graphql(
        WALLET_BY_ID,
        {"id": to_global_id("Wallet", bob.coin_account_id)},
        subject="staff:zoe",
        roles=[role],
    )
    assert seen.data["node"]["balance"] == 40


async def test_the_leaderboard_is_public_but_gifters_wallets_and_earnings_are_not(
    graphql: Post, gift: Callable[..., Awaitable[Any]], funded_viewer: Any, live_stream: Any
) -> None:
    rose = await gift("Rose", 1)
    ann = await funded_viewer(5, "viewer:ann")
    live = await live_stream()
    stream_id = to_global_id("LiveStream", live.stream.id)
    await graphql(
        SEND_GIFT,
        {"stream": stream_id, "gift": to_global_id("Gift", rose.id), "quantity": 2, "key": "k"},
        subject=ann.subject,
    )

    board = await graphql(
        "query($id: ID!) { stream(id: $id) { leaderboard { user { subject } total } } }",
        {"id": stream_id},
        subject="viewer:carl",
    )
    assert board.data["stream"]["leaderboard"] == [{"user": {"subject": "viewer:ann"}, "total": 2}]

    wallets = await graphql(
        "query($id: ID!) { stream(id: $id) { leaderboard { user { coinWallet { balance } } } } }",
        {"id": stream_id},
        subject="viewer:carl",
    )
    assert wallets.error_codes == ["FORBIDDEN"]

    earnings = await graphql(
        "query($id: ID!) { stream(id: $id) { earnings } }", {"id": stream_id}, subject="viewer:carl"
    )
    assert earnings.error_codes == ["FORBIDDEN"]
    anonymous = await graphql("query($id: ID!) { stream(id: $id) { earnings } }", {"id": stream_id})
    assert anonymous.error_codes == ["UNAUTHENTICATED"]


async def test_a_sent_gift_is_visible_to_its_sender_and_creator_only(
    graphql: Post, gift: Callable[..., Awaitable[Any]], funded_viewer: Any, live_stream: Any
) -> None:
    rose = await gift("Rose", 1)
    ann = await funded_viewer(5, "viewer:ann")
    live = await live_stream()
    sent = await graphql(
        SEND_GIFT,
        {
            "stream": to_global_id("LiveStream", live.stream.id),
            "gift": to_global_id("Gift", rose.id),
            "quantity": 1,
            "key": "k",
        },
        subject=ann.subject,
    )
    send_id = sent.data["sendGift"]["giftSend"]["id"]
    query = "query($id: ID!) { node(id: $id) { ... on GiftSend { coins } } }"
    for subject, roles, visible in (
        (ann.subject, ["VIEWER"], True),
        (live.creator.subject, ["CREATOR"], True),
        ("viewer:nosy", ["VIEWER"], False),
        ("finance:fin", ["FINANCE"], True),
    ):
        seen = await graphql(query, {"id": send_id}, subject=subject, roles=roles)
        assert (seen.data["node"] is not None) is visible, subject


async def test_gifts_always_spend_the_callers_own_coins(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Any,
    live_stream: Any,
    balance_of: Callable[[int], Awaitable[int]],
) -> None:
    rose = await gift("Rose", 1)
    rich = await funded_viewer(1_000, "viewer:rich")
    await funded_viewer(0, "viewer:broke")
    live = await live_stream()
    attempt = await graphql(
        SEND_GIFT,
        {
            "stream": to_global_id("LiveStream", live.stream.id),
            "gift": to_global_id("Gift", rose.id),
            "quantity": 1,
            "key": "k",
        },
        subject="viewer:broke",
    )
    assert attempt.data["sendGift"]["errors"][0]["code"] == "INSUFFICIENT_COINS"
    assert await balance_of(rich.coin_account_id) == 1_000


@pytest.mark.parametrize(
    ("mutation", "variables", "roles", "code"),
    [
        (GRANT, {"subject": "x", "coins": 1, "reason": "r", "key": "k"}, ["VIEWER"], "FORBIDDEN"),
        (GRANT, {"subject": "x", "coins": 1, "reason": "r", "key": "k"}, ["FINANCE"], "FORBIDDEN"),
        (
            'mutation { startStream(input: {title: "t"}) { stream { id } } }',
            {},
            ["VIEWER"],
            "FORBIDDEN",
        ),
        (
            SEND_GIFT,
            {"stream": "a", "gift": "b", "quantity": 1, "key": "k"},
            ["FINANCE"],
            "FORBIDDEN",
        ),
        (
            SEND_GIFT,
            {"stream": "a", "gift": "b", "quantity": 1, "key": "k"},
            None,
            "UNAUTHENTICATED",
        ),
    ],
)
async def test_mutations_are_gated_by_role(
    mutation: str,
    variables: dict[str, Any],
    roles: list[str] | None,
    code: str,
    graphql: Post,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    before = await row_counts()
    if roles is None:
        response = await graphql(mutation, variables)
    else:
        response = await graphql(mutation, variables, subject="someone", roles=roles)
    assert list(response.data.values()) == [None]
    assert response.error_codes == [code]
    assert await row_counts() == before


async def test_an_unexpected_failure_is_masked_and_leaks_nothing(
    graphql: Post, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import economy.catalog

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    monkeypatch.setattr(economy.catalog, "list_gifts", broken)
    response = await graphql("{ giftCatalog { name } }")
    assert response.status == 200
    assert [e["message"] for e in response.errors] == ["Unexpected error."]
    assert "hunter2" not in str(response.body)
    assert "hunter2" in caplog.text  # but the operators see it in the log
