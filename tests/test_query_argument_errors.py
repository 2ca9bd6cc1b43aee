"""The one rule for a query's arguments: one it cannot use (a malformed id, an id of another
type, a cursor it did not give out, a page size out of bounds) is a top-level BAD_USER_INPUT
error naming the argument in `extensions.argument`; a well-formed id that names nothing is null
with no error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graph.global_ids import to_global_id

GraphQL = Callable[..., Awaitable[Any]]

FINANCE = ("FINANCE",)


@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ('{ stream(id: "nope") { id } }', "id"),
        (f'{{ stream(id: "{to_global_id("Gift", 1)}") {{ id }} }}', "id"),
        ('{ payout(id: "%%%") { id } }', "id"),
        (f'{{ payout(id: "{to_global_id("User", 1)}") {{ id }} }}', "id"),
        ('{ reconciliationRun(id: "x") { id } }', "id"),
        ('{ node(id: "nope") { id } }', "id"),
        ("{ liveStreams(first: 0) { edges { cursor } } }", "first"),
        ('{ liveStreams(after: "garbage") { edges { cursor } } }', "after"),
        ('{ payouts(creator: "") { totalCount } }', "creator"),
        ('{ complianceProfile(userId: "nope") { sanctionsStatus } }', "userId"),
        ("{ yearEndReport(year: 1900) { year } }", "year"),
    ],
)
async def test_an_argument_a_query_cannot_use_is_bad_user_input_naming_it(
    query: str, argument: str, graphql: GraphQL
) -> None:
    answer = await graphql(query, subject="finance:fay", roles=FINANCE)
    assert answer.error_codes == ["BAD_USER_INPUT"], answer.body
    assert answer.errors[0]["extensions"]["argument"] == argument, answer.body


@pytest.mark.parametrize(
    "query",
    [
        f'{{ stream(id: "{to_global_id("LiveStream", 999_999)}") {{ id }} }}',
        f'{{ payout(id: "{to_global_id("Payout", 999_999)}") {{ id }} }}',
        f'{{ reconciliationRun(id: "{to_global_id("ReconciliationRun", 999_999)}") {{ id }} }}',
        f'{{ node(id: "{to_global_id("User", 999_999)}") {{ id }} }}',
    ],
)
async def test_a_well_formed_id_that_names_nothing_is_null_without_an_error(
    query: str, graphql: GraphQL
) -> None:
    answer = await graphql(query, subject="finance:fay", roles=FINANCE)
    assert answer.errors == [], answer.body
    assert list(answer.data.values()) == [None]
