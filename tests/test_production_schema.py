"""In production (`DIAMONDS_ENV=production`) the API shows callers no more of the schema than
their operations use: introspection (`__schema`, `__type`) is refused to anonymous callers (by
default; `DIAMONDS_INTROSPECTION` says who may) and error messages carry no "Did you mean ..."
suggestions; in development both stay. `diamonds schema` and the consoles,
which run the schema in-process, work the same in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from consoles.execute import run_operation
from consoles.operations import operation, operation_names
from diamonds.cli import main as diamonds
from economy.app import Economy
from graph.auth import Principal, Role, mint_token
from graph.context import Context
from graph.schema import schema
from graph.server import create_app

from .conftest import settings_for

INTROSPECTION = [
    "{ __schema { queryType { name } } }",
    '{ __type(name: "Query") { name } }',
    "query { ...F } fragment F on Query { __schema { types { name } } }",
    '{ giftCatalog { id } t: __type(name: "Gift") { name } }',
]
SUGGESTED = [
    "{ giftCatalg { id } }",  # a field
    "{ giftCatalog { nmae } }",
    "{ liveStreams(frist: 1) { totalCount } }",  # an argument
    "query($c: Strin) { giftCatalog { id } }",  # a type
]
SDL = Path(__file__).resolve().parent.parent / "schema.graphql"


@pytest.fixture(params=["production", "development"])
async def mode(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[tuple[str, Economy, TestClient[Any, Any]]]:
    eco = await Economy.start(settings_for(database_url, DIAMONDS_ENV=request.param))
    try:
        async with TestClient(TestServer(create_app(eco))) as client:
            yield request.param, eco, client
    finally:
        await eco.close()


async def post(client: TestClient[Any, Any], query: str) -> Any:
    response = await client.post("/graphql", json={"query": query})
    assert response.status == 200
    return await response.json()


async def test_introspection_is_refused_in_production_only(
    mode: tuple[str, Economy, TestClient[Any, Any]],
) -> None:
    name, _eco, client = mode
    for query in INTROSPECTION:
        for _ in range(2):  # the second time from the document cache
            body = await post(client, query)
            if name == "production":
                assert body.get("data") is None, query
                messages = [e["message"] for e in body["errors"]]
                assert messages, query
                assert all(
                    m.startswith("GraphQL introspection has been disabled") for m in messages
                ), messages
            else:
                assert "errors" not in body, body
    # __typename is not introspection of the schema: it stays.
    assert (await post(client, "{ __typename }"))["data"] == {"__typename": "Query"}


async def test_suggestions_are_left_out_of_messages_in_production_only(
    mode: tuple[str, Economy, TestClient[Any, Any]],
) -> None:
    name, _eco, client = mode
    for query in SUGGESTED:
        body = await post(client, query)
        messages = [e["message"] for e in body["errors"]]
        assert messages, query
        if name == "production":
            assert not any("Did you mean" in m for m in messages), messages
            assert all(m.endswith(".") for m in messages), messages
        else:
            assert any("Did you mean" in m for m in messages), messages
    # Variables that do not coerce say what is wrong, without suggestions in production.
    response = await client.post(
        "/graphql",
        json={
            "query": "query($s: PayoutStatus) { payouts(status: $s) { totalCount } }",
            "variables": {"s": "PAIDD"},
        },
        headers={"Authorization": f"Bearer {token(_eco, 'finance:fay', 'FINANCE')}"},
    )
    messages = [e["message"] for e in (await response.json())["errors"]]
    assert any("PAIDD" in m for m in messages), messages
    assert any("Did you mean" in m for m in messages) is (name == "development"), messages


def token(eco: Economy, subject: str, *roles: str) -> str:
    return mint_token(eco.settings, subject, roles)


async def test_the_consoles_operations_run_in_production(database_url: str) -> None:
    eco = await Economy.start(settings_for(database_url, DIAMONDS_ENV="production"))
    try:
        finance = Context(eco=eco, principal=Principal("finance:fay", frozenset({Role.FINANCE})))
        data = await run_operation(finance, "PayoutList", {"first": 5})
        assert data["payouts"]["totalCount"] == 0
        # Every console operation passes production's validation (none introspects).
        for name in operation_names():
            result = await schema.execute(
                operation(name),
                context_value=Context(eco=eco, principal=finance.principal),
                operation_name=name,
                variable_values={},
            )
            messages = [e.message for e in result.errors or []]
            assert not any("introspection" in m for m in messages), (name, messages)
    finally:
        await eco.close()


def test_diamonds_schema_prints_the_sdl_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIAMONDS_ENV", "production")
    monkeypatch.setenv("DIAMONDS_JWT_SECRET", "x" * 40)
    assert diamonds(["schema"]) == 0
    assert capsys.readouterr().out == SDL.read_text()


async def test_a_document_validated_in_development_is_validated_again_in_production(
    database_url: str,
) -> None:
    """One process, both modes (the document cache is the process's): what development
    validated and kept is not taken as valid by production."""
    query = INTROSPECTION[0]
    answers = []
    for env in ("development", "production"):
        eco = await Economy.start(settings_for(database_url, DIAMONDS_ENV=env))
        try:
            async with TestClient(TestServer(create_app(eco))) as client:
                answers.append(await post(client, query))
        finally:
            await eco.close()
    assert answers[0]["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    assert "errors" not in answers[0]
    assert answers[1].get("data") is None
    assert "introspection has been disabled" in answers[1]["errors"][0]["message"]


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [
        (None, {"VIEWER", "FINANCE"}),  # production's default: signed-in callers
        ("everyone", {None, "VIEWER", "FINANCE"}),
        ("signed-in", {"VIEWER", "FINANCE"}),
        ("staff", {"FINANCE"}),
        ("nobody", set()),
    ],
)
async def test_diamonds_introspection_says_who_may_introspect_in_production(
    database_url: str, setting: str | None, allowed: set[str | None]
) -> None:
    env = {"DIAMONDS_ENV": "production"}
    if setting is not None:
        env["DIAMONDS_INTROSPECTION"] = setting
    eco = await Economy.start(settings_for(database_url, **env))
    try:
        async with TestClient(TestServer(create_app(eco))) as client:
            answered: set[str | None] = set()
            for role in (None, "VIEWER", "FINANCE"):
                headers = (
                    {}
                    if role is None
                    else {"Authorization": f"Bearer {token(eco, f'{role.lower()}:x', role)}"}
                )
                response = await client.post(
                    "/graphql", json={"query": INTROSPECTION[0]}, headers=headers
                )
                if (await response.json()).get("data"):
                    answered.add(role)
            assert answered == allowed
    finally:
        await eco.close()
