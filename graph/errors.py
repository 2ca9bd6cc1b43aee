"""Errors the API shows: at the top level (authentication, authorization, bad arguments to a
query, with the rule that masks every other exception), and a domain refusal as payload data.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from kernel.errors import DomainError

E = TypeVar("E")
E_co = TypeVar("E_co", covariant=True)
C = TypeVar("C")
C_contra = TypeVar("C_contra", contravariant=True)
P = TypeVar("P")
Params = ParamSpec("Params")


class ApiError(Exception):
    """A failure the caller may see in full: its message and `extensions.code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": code}


SIGN_IN_OVER_HTTP = "sign in first: send an 'Authorization: Bearer <token>' header"
SIGN_IN_OVER_WEBSOCKET = (
    "sign in first: connect again with the token in the connection_init payload "
    '(connectionParams {"Authorization": "Bearer <token>"})'
)


def unauthenticated(*, websocket: bool = False) -> ApiError:
    """UNAUTHENTICATED, saying how to sign in on the caller's transport: a header over HTTP,
    the `connection_init` payload over the websocket (a connection signs in once)."""
    return ApiError("UNAUTHENTICATED", SIGN_IN_OVER_WEBSOCKET if websocket else SIGN_IN_OVER_HTTP)


def forbidden(what: str) -> ApiError:
    return ApiError("FORBIDDEN", f"you are not allowed to {what}")


def bad_input(message: str, *, argument: str) -> ApiError:
    """The one rule for a query's or subscription's argument it cannot use (a malformed id, a
    cursor it did not give out, a page size or range out of bounds): a top-level error,
    `BAD_USER_INPUT`, naming the argument in `extensions.argument`. Mutations refuse their
    input in the payload instead (`errors { field code }`)."""
    error = ApiError("BAD_USER_INPUT", message)
    error.extensions["argument"] = argument
    return error


PUBLIC_ERRORS = (
    ApiError,
    StrawberryGraphQLError,
    GraphQLError,
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
)
"""Deliberate errors: ours, GraphQL's, and Strawberry's refusals of the operation a request
chose (no such operation, none named among several, a type the transport does not run)."""


def should_mask(error: GraphQLError) -> bool:
    """Mask anything that is not a deliberate, public error. Errors raised while parsing or
    validating a document carry no original error and are public too."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, PUBLIC_ERRORS)


class PayloadErrorType(Protocol[E_co, C_contra]):
    """A mutation's error type (`XError`): built from a field, a message and a code."""

    def __call__(self, *, field: str | None, message: str, code: C_contra) -> E_co: ...


def payload_errors(
    error_type: PayloadErrorType[E, C], codes: Callable[[str], C], exc: DomainError
) -> list[E]:
    """A domain refusal as the one-element `errors` list of a mutation payload. A code the
    mutation's enum does not know is a bug, and surfaces as an unexpected (masked) error."""
    return [error_type(field=exc.field, message=exc.message, code=codes(exc.code))]


def refusals_as(
    payload: Callable[..., P],
    error_type: PayloadErrorType[E, C],
    codes: Callable[[str], C],
    **refused: object,
) -> Callable[[Callable[Params, Awaitable[P]]], Callable[Params, Awaitable[P]]]:
    """Wrap a mutation resolver so that a `DomainError` it raises is answered with
    `payload(errors=[error_type(field, message, codes(code))], **refused)`: `refused` holds the
    payload's other fields as a refusal shows them (`stream=None`, `replayed=False`)."""

    def wrap(resolve: Callable[Params, Awaitable[P]]) -> Callable[Params, Awaitable[P]]:
        @functools.wraps(resolve)
        async def resolve_or_refuse(*args: Params.args, **kwargs: Params.kwargs) -> P:
            try:
                return await resolve(*args, **kwargs)
            except DomainError as exc:
                # Answered as data: its traceback (this frame and the resolver's, which hold the
                # request's context) would only keep a reference cycle alive.
                exc.__traceback__ = None
                return payload(errors=payload_errors(error_type, codes, exc), **refused)

        return resolve_or_refuse

    return wrap
