"""A field that can be forbidden is nullable, so that refusing it leaves the rest of the answer:
another creator's `stream.earnings` is null with FORBIDDEN and the stream survives; a query the
caller may not run is null beside the fields they may. Checked on the schema for every field
with a permission class or a money check, and over HTTP for the cases people meet."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.types.base import StrawberryOptional

from graph.global_ids import to_global_id
from graph.schema import schema

GraphQL = Callable[..., Awaitable[Any]]


def gated_fields_that_are_not_nullable() -> list[str]:
    found = []
    for name, graphql_type in schema.schema_converter.type_map.items():
        fields = getattr(graphql_type.definition, "fields", None)
        if not fields or name == "Subscription":  # a refused subscription has no parent
            continue
        for field in fields:
            source = ""
            if field.base_resolver is not None:
                source = inspect.getsource(field.base_resolver.wrapped_func)
            gated = bool(field.permission_classes) or "require_money_of" in source
            if gated and not isinstance(field.type, StrawberryOptional):
                found.append(f"{name}.{field.python_name}")
    return found


def test_every_field_that_can_be_forbidden_is_nullable() -> None:
    assert gated_fields_that_are_not_nullable() == []


async def test_another_creators_stream_survives_its_forbidden_earnings(
    graphql: GraphQL, live_stream: Any
) -> None:
    live = await live_stream()
    stream_id = to_global_id("LiveStream", live.stream.id)
    answer = await graphql(
        "query($id: ID!) { stream(id: $id) { title earnings creator { subject coinWallet { "
        "balance } } } }",
        {"id": stream_id},
        subject="creator:someone-else",
        roles=["CREATOR"],
    )
    stream = answer.data["stream"]
    assert stream["title"] == live.stream.title
    assert stream["earnings"] is None
    assert stream["creator"] == {"subject": live.creator.subject, "coinWallet": None}
    assert sorted(answer.error_codes) == ["FORBIDDEN", "FORBIDDEN"]
    assert sorted(tuple(e["path"]) for e in answer.errors) == [
        ("stream", "creator", "coinWallet"),
        ("stream", "earnings"),
    ]


async def test_a_query_the_caller_may_not_run_is_null_beside_the_ones_they_may(
    graphql: GraphQL,
) -> None:
    answer = await graphql(
        "{ giftCatalog { id } auditLog(first: 1) { totalCount } }",
        subject="viewer:vic",
        roles=["VIEWER"],
    )
    assert answer.data == {"giftCatalog": [], "auditLog": None}
    assert answer.error_codes == ["FORBIDDEN"]
