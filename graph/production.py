"""What a production API shows callers of its schema: no introspection (`__schema`, `__type`)
and no "Did you mean ..." suggestions in error messages; development keeps both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import StreamExecutionResult

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?$")
"""graphql-core's suggestions end its messages: "Cannot query field 'x' on type 'Query'. Did
you mean 'y'?" (fields, arguments, types, enum values, input fields)."""


def without_suggestion(message: str) -> str:
    """The message with a trailing "Did you mean ...?" left out."""
    return _SUGGESTION.sub("", message)


def in_production(context: object) -> bool:
    """Whether a request's context (`graph.context.Context`) runs on production settings; a
    context without an economy counts as production."""
    eco = getattr(context, "eco", None)
    settings = getattr(eco, "settings", None)
    return not getattr(settings, "development", False)


class ProductionSchemaPolicy(SchemaExtension):
    """In production: graphql-core's `NoSchemaIntrospectionCustomRule` joins the validation
    rules (and, with them, the key of `graph.documents`' cache, so a document validated in
    development is validated again), and every error's suggestion is cut from its message."""

    _production = False

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self._production = in_production(context.context)
        if self._production:
            context.validation_rules = (*context.validation_rules, NoSchemaIntrospectionCustomRule)
        yield
        if self._production:
            _cut_suggestions(context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        if self._production:
            _cut_suggestions(result)
        yield


def _cut_suggestions(result: object) -> None:
    errors: list[GraphQLError] | None = getattr(result, "errors", None)
    for error in errors or ():
        error.message = without_suggestion(error.message)
