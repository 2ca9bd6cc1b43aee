"""The executor every operation runs on: Strawberry's, without the reference cycle graphql-core's
`Executor` makes of itself, so a finished request's objects are freed at once, not by the GC.

graphql-core 3.3 builds `Executor.async_helpers` from two bound methods of the executor (the
`info.async_helpers` resolvers get), so executor -> helpers -> bound method -> executor is a cycle,
and with it everything the executor holds stays alive until a cyclic collection: the context
(our `Context`, with aiohttp's request and response, the loaders, the user), the variables, the
root value and the collected errors. Here the helpers call the executor through a weak reference.
While an operation runs its own coroutines hold the executor, so the helpers always find it;
`bench/repro_graphql_core_cycle.py` shows the cycle with graphql-core alone (the upstream report
is in docs/performance.md).
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from graphql.execution import Executor
from graphql.type import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

R = TypeVar("R")


class _ExecutorMethod(Generic[R]):
    """`executor.<name>(values)`, holding the executor weakly."""

    __slots__ = ("_executor", "_method")

    def __init__(self, executor: Executor[Any], method: Callable[[Any, Sequence[Any]], R]) -> None:
        self._executor = weakref.ref(executor)
        self._method = method

    def __call__(self, values: Sequence[Any]) -> R:
        executor = self._executor()
        if executor is None:
            raise RuntimeError("the GraphQL execution these resolver helpers belong to has ended")
        return self._method(executor, values)


class AcyclicExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor whose `async_helpers` do not keep the executor alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cls = type(self)
        gather: _ExecutorMethod[Awaitable[list[Any]]] = _ExecutorMethod(self, cls.gather_async_work)
        track: _ExecutorMethod[None] = _ExecutorMethod(self, cls.track_async_work)
        self.async_helpers = GraphQLResolveInfoHelpers(gather=gather, track=track)


def drop_tracebacks(errors: Sequence[BaseException]) -> None:
    """Forget the tracebacks of `errors`, their original errors and their causes, once they are
    logged. A traceback holds the frames the error passed through, and one of them (the
    executor's, a resolver's) holds the error again, through the executor's collected errors or a
    local variable: a cycle that keeps the request's context alive until a cyclic collection."""
    seen: set[int] = set()
    pending: list[BaseException] = list(errors)
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        error.__traceback__ = None
        original = getattr(error, "original_error", None)
        for linked in (original, error.__cause__, error.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
