"""CORS on `/graphql` over real HTTP: a configured origin gets its preflight answered and
`Access-Control-*` headers on the actual request, any other origin gets none, and the
production default (no origins) refuses every origin. The settings that configure it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from economy.app import Economy
from graph.server import create_app
from settings.cors import DEVELOPMENT_ORIGINS, CorsSettings
from settings.service import ConfigError

from .conftest import settings_for

APP = "https://app.example.com"
OTHER = "https://evil.example.net"
StartApi = Callable[[CorsSettings], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def api_with_cors(
    start_economy: Callable[..., Awaitable[Economy]],
) -> AsyncIterator[StartApi]:
    clients: list[TestClient[Any, Any]] = []

    async def start(cors: CorsSettings) -> TestClient[Any, Any]:
        client = TestClient(TestServer(create_app(await start_economy(cors=cors))))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


async def test_an_allowed_origin_gets_its_preflight_and_request_answered(
    api_with_cors: StartApi,
) -> None:
    api = await api_with_cors(CorsSettings(origins=(APP,)))

    answer = await api.options("/graphql", headers=preflight(APP))
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    allowed = answer.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed
    assert "Access-Control-Allow-Credentials" not in answer.headers

    response = await api.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert (await response.json())["data"] == {"__typename": "Query"}


async def test_credentials_are_allowed_only_when_configured(api_with_cors: StartApi) -> None:
    api = await api_with_cors(CorsSettings(origins=(APP,), credentials=True))

    answer = await api.options("/graphql", headers=preflight(APP))
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    response = await api.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": APP})
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize("configured", [(APP,), ()], ids=["other-origin", "production-default"])
async def test_an_origin_not_configured_gets_no_cors_headers(
    api_with_cors: StartApi, configured: tuple[str, ...]
) -> None:
    api = await api_with_cors(CorsSettings(origins=configured))

    answer = await api.options("/graphql", headers=preflight(OTHER))
    assert answer.status == 403
    assert cors_headers(answer) == {}

    response = await api.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": OTHER}
    )
    assert response.status == 200  # the browser, not the server, withholds the answer
    assert cors_headers(response) == {}


def test_development_allows_the_local_dev_servers_and_production_none() -> None:
    development = settings_for("sqlite:///x.db")
    assert development.cors == CorsSettings(origins=DEVELOPMENT_ORIGINS)
    assert "http://localhost:5173" in development.cors.origins
    assert "http://127.0.0.1:3000" in development.cors.origins
    production = CorsSettings.from_env({"DIAMONDS_ENV": "production"}, [], development=False)
    assert production == CorsSettings(origins=(), credentials=False)


def test_origins_and_credentials_are_read_and_normalized() -> None:
    settings = settings_for(
        "sqlite:///x.db",
        DIAMONDS_CORS_ORIGINS=" HTTPS://App.Example.com , http://localhost:8080/ ",
        DIAMONDS_CORS_CREDENTIALS="true",
    )
    assert settings.cors == CorsSettings(
        origins=("https://app.example.com", "http://localhost:8080"), credentials=True
    )
    assert settings_for("sqlite:///x.db", DIAMONDS_CORS_ORIGINS="").cors.origins == ()


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/path",
        "https://user@app.example.com",
        "https://*.example.com",
        "https://app:port",
        "https://",
    ],
)
def test_a_bad_origin_is_a_config_error_naming_the_variable(origin: str) -> None:
    with pytest.raises(ConfigError, match="DIAMONDS_CORS_ORIGINS item"):
        settings_for("sqlite:///x.db", DIAMONDS_CORS_ORIGINS=f"https://ok.example.com,{origin}")


def test_a_bad_credentials_flag_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DIAMONDS_CORS_CREDENTIALS"):
        settings_for("sqlite:///x.db", DIAMONDS_CORS_CREDENTIALS="maybe")
