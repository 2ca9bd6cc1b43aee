"""`payoutQuote` over HTTP: the amounts equal what `requestPayout` then books, only a creator
asks (for themselves), bad inputs are typed payload errors as `requestPayout` gives, and a quote
writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from compliance.gate.rules import Requirement
from graph.server import create_app

from .conftest import MONEY_TABLES
from .payout_fixtures import Rig

Post = Callable[..., Awaitable[Any]]

QUOTE = """
query($provider: String!, $diamonds: BigInt!, $currency: String! = "USD") {
  payoutQuote(provider: $provider, diamonds: $diamonds, currency: $currency) {
    quote { diamonds provider currency gross fee withholding net }
    errors { field message code }
  }
}
"""

REQUEST = """
mutation($diamonds: BigInt!) {
  requestPayout(input: {diamonds: $diamonds, provider: "ledgerbank", currency: "USD",
                        idempotencyKey: "quoted"}) {
    payout { diamonds provider currency gross fee withholding net }
    errors { field message code }
  }
}
"""

CREATOR = {"subject": "creator:quinn", "roles": ["CREATOR"]}
PAYOUT_TABLES = ("payouts", "payout_attempts", "payout_events")


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(rig.eco, rig.svc))) as client:
        yield client


async def test_the_quote_is_what_the_request_then_books(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(60_000, subject="creator:quinn")
    rig.bank.fee = 125
    rig.gate.withholding_bps = 2_400
    quoted = await graphql(QUOTE, {"provider": "ledgerbank", "diamonds": 40_001}, **CREATOR)
    answer = quoted.data["payoutQuote"]
    assert answer["errors"] == [], quoted.body
    quote = answer["quote"]
    # 40,001 diamonds at the default rate are worth 20,000 cents; 24% withheld, rounded up.
    assert quote == {
        "diamonds": 40_001,
        "provider": "ledgerbank",
        "currency": "USD",
        "gross": 20_000,
        "fee": 125,
        "withholding": 4_800,
        "net": 20_000 - 125 - 4_800,
    }

    requested = await graphql(REQUEST, {"diamonds": 40_001}, **CREATOR)
    assert requested.data["requestPayout"]["errors"] == [], requested.body
    assert requested.data["requestPayout"]["payout"] == quote


@pytest.mark.parametrize("roles", [["VIEWER"], ["FINANCE"], ["ADMIN"]])
async def test_only_a_creator_may_ask_for_a_quote(
    graphql: Post, rig: Rig, roles: list[str]
) -> None:
    refused = await graphql(
        QUOTE, {"provider": "ledgerbank", "diamonds": 4_000}, subject="someone:else", roles=roles
    )
    assert refused.data == {"payoutQuote": None}
    assert refused.body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    anonymous = await graphql(QUOTE, {"provider": "ledgerbank", "diamonds": 4_000})
    assert anonymous.body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_quote_cannot_name_another_creator(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    other = await rich_creator(60_000, subject="creator:other")
    asked = await graphql(
        'query($id: ID!) { payoutQuote(provider: "ledgerbank", diamonds: 4000, userId: $id)'
        " { quote { net } } }",
        {"id": str(other.id)},
        **CREATOR,
    )
    assert asked.data is None
    assert "userId" in asked.body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"provider": "nobank", "diamonds": 4_000}, "UNKNOWN_PROVIDER", "provider"),
        ({"provider": "ledgerbank", "diamonds": 0}, "INVALID_AMOUNT", "diamonds"),
        ({"provider": "ledgerbank", "diamonds": -5}, "INVALID_AMOUNT", "diamonds"),
        ({"provider": "ledgerbank", "diamonds": 10**15}, "INVALID_AMOUNT", "diamonds"),
        ({"provider": "ledgerbank", "diamonds": 100}, "BELOW_MINIMUM", "diamonds"),
        (
            {"provider": "ledgerbank", "diamonds": 4_000, "currency": "JPY"},
            "UNSUPPORTED_CURRENCY",
            "currency",
        ),
    ],
)
async def test_bad_inputs_are_typed_errors_as_a_request_gives_them(
    graphql: Post,
    rig: Rig,
    rich_creator: Callable[..., Awaitable[Any]],
    variables: dict[str, Any],
    code: str,
    field: str,
) -> None:
    await rich_creator(60_000, subject="creator:quinn")
    quoted = await graphql(QUOTE, variables, **CREATOR)
    answer = quoted.data["payoutQuote"]
    assert answer["quote"] is None
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [(code, field)], quoted.body

    requested = await graphql(
        REQUEST.replace('"ledgerbank"', "$provider")
        .replace('"USD"', "$currency")
        .replace(
            "$diamonds: BigInt!", "$diamonds: BigInt!, $provider: String!, $currency: String!"
        ),
        {"currency": "USD", **variables},
        **CREATOR,
    )
    assert [e["code"] for e in requested.data["requestPayout"]["errors"]] == [code]


async def test_a_blocked_creator_gets_each_missing_requirement(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(60_000, subject="creator:quinn")
    rig.gate.blocked = [
        Requirement("IDENTITY_UNVERIFIED", "verify your identity"),
        Requirement("TAX_FORM_MISSING", "give a tax form"),
    ]
    quoted = await graphql(QUOTE, {"provider": "ledgerbank", "diamonds": 4_000}, **CREATOR)
    answer = quoted.data["payoutQuote"]
    assert answer["quote"] is None
    assert [(e["code"], e["message"]) for e in answer["errors"]] == [
        ("IDENTITY_UNVERIFIED", "verify your identity"),
        ("TAX_FORM_MISSING", "give a tax form"),
    ]


async def test_a_quote_writes_nothing(
    graphql: Post,
    rig: Rig,
    rich_creator: Callable[..., Awaitable[Any]],
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    await rich_creator(60_000, subject="creator:quinn")
    # Seen once, so the user record exists before we count.
    await graphql("{ me { subject } }", **CREATOR)
    before = await row_counts(*MONEY_TABLES, *PAYOUT_TABLES, "users")
    for diamonds in (4_000, 40_000, 0):
        await graphql(QUOTE, {"provider": "ledgerbank", "diamonds": diamonds}, **CREATOR)
    rig.gate.blocked = [Requirement("IDENTITY_UNVERIFIED", "verify your identity")]
    await graphql(QUOTE, {"provider": "ledgerbank", "diamonds": 4_000}, **CREATOR)
    assert await row_counts(*MONEY_TABLES, *PAYOUT_TABLES, "users") == before
