"""Which operation of a document a request runs: the one `operationName` names; a document with
several operations and no name is a request error (the GraphQL spec's GetOperation).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError

MUST_NAME_ONE = "Must provide operation name if query contains multiple operations."
"""graphql-js's and graphql-core's words for it."""


class OperationNameRequired(CannotGetOperationTypeError):
    """Raised as Strawberry's own "no such operation" refusal, so every transport answers it
    the same way: HTTP with a 400 (`graph.request_guard`), the websocket by closing with 4400."""

    def __init__(self) -> None:
        super().__init__(None)

    def as_http_error_reason(self) -> str:
        return MUST_NAME_ONE


class OperationChoice(SchemaExtension):
    """Refuses a document with several operations when the request names none: Strawberry would
    otherwise run the first."""

    def on_parse(self) -> Iterator[None]:
        yield
        context = self.execution_context
        document = context.graphql_document
        if document is None or context._provided_operation_name is not None:
            return
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if operations > 1:
            raise OperationNameRequired
