"""graphql-core alone: every execution leaves a reference cycle that holds its context value,
freed only by the cyclic GC. `python -m bench.repro_graphql_core_cycle` (exit 1: the cycle exists).

`Executor.__init__` builds `self.async_helpers` from two bound methods of the executor
(`self.gather_async_work`, `self.track_async_work`), so the executor holds itself. The script runs
one query (a sync resolver and an async one) with the collector off, checks by weak reference
whether the context value outlived the request, then lets `gc.collect()` (DEBUG_SAVEALL) show the
cycle. The upstream report built on it is in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections import Counter
from typing import Any

import graphql
from graphql import build_schema, execute, parse, validate

SCHEMA = build_schema("type Query { hello: String  later: String }")
DOCUMENT = parse("{ hello later }")


class Context:
    """What an application passes as `context_value` (ours holds the HTTP request and response)."""


class Root:
    def hello(self, _info: Any) -> str:
        return "world"

    async def later(self, _info: Any) -> str:
        return "world, later"


async def one_request() -> weakref.ref[Context]:
    context = Context()
    result = execute(SCHEMA, DOCUMENT, root_value=Root(), context_value=context)
    assert not isinstance(result, graphql.ExecutionResult)  # awaitable: `later` is async
    awaited = await result
    assert awaited.errors is None, awaited.errors
    return weakref.ref(context)


async def main() -> int:
    assert not validate(SCHEMA, DOCUMENT)
    await one_request()  # warm-up: schema validation and caches
    gc.collect()
    gc.disable()
    try:
        context = await one_request()
        alive = context() is not None
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        kinds = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    print(f"graphql-core {graphql.__version__}, Python {sys.version.split()[0]}")
    print(f"the context value is alive after the request (collector off): {alive}")
    print(f"gc.collect() found a cycle of {sum(kinds.values())} objects: {dict(kinds)}")
    print(f"the context value is alive after gc.collect(): {context() is not None}")
    return 1 if alive else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
