"""Hostile GraphQL requests generated from the schema: every query and mutation field, with one
argument leaf (inputs' fields included) replaced by a hostile value of its scalar's kind.

`hostile_cases(schema)` gives them in a fixed order; `HostileCase.body()` is the raw JSON body,
with the value as a variable or written as a literal in the query text; `what_went_wrong` is
the rule every answer to one is held to (tests/test_graphql_fuzzing.py holds its answers to it too).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    is_composite_type,
    is_required_input_field,
)

from graph.global_ids import encode_cursor, to_global_id


@dataclass(frozen=True)
class EnumName:
    """An enum value: a bare name in the query text, a string in variables."""

    name: str


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


LONG = "x" * 100_000
STRINGS: dict[str, Any] = {
    "empty": "",
    "100k chars": LONG,
    "NUL": "\x00",
    "NUL inside": "a\x00b",
    "lone surrogate": "\ud800",
    "unicode digits": "\u0661\u0662\u0663\u00b2",
    "control and RTL": "\x1b[31m\u202e",
    "number for string": 12,
}
IDS: dict[str, Any] = {
    "empty": "",
    "100k chars": LONG,
    "NUL": "\x00",
    "lone surrogate": "\ud800",
    "superscript digit": b64("User:²"),
    "Arabic-Indic digit": b64("User:\u0661"),
    "extra padding": "VXNlcjox====",
    "leading zero": b64("User:01"),
    "no colon": b64("User1"),
    "not base64": "%%%not-base64%%%",
    "huge pk": b64("User:" + "9" * 40),
    "negative pk": b64("User:-1"),
    "a cursor": encode_cursor(1),
    "id of a User": to_global_id("User", 1),
    "id of a LiveStream": to_global_id("LiveStream", 1),
    "id of a Gift": to_global_id("Gift", 1),
    "id of a Payout": to_global_id("Payout", 1),
    "id of an unknown type": to_global_id("Nothing", 1),
    "int for id": 1,
}
INTS: dict[str, Any] = {
    "zero": 0,
    "negative": -1,
    "most negative 32-bit": -(2**31),
    "2**31": 2**31,
    "2**63": 2**63,
    "2**64": 2**64,
    "-2**64": -(2**64),
    "float": 1.5,
    "whole float": 1.0,
    "digits string": "1",
    "unicode digits string": "²",
    "boolean": True,
}
DATETIMES: dict[str, Any] = {
    "year 1 east of UTC": "0001-01-01T00:00:00+14:00",
    "year 9999 west of UTC": "9999-12-31T23:59:59-14:00",
    "empty": "",
    "unicode digits": "\u0662\u0660\u0662\u0664-01-01T00:00:00",
    "not a moment": "yesterday",
    "number": 10**20,
}
DATES: dict[str, Any] = {
    "year 0": "0000-01-01",
    "year 9999": "9999-12-31",
    "30 February": "2024-02-30",
    "unicode digits": "\u0662\u0660\u0662\u0664-01-01",
    "compact": "20240101",
    "empty": "",
    "number": 20240101,
}
BOOLEANS: dict[str, Any] = {"string": "true", "number": 2}
ENUMS: dict[str, Any] = {"unknown name": EnumName("NOT_A_VALUE"), "string": "", "number": 1}
JSONS: dict[str, Any] = {"deep": [[[[[[[[["\ud800"]]]]]]]]], "huge": 2**70}

HOSTILE_BY_SCALAR = {
    "String": STRINGS,
    "ID": IDS,
    "Int": INTS,
    "BigInt": INTS,
    "Float": INTS,
    "DateTime": DATETIMES,
    "Date": DATES,
    "Boolean": BOOLEANS,
    "JSON": JSONS,
}

BENIGN_BY_SCALAR: dict[str, Any] = {
    "String": "hostile-probe",
    "ID": to_global_id("User", 1),
    "Int": 1,
    "BigInt": 100,
    "Float": 1.0,
    "DateTime": "2024-01-01T00:00:00+00:00",
    "Date": "2024-01-01",
    "Boolean": False,
    "JSON": {},
}

Path = tuple[str | int, ...]


def benign(kind: GraphQLInputType) -> Any:
    """A plausible value of the type: required inputs' fields only, lists of one."""
    if isinstance(kind, GraphQLNonNull):
        return benign(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [benign(kind.of_type)]
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: benign(field.type)
            for name, field in kind.fields.items()
            if is_required_input_field(field)
        }
    if isinstance(kind, GraphQLEnumType):
        return EnumName(next(iter(kind.values)))
    assert isinstance(kind, GraphQLScalarType)
    return BENIGN_BY_SCALAR[kind.name]


def leaves(kind: GraphQLInputType, path: Path = ()) -> Iterator[tuple[Path, GraphQLInputType]]:
    """Every place in a value of the type where a hostile value can go: scalars and enums,
    through input objects' fields (optional ones included) and lists' first items."""
    if isinstance(kind, GraphQLNonNull):
        yield from leaves(kind.of_type, path)
    elif isinstance(kind, GraphQLList):
        yield from leaves(kind.of_type, (*path, 0))
    elif isinstance(kind, GraphQLInputObjectType):
        for name, field in kind.fields.items():
            yield from leaves(field.type, (*path, name))
    else:
        yield path, kind


def hostile_values(kind: GraphQLInputType) -> dict[str, Any]:
    if isinstance(kind, GraphQLEnumType):
        return ENUMS
    return HOSTILE_BY_SCALAR[get_named_type(kind).name]


def placed(value: Any, path: Path, leaf: Any) -> Any:
    """`value` with `leaf` at `path` (input objects' missing fields and empty lists filled)."""
    if not path:
        return leaf
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        items = list(value) if isinstance(value, list) and value else [None]
        items[0] = placed(items[0], rest, leaf)
        return items
    fields = dict(value) if isinstance(value, dict) else {}
    fields[step] = placed(fields.get(step), rest, leaf)
    return fields


def literal(value: Any) -> str:
    """`value` written in GraphQL's query syntax."""
    if isinstance(value, EnumName):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return "{" + ", ".join(f"{name}: {literal(item)}" for name, item in value.items()) + "}"


def as_json(value: Any) -> Any:
    if isinstance(value, EnumName):
        return value.name
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {name: as_json(item) for name, item in value.items()}
    return value


@dataclass(frozen=True)
class HostileCase:
    """One field called with its arguments' benign values but one leaf hostile."""

    operation: str
    field: str
    field_def: GraphQLField
    arguments: dict[str, Any]
    where: str
    what: str

    @property
    def label(self) -> str:
        return f"{self.operation}.{self.field}({self.where}: {self.what})"

    def body(self, *, as_literals: bool) -> bytes:
        """The request's raw JSON body, ASCII only (a lone surrogate travels as "\\ud800")."""
        selection = (
            " { __typename }" if is_composite_type(get_named_type(self.field_def.type)) else ""
        )
        arguments = self.field_def.args
        if as_literals:
            written = ", ".join(f"{name}: {literal(v)}" for name, v in self.arguments.items())
            declared, variables = "", {}
        else:
            written = ", ".join(f"{name}: ${name}" for name in self.arguments)
            declared = "(" + ", ".join(f"${n}: {arguments[n].type}" for n in self.arguments) + ")"
            variables = {name: as_json(v) for name, v in self.arguments.items()}
        call = f"{self.field}({written})" if written else self.field
        query = (
            f"{self.operation} Probe{declared if self.arguments else ''} {{ {call}{selection} }}"
        )
        return json.dumps({"query": query, "variables": variables}, ensure_ascii=True).encode()


def _benign_arguments(args: dict[str, GraphQLArgument]) -> dict[str, Any]:
    return {
        name: benign(arg.type) for name, arg in args.items() if isinstance(arg.type, GraphQLNonNull)
    }


def hostile_cases(schema: GraphQLSchema) -> Iterator[HostileCase]:
    """For every query and mutation field: the benign call, then each argument leaf with each
    hostile value of its kind."""
    roots = [("query", schema.query_type), ("mutation", schema.mutation_type)]
    for operation, root in roots:
        assert root is not None
        for field, field_def in root.fields.items():
            base = _benign_arguments(field_def.args)
            yield HostileCase(operation, field, field_def, base, "", "benign arguments")
            for name, arg in field_def.args.items():
                for path, kind in leaves(arg.type):
                    where = ".".join(str(step) for step in (name, *path))
                    for what, value in hostile_values(kind).items():
                        arguments = {**base, name: placed(base.get(name), path, value)}
                        yield HostileCase(operation, field, field_def, arguments, where, what)


def what_went_wrong(status: int, text: str) -> str | None:
    """Why an answer breaks the rule, or None for a clean refusal or result."""
    if status >= 500:
        return f"HTTP {status}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"HTTP {status}, not JSON: {text[:200]!r}"
    if not isinstance(body, dict):
        return f"HTTP {status}, JSON but not an object: {text[:200]!r}"
    unexpected = [e for e in body.get("errors") or [] if e.get("message") == "Unexpected error."]
    return f"Unexpected error. at {unexpected[0].get('path')}" if unexpected else None
