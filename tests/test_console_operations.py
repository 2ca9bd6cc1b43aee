"""Every operation the consoles send (with the shared fragments it spreads) is valid against the
committed `schema.graphql`, every shared fragment is used, and the enum values the consoles list
by hand are the schema's."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLEnumType, GraphQLSchema, build_schema, parse, validate

from consoles.filters import PAYOUT_STATUSES
from consoles.operations import fragment_names, operation, operation_names, spread_fragments
from consoles.studio import REQUIREMENT_CODES

SDL = Path(__file__).resolve().parent.parent / "schema.graphql"


@pytest.fixture(scope="module")
def sdl_schema() -> GraphQLSchema:
    return build_schema(SDL.read_text(encoding="utf-8"))


def test_there_are_operations() -> None:
    assert {"PayoutList", "PayoutDetail", "ApprovePayout", "RequestPayout"} <= set(
        operation_names()
    )


@pytest.mark.parametrize("name", operation_names())
def test_an_operation_is_valid_against_the_schema(sdl_schema: GraphQLSchema, name: str) -> None:
    document = parse(operation(name))
    assert validate(sdl_schema, document) == []
    names = [d.name.value for d in document.definitions if hasattr(d, "operation") and d.name]
    assert names == [name], "one operation per file, named as the file"


def _enum(sdl_schema: GraphQLSchema, name: str) -> set[str]:
    found = sdl_schema.get_type(name)
    assert isinstance(found, GraphQLEnumType)
    return set(found.values)


def test_the_status_filter_lists_the_schemas_payout_statuses(sdl_schema: GraphQLSchema) -> None:
    assert set(PAYOUT_STATUSES) == _enum(sdl_schema, "PayoutStatus")


def test_the_eligibility_refusals_are_the_schemas_requirement_codes(
    sdl_schema: GraphQLSchema,
) -> None:
    assert _enum(sdl_schema, "RequirementCode") == REQUIREMENT_CODES
    assert _enum(sdl_schema, "RequirementCode") <= _enum(sdl_schema, "RequestPayoutErrorCode")


def test_every_shared_fragment_is_spread_by_an_operation() -> None:
    spread = {f for name in operation_names() for f in spread_fragments(operation(name))}
    assert spread == set(fragment_names())
    assert "...ComplianceState" in operation("PayoutDetail")
    assert "fragment ComplianceState" in operation("SanctionsHits")
