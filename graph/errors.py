"""Errors the API shows at the top level (authentication, authorization, bad arguments to a
query) and the rule that masks every other exception so that no internal detail leaks.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from graphql import GraphQLError
from strawberry.exceptions import StrawberryGraphQLError

from kernel.errors import DomainError


class ApiError(Exception):
    """A failure the caller may see in full: its message and `extensions.code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": code}


def unauthenticated() -> ApiError:
    return ApiError(
        "UNAUTHENTICATED", "sign in first: send an 'Authorization: Bearer <token>' header"
    )


def forbidden(what: str) -> ApiError:
    return ApiError("FORBIDDEN", f"you are not allowed to {what}")


def bad_input(message: str) -> ApiError:
    return ApiError("BAD_USER_INPUT", message)


def should_mask(error: GraphQLError) -> bool:
    """Mask anything that is not a deliberate, public error. Errors raised while parsing or
    validating a document carry no original error and are public too."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, ApiError | StrawberryGraphQLError | GraphQLError)


class PayloadError(Protocol):
    field: str | None
    message: str


E = TypeVar("E")


def payload_errors(error_type: type[E], codes: Any, exc: DomainError) -> list[E]:
    """A domain refusal as the one-element `errors` list of a mutation payload. A code the
    mutation's enum does not know is a bug, and surfaces as an unexpected (masked) error."""
    return [error_type(field=exc.field, message=exc.message, code=codes(exc.code))]  # type: ignore[call-arg]
