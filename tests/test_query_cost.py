"""The query cost limit (`graph.cost`): how an operation is counted, its refusal before anything
runs, `extensions.cost` over HTTP and the websocket, and the room every operation we ship leaves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from graphql import (
    GraphQLSchema,
    NamedTypeNode,
    OperationDefinitionNode,
    TypeNode,
    build_schema,
    parse,
)

from consoles.operations import operation, operation_names
from economy.app import Economy
from economy.users import User
from graph.cost import QUERY_TOO_COSTLY, query_cost
from graph.global_ids import to_global_id
from graph.server import create_app
from settings.service import DEFAULT_MAX_QUERY_COST, Settings
from tests.live_fixtures import GIFT_RECEIVED, WALLET_CHANGED, connect

ROOT = Path(__file__).resolve().parent.parent
Post = Callable[..., Awaitable[Any]]

STREAMS_AND_THEIR_LEADERBOARDS = """{
  liveStreams(first: 100) { edges { node { leaderboard(first: 100) { user { subject } } } } }
}"""
"""1 + 100 * (edges 1 + node 1 + leaderboard (1 + 100 * (user 1 + subject 1))) = 20,301."""

COSTLY_GRANT = """mutation Grant($input: GrantCoinsInput!) {
  grantCoins(input: $input) {
    wallet { balance transactions(first: 100) { edges { node {
      sender { streams(first: 100) { edges { node { id title } } } }
    } } } }
    errors { code }
  }
}"""

COSTLY_LEADERBOARD = """subscription Board($stream: ID!) {
  leaderboardChanged(streamId: $stream, first: 100) {
    entries { user { streams(first: 100) { edges { node { id title } } } } }
  }
}"""


@pytest.fixture(scope="module")
def sdl() -> GraphQLSchema:
    return build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def cost(sdl: GraphQLSchema, query: str, variables: dict[str, Any] | None = None) -> int | None:
    return query_cost(sdl, parse(query), None, variables)


# -- Counting ------------------------------------------------------------------------------------


def test_every_field_costs_one_and_typename_nothing(sdl: GraphQLSchema) -> None:
    assert cost(sdl, "{ giftCatalog { id name coins } }") == 4
    assert cost(sdl, "{ giftCatalog { __typename id } __typename }") == 2


def test_a_page_multiplies_what_each_item_asks_for(sdl: GraphQLSchema) -> None:
    assert cost(sdl, "{ liveStreams(first: 10) { edges { node { id title } } } }") == 41
    assert cost(sdl, STREAMS_AND_THEIR_LEADERBOARDS) == 20_301


def test_a_page_without_first_counts_the_fields_default(sdl: GraphQLSchema) -> None:
    # liveStreams' default page is 20 items; leaderboard's default `first` is 10.
    assert cost(sdl, "{ liveStreams { edges { cursor } } }") == 1 + 20 * 2
    assert cost(sdl, '{ stream(id: "x") { leaderboard { rank } } }') == 1 + 1 + 10 * 1


def test_variables_and_their_defaults_set_the_page(sdl: GraphQLSchema) -> None:
    query = "query($n: Int = 5) { liveStreams(first: $n) { edges { cursor } } }"
    assert cost(sdl, query) == 1 + 5 * 2
    assert cost(sdl, query, {"n": 50}) == 1 + 50 * 2
    assert cost(sdl, query, {"n": None}) == 1 + 20 * 2
    unset = "query($n: Int) { liveStreams(first: $n) { edges { cursor } } }"
    assert cost(sdl, unset) == 1 + 20 * 2


def test_a_page_counts_at_most_the_largest_page_served(sdl: GraphQLSchema) -> None:
    # first: 1000 is refused with BAD_USER_INPUT before its items resolve.
    query = "query($n: Int) { liveStreams(first: $n) { edges { cursor } } }"
    assert cost(sdl, query, {"n": 1_000}) == 1 + 100 * 2
    assert cost(sdl, query, {"n": -3}) == 1


def test_aliases_and_fragments_are_counted_each_time(sdl: GraphQLSchema) -> None:
    one = cost(sdl, "{ liveStreams(first: 10) { edges { node { id } } } }")
    assert one == 31
    page = "liveStreams(first: 10) { edges { node { id } } }"
    aliased = f"{{ a: {page} b: {page} }}"
    assert cost(sdl, aliased) == 2 * one
    spread = """
      { a: liveStreams(first: 10) { ...Page } b: liveStreams(first: 10) { ...Page } }
      fragment Page on LiveStreamConnection { edges { node { ... on LiveStream { id } } } }
    """
    assert cost(sdl, spread) == 2 * one


def test_fragments_spread_into_fragments_are_counted_in_linear_time(sdl: GraphQLSchema) -> None:
    # Each fragment spreads the next five times: 5^12 walks if counted naively.
    levels = 12
    fragments = [
        f"fragment F{n} on Query {{ {' '.join([f'...F{n + 1}'] * 5)} }}" for n in range(levels)
    ]
    fragments.append(f"fragment F{levels} on Query {{ giftCatalog {{ id }} }}")
    assert cost(sdl, "{ ...F0 }\n" + "\n".join(fragments)) == 2 * 5**levels


def test_the_chosen_operation_is_counted(sdl: GraphQLSchema) -> None:
    document = parse(
        "query Small { giftCatalog { id } }"
        " query Big { liveStreams(first: 100) { edges { cursor } } }"
    )
    assert query_cost(sdl, document, "Small") == 2
    assert query_cost(sdl, document, "Big") == 201
    assert query_cost(sdl, document, "Missing") is None


# -- Every operation we ship --------------------------------------------------------------------


def _worst_variables(query: str) -> dict[str, Any]:
    """Every Int variable at the largest page: the most the operation can ever cost."""
    document = parse(query)
    variables: dict[str, Any] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                kind: TypeNode = variable.type
                while not isinstance(kind, NamedTypeNode):
                    kind = kind.type  # type: ignore[attr-defined]
                if kind.name.value == "Int":
                    variables[variable.variable.name.value] = 100
    return variables


SHIPPED = [(f"consoles/{name}", operation(name)) for name in operation_names()] + [
    (f"clients/{path.stem}", path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "clients" / "operations").glob("*.graphql"))
]


@pytest.mark.parametrize(("name", "query"), SHIPPED, ids=[name for name, _ in SHIPPED])
def test_every_shipped_operation_costs_at_most_half_the_default_limit(
    sdl: GraphQLSchema, name: str, query: str
) -> None:
    worst = cost(sdl, query, _worst_variables(query))
    assert worst is not None
    assert worst <= DEFAULT_MAX_QUERY_COST // 2, f"{name} can cost {worst:,}"


# -- Over HTTP ----------------------------------------------------------------------------------


async def test_every_response_reports_its_cost(graphql: Post) -> None:
    response = await graphql("{ giftCatalog { id name coins } }")
    assert response.errors == []
    assert response.body["extensions"] == {
        "cost": {"requested": 4, "limit": DEFAULT_MAX_QUERY_COST}
    }


async def test_page_sizes_that_multiply_past_the_limit_are_refused(graphql: Post) -> None:
    response = await graphql(STREAMS_AND_THEIR_LEADERBOARDS)
    assert response.status == 200
    assert response.data is None
    assert response.error_codes == [QUERY_TOO_COSTLY]
    [error] = response.errors
    assert "20,301" in error["message"]
    assert "10,000" in error["message"]
    expected = {"requested": 20_301, "limit": DEFAULT_MAX_QUERY_COST}
    assert error["extensions"]["cost"] == expected
    assert response.body["extensions"] == {"cost": expected}


async def test_variables_decide_the_cost(graphql: Post) -> None:
    query = """query($n: Int!) {
      liveStreams(first: $n) { edges { node { leaderboard(first: 100) { user { subject } } } } }
    }"""
    small = await graphql(query, {"n": 2})
    assert small.errors == []
    assert small.body["extensions"]["cost"]["requested"] == 1 + 2 * 203
    assert (await graphql(query, {"n": 100})).error_codes == [QUERY_TOO_COSTLY]


async def test_a_costly_query_is_refused_before_anything_runs(graphql: Post) -> None:
    # Executed, `me` would be UNAUTHENTICATED for an anonymous caller: it is never resolved.
    query = "{ me { subject } " + STREAMS_AND_THEIR_LEADERBOARDS[1:]
    response = await graphql(query)
    assert response.error_codes == [QUERY_TOO_COSTLY]


async def test_a_costly_mutation_books_nothing(
    graphql: Post, economy: Economy, admin: User
) -> None:
    variables = {
        "input": {
            "subject": "viewer:costly",
            "coins": 50,
            "reason": "promo",
            "idempotencyKey": "k1",
        }
    }
    response = await graphql(COSTLY_GRANT, variables, subject=admin.subject, roles=["ADMIN"])
    assert response.error_codes == [QUERY_TOO_COSTLY]
    assert response.body["extensions"]["cost"]["requested"] > DEFAULT_MAX_QUERY_COST
    viewer = await economy.users.ensure("viewer:costly")
    wallet = await graphql("{ me { coinWallet { balance } } }", subject=viewer.subject)
    assert wallet.data == {"me": {"coinWallet": {"balance": 0}}}


async def test_a_refusal_is_a_400_under_the_graphql_response_media_type(api: Any) -> None:
    response = await api.post(
        "/graphql",
        json={"query": STREAMS_AND_THEIR_LEADERBOARDS},
        headers={"Accept": "application/graphql-response+json"},
    )
    body = await response.json(content_type=None)
    assert response.status == 400
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == [QUERY_TOO_COSTLY]


async def test_the_limit_is_configurable(settings: Settings) -> None:
    assert Settings.from_env({"DIAMONDS_MAX_QUERY_COST": "250"}).max_query_cost == 250
    eco = await Economy.start(replace(settings, max_query_cost=100))
    try:
        async with TestClient(TestServer(create_app(eco))) as client:
            query = "{ liveStreams(first: 50) { edges { cursor } } }"  # 101
            response = await client.post("/graphql", json={"query": query})
            body = await response.json()
            assert [e["extensions"]["code"] for e in body["errors"]] == [QUERY_TOO_COSTLY]
            assert body["extensions"]["cost"] == {"requested": 101, "limit": 100}
            response = await client.post("/graphql", json={"query": "{ giftCatalog { id } }"})
            body = await response.json()
            assert "errors" not in body
            assert body["extensions"]["cost"] == {"requested": 2, "limit": 100}
    finally:
        await eco.close()


# -- Over the websocket -------------------------------------------------------------------------


async def test_websocket_messages_report_their_cost(
    api: Any, token_for: Any, economy: Economy, live_stream: Any
) -> None:
    live = await live_stream()
    await economy.users.ensure("viewer:cost")
    client = await connect(
        api.session, str(api.make_url("/graphql")), token_for("viewer:cost", "VIEWER")
    )
    try:
        shared = await client.subscribe(
            GIFT_RECEIVED, {"stream": to_global_id("LiveStream", live.stream.id)}
        )
        own = await client.subscribe(WALLET_CHANGED)
        for op in (shared, own):
            message = await client.next_for(op)
            assert message["type"] == "next", message
            cost = message["payload"]["extensions"]["cost"]
            assert cost["limit"] == DEFAULT_MAX_QUERY_COST
            assert 0 < cost["requested"] < 100
    finally:
        await client.ws.close()


async def test_a_costly_subscription_gets_an_error_message(api: Any, live_stream: Any) -> None:
    live = await live_stream()
    client = await connect(api.session, str(api.make_url("/graphql")))
    try:
        op = await client.subscribe(
            COSTLY_LEADERBOARD, {"stream": to_global_id("LiveStream", live.stream.id)}
        )
        message = await client.next_for(op)
    finally:
        await client.ws.close()
    assert message["type"] == "error", message
    [error] = message["payload"]
    assert error["extensions"]["code"] == QUERY_TOO_COSTLY
    assert error["extensions"]["cost"]["requested"] > DEFAULT_MAX_QUERY_COST
