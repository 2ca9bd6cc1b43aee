"""Running a console operation in-process on the API's schema with the signed-in user's context,
so authorization, validation and errors are the API's own; top-level errors become HTTP errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from consoles.operations import operation
from graph.auth import Principal
from graph.context import Context
from graph.schema import schema

ContextFactory = Callable[[Principal, web.Request], Context]
"""How the app assembly builds the API's context for a principal (economy, payout service)."""


class OperationFailed(Exception):
    """The API answered with top-level errors: `code` is the first one's `extensions.code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def run_operation(
    context: Context, name: str, variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The `data` of operation `name` run as `context`'s principal. Raises `OperationFailed`
    when the API answers with top-level errors (FORBIDDEN, UNAUTHENTICATED, bad input, ...)."""
    result = await schema.execute(
        operation(name),
        variable_values=dict(variables or {}),
        context_value=context,
        operation_name=name,
    )
    if result.errors:
        first = result.errors[0]
        code = str((first.extensions or {}).get("code", "INTERNAL_SERVER_ERROR"))
        raise OperationFailed(code, first.message)
    return dict(result.data or {})
