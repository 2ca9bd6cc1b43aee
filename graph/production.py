"""What the API shows callers of its schema: introspection (`__schema`, `__type`) only to whom
`DIAMONDS_INTROSPECTION` allows, and in production no "Did you mean ..." suggestions in errors.
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


def may_introspect(context: object) -> bool:
    """Whether this request's caller may introspect, by the settings' `introspection`
    (everyone, signed-in, staff, nobody); a context without settings or caller may not."""
    settings = getattr(getattr(context, "eco", None), "settings", None)
    allowed = getattr(settings, "introspection", "nobody")
    principal = getattr(context, "principal", None)
    if allowed == "everyone":
        return True
    if principal is None or allowed == "nobody":
        return False
    if allowed == "staff":
        return bool(principal.is_staff)
    return principal.subject is not None


class ProductionSchemaPolicy(SchemaExtension):
    """For a caller who may not introspect, graphql-core's `NoSchemaIntrospectionCustomRule`
    joins the validation rules (and, with them, the key of `graph.documents`' cache, so a
    document validated for one caller is validated again for another); in production every
    error's suggestion is cut from its message."""

    _production = False

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self._production = in_production(context.context)
        if not may_introspect(context.context):
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
