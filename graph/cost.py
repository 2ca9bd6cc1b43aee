"""The query cost limit: what an operation asks for, counted after validation and before anything
runs, refused past `DIAMONDS_MAX_QUERY_COST`, and reported in every response's extensions.

The count is an upper bound of the fields an operation can resolve: every field costs 1, and a
field with a page argument (`first`) multiplies what its selection costs by the page size: the
argument's value (a literal, a variable or the variable's default), else the field's default,
else the connections' default page (20), and never more than the largest page the field serves
(100), since a larger one is refused before its items resolve. Aliases are counted, fragments as
often as they are spread, and every branch of a union or an interface is added. `__typename`
is free. `extensions.cost` is `{"requested": N, "limit": M}` (GitHub and Shopify report theirs
there too), over HTTP and in every websocket `next` message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLArgument,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.type import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from graph.global_ids import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from settings.service import DEFAULT_MAX_QUERY_COST

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
PAGE_ARGUMENT = "first"


def max_query_cost(context: object) -> int:
    """The limit for a request's context (`graph.context.Context`): its settings', else the
    default."""
    settings = getattr(getattr(context, "eco", None), "settings", None)
    limit = getattr(settings, "max_query_cost", DEFAULT_MAX_QUERY_COST)
    return limit if isinstance(limit, int) else DEFAULT_MAX_QUERY_COST


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int | None:
    """The cost of the operation `operation_name` chooses in a validated `document`, with these
    variables; None when the document holds no such operation."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    return _Counter(schema, document, operation, variables or {}).selection(
        root, operation.selection_set
    )


class _Counter:
    """One operation's count: fragments counted once each (a fragment costs the same wherever
    it is spread), so a document spreading fragments into fragments is counted in linear time."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = dict(variables)
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            default = definition.default_value
            if name not in self.variables and isinstance(default, IntValueNode):
                self.variables[name] = int(default.value)
        self.fragment_costs: dict[str, int] = {}

    def selection(self, parent: GraphQLNamedType, selection_set: SelectionSetNode) -> int:
        cost = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                cost += self.field(parent, node)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                cost += self.selection(kind or parent, node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                cost += self.fragment(node.name.value)
        return cost

    def fragment(self, name: str) -> int:
        known = self.fragment_costs.get(name)
        if known is not None:
            return known
        self.fragment_costs[name] = 0  # a cycle (validation refuses one) counts nothing more
        definition = self.fragments.get(name)
        kind = (
            None
            if definition is None
            else self.schema.get_type(definition.type_condition.name.value)
        )
        cost = 0
        if definition is not None and kind is not None:
            cost = self.selection(kind, definition.selection_set)
        self.fragment_costs[name] = cost
        return cost

    def field(self, parent: GraphQLNamedType, node: FieldNode) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        definition = _field_definition(self.schema, parent, name)
        if definition is None or node.selection_set is None:
            return 1
        children = self.selection(get_named_type(definition.type), node.selection_set)
        return 1 + self.page_size(definition, node) * children

    def page_size(self, definition: GraphQLField, node: FieldNode) -> int:
        """How many items a field with a page argument can answer; 1 for any other field."""
        argument = definition.args.get(PAGE_ARGUMENT)
        if argument is None:
            return 1
        given: ValueNode | None = next(
            (a.value for a in node.arguments or () if a.name.value == PAGE_ARGUMENT), None
        )
        value = _default_of(argument)
        if isinstance(given, IntValueNode):
            value = int(given.value)
        elif isinstance(given, VariableNode):
            value = self.variables.get(given.name.value, value)
        elif given is not None:
            value = None
        if value is Undefined or not isinstance(value, int) or isinstance(value, bool):
            value = DEFAULT_PAGE_SIZE
        return min(max(value, 0), MAX_PAGE_SIZE)


def _default_of(argument: GraphQLArgument) -> object:
    """An argument's default: the schema's Python value, or (in a schema built from SDL) its
    literal."""
    if argument.default_value is not Undefined:
        return argument.default_value
    default = getattr(argument, "default", None)
    literal = getattr(default, "literal", None)
    if isinstance(literal, IntValueNode):
        return int(literal.value)
    return getattr(default, "value", Undefined)


def _field_definition(
    schema: GraphQLSchema, parent: GraphQLNamedType, name: str
) -> GraphQLField | None:
    if name == "__schema" and parent is schema.query_type:
        return SchemaMetaFieldDef
    if name == "__type" and parent is schema.query_type:
        return TypeMetaFieldDef
    fields: Mapping[str, GraphQLField] | None = getattr(parent, "fields", None)
    return None if fields is None else fields.get(name)


def too_costly(requested: int, limit: int) -> GraphQLError:
    """The refusal of an operation over the limit: a top-level error before anything runs."""
    return GraphQLError(
        f"the query costs {requested:,}, over the limit of {limit:,}: ask for smaller pages "
        "(`first`), fewer fields or fewer aliases",
        extensions={"code": QUERY_TOO_COSTLY, "cost": {"requested": requested, "limit": limit}},
    )


class QueryCostLimit(SchemaExtension):
    """Counts a validated operation's cost (after `graph.documents.DocumentCache`, which
    validates before its hook yields), refuses it past the limit, and reports the cost in the
    result's `extensions.cost`."""

    _cost: dict[str, int] | None = None

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = list(
                validate_document(context.schema._schema, document, context.validation_rules)
            )
        if document is not None and not context.pre_execution_errors:
            requested = query_cost(
                context.schema._schema, document, context.operation_name, context.variables
            )
            if requested is not None:
                limit = max_query_cost(context.context)
                self._cost = {"requested": requested, "limit": limit}
                if requested > limit:
                    context.pre_execution_errors = [too_costly(requested, limit)]
        yield

    def get_results(self) -> dict[str, Any]:
        return {} if self._cost is None else {"cost": self._cost}
