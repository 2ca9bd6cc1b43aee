"""A finished request leaves no reference cycle holding its `Context` (and with it aiohttp's request
and response, the loaders, the user): freed by reference counting, never waiting for the GC.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from graphql import GraphQLResolveInfo, build_schema, execute, parse

from graph.context import Context
from graph.execution import AcyclicExecutor, drop_tracebacks
from graph.global_ids import to_global_id
from graph.schema import schema

from .queries import GRANT, SEND_GIFT

ROUNDS = 5


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cyclic collector off for the test's requests (reference counting alone frees)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def in_cycles(*kinds: type) -> dict[str, int]:
    """How many objects of `kinds` the cyclic collector finds in unreachable cycles now."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found: dict[str, int] = {}
    for garbage in gc.garbage:
        for kind in kinds:
            if isinstance(garbage, kind):
                found[kind.__name__] = found.get(kind.__name__, 0) + 1
    gc.set_debug(0)
    gc.garbage.clear()
    return found


def alive(kind: type) -> int:
    return sum(isinstance(o, kind) for o in gc.get_objects())


async def test_requests_of_every_kind_leave_no_cycle_holding_their_context(
    graphql: Callable[..., Awaitable[Any]],
    gift: Any,
    funded_viewer: Any,
    live_stream: Any,
    collector_off: None,
) -> None:
    rose = await gift("Rose", 1)
    await funded_viewer(ROUNDS + 1, "viewer:ann")
    stream = to_global_id("LiveStream", (await live_stream()).stream.id)
    rose_id = to_global_id("Gift", rose.id)

    async def every_kind(round_: int) -> None:
        # booked, then refused as payload data (no coins left on the last rounds)
        for key in (f"tap-{round_}", f"tap-{round_}-more"):
            sent = await graphql(
                SEND_GIFT,
                {"stream": stream, "gift": rose_id, "quantity": 1, "key": key},
                subject="viewer:ann",
            )
            assert sent.data["sendGift"] is not None, sent.body
        refused = await graphql(  # FORBIDDEN at the top level
            GRANT, {"subject": "x", "coins": 1, "reason": "r", "key": "k"}, subject="viewer:bob"
        )
        assert refused.error_codes == ["FORBIDDEN"]
        bad = await graphql('{ me { subject } stream(id: "bad") { id } }', subject="viewer:bob")
        assert bad.error_codes == ["BAD_USER_INPUT"]
        anonymous = await graphql("{ me { subject } }")
        assert anonymous.error_codes == ["UNAUTHENTICATED"]

    await every_kind(0)  # warm-up: caches, the first sight of each user
    assert in_cycles(Context) == {}
    for round_ in range(1, ROUNDS + 1):
        await every_kind(round_)
    sent_refused = await graphql(
        SEND_GIFT,
        {"stream": stream, "gift": rose_id, "quantity": 1, "key": "one-too-many"},
        subject="viewer:ann",
    )
    assert sent_refused.data["sendGift"]["errors"][0]["code"] == "INSUFFICIENT_COINS"

    assert alive(Context) == 0  # freed by reference counting, with the collector off
    assert in_cycles(Context, AcyclicExecutor, web.Request, web.Response) == {}


async def test_the_executor_is_freed_with_its_execution_and_its_helpers_still_work() -> None:
    graph = build_schema("type Query { both: [String] }")
    gathered: list[list[Any]] = []

    async def word(text: str) -> str:
        return text

    async def both(_root: Any, info: GraphQLResolveInfo) -> list[Any]:
        gathered.append(await info.async_helpers.gather([word("a"), word("b")]))
        info.async_helpers.track([word("tracked")])
        return gathered[-1]

    graph.query_type.fields["both"].resolve = both  # type: ignore[union-attr]
    context = Context.__new__(Context)  # any object: only its lifetime is looked at
    watched = weakref.ref(context)
    gc.disable()
    try:
        result = execute(
            graph, parse("{ both }"), context_value=context, executor_class=AcyclicExecutor
        )
        assert not isinstance(result, list)
        outcome = await result  # type: ignore[misc]
        del context, result
        assert outcome.data == {"both": ["a", "b"]}
        assert watched() is None  # the executor and the context went with the execution
    finally:
        gc.enable()


def test_the_schema_runs_every_operation_on_the_acyclic_executor() -> None:
    assert schema.execution_context_class is AcyclicExecutor


def test_logged_errors_forget_their_tracebacks_their_causes_too() -> None:
    def fail() -> None:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise ValueError("outer") from inner

    try:
        fail()
    except ValueError as caught:
        error = caught
    assert error.__traceback__ is not None
    assert error.__cause__ is not None
    assert error.__cause__.__traceback__ is not None
    drop_tracebacks([error])
    assert error.__traceback__ is None
    assert error.__cause__.__traceback__ is None
