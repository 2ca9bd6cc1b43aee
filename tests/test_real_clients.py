"""The real clients a frontend uses, unchanged, against the real server on loopback: Python's gql
over HTTP and websockets, graphql-ws's createClient, and Apollo Client's persisted-queries link."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosedError

from graph.global_ids import to_global_id
from tests.live_fixtures import gift_sender

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ROOT / "clients" / "operations"
JS = ROOT / "clients" / "js"
TIMEOUT = 10.0
VIEWER = "viewer:ann"


def operation(name: str, **variables: Any) -> GraphQLRequest:
    """The example operation `clients/operations/<name>.graphql`, as gql sends it."""
    text = (OPERATIONS / f"{name}.graphql").read_text(encoding="utf-8")
    return GraphQLRequest(text, variable_values=variables or None, operation_name=name)


@dataclass(frozen=True)
class Scene:
    """A live stream with a Rose on offer, and a viewer holding 100 coins and a token."""

    stream_id: str
    rose_id: str
    token: str
    url: str


@pytest.fixture
async def scene(
    api: TestClient[Any, Any],
    live_stream: Any,
    gift: Any,
    funded_viewer: Any,
    token_for: Callable[..., str],
) -> Scene:
    stream = (await live_stream()).stream
    rose = await gift("Rose", 1)
    await funded_viewer(100, VIEWER)
    return Scene(
        stream_id=to_global_id("LiveStream", stream.id),
        rose_id=to_global_id("Gift", rose.id),
        token=token_for(VIEWER, "VIEWER"),
        url=str(api.make_url("/graphql")),
    )


@pytest.fixture
def send(graphql: Any, scene: Scene) -> Callable[[int], Awaitable[dict[str, Any]]]:
    """`await send(3)`: the viewer sends 3 Roses into the stream, over HTTP."""
    sender = gift_sender(graphql)

    async def send_roses(quantity: int) -> dict[str, Any]:
        return await sender(VIEWER, scene.stream_id, scene.rose_id, quantity)

    return send_roses


# --------------------------------------------------------------------------------------------
# Python: gql
# --------------------------------------------------------------------------------------------


async def test_gql_over_http_runs_a_query_and_a_signed_in_mutation(scene: Scene) -> None:
    transport = AIOHTTPTransport(url=scene.url, headers={"Authorization": f"Bearer {scene.token}"})
    gift_input = {
        "streamId": scene.stream_id,
        "giftId": scene.rose_id,
        "quantity": 5,
        "idempotencyKey": "gql-roses-1",
    }
    async with Client(transport=transport) as session:
        catalog = await session.execute(operation("GiftCatalog"))
        sent = await session.execute(operation("SendGift", input=gift_input))
        replayed = await session.execute(operation("SendGift", input=gift_input))
        short = await session.execute(
            operation("SendGift", input={**gift_input, "quantity": 96, "idempotencyKey": "gql-2"})
        )

    assert catalog == {
        "giftCatalog": [{"id": scene.rose_id, "name": "Rose", "coins": 1, "active": True}]
    }
    assert sent["sendGift"]["replayed"] is False
    assert sent["sendGift"]["errors"] == []
    assert sent["sendGift"]["giftSend"]["coins"] == 5
    assert sent["sendGift"]["coinWallet"]["balance"] == 95
    assert replayed["sendGift"]["replayed"] is True
    assert replayed["sendGift"]["coinWallet"]["balance"] == 95
    assert [e["code"] for e in short["sendGift"]["errors"]] == ["INSUFFICIENT_COINS"]


async def test_gql_over_http_reads_a_refusal_as_a_query_error(scene: Scene) -> None:
    """Anonymous, a signed-in read fails as gql expects a GraphQL error to: TransportQueryError
    with the server's code, not a transport failure."""
    async with Client(transport=AIOHTTPTransport(url=scene.url)) as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(operation("Wallet"))
    assert refused.value.errors is not None
    assert [e["extensions"]["code"] for e in refused.value.errors] == ["UNAUTHENTICATED"]


async def test_gql_over_websockets_sees_a_gift_in_wallet_changed(
    scene: Scene, send: Callable[[int], Awaitable[dict[str, Any]]]
) -> None:
    transport = WebsocketsTransport(
        url=scene.url.replace("http://", "ws://", 1),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {scene.token}"},
    )
    async with asyncio.timeout(TIMEOUT), Client(transport=transport) as session:
        assert transport.subprotocol == "graphql-transport-ws"
        updates = session.subscribe(operation("WalletChanged"))
        try:
            snapshot = [(await anext(updates))["walletChanged"] for _ in range(2)]
            assert (await send(3))["errors"] == []
            moved = (await anext(updates))["walletChanged"]
        finally:
            await updates.aclose()

    assert sorted(
        (w["reason"], w["wallet"]["asset"], w["wallet"]["balance"]) for w in snapshot
    ) == [
        ("CURRENT", "COIN", 100),
        ("CURRENT", "DIAMOND", 0),
    ]
    assert (moved["reason"], moved["change"], moved["wallet"]["asset"]) == ("GIFT", -3, "COIN")
    assert moved["wallet"]["balance"] == 97


async def test_gql_over_websockets_with_a_bad_token_is_refused_at_connection_init(
    scene: Scene,
) -> None:
    transport = WebsocketsTransport(
        url=scene.url.replace("http://", "ws://", 1),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": "Bearer not-a-token"},
    )
    with pytest.raises(TransportConnectionFailed) as refused:
        async with asyncio.timeout(TIMEOUT), Client(transport=transport) as session:
            await session.execute(operation("GiftCatalog"))
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosedError), repr(closed)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4403


# --------------------------------------------------------------------------------------------
# JavaScript: graphql-ws and Apollo Client, from clients/js/ (node, pinned by its lock file)
# --------------------------------------------------------------------------------------------


def _node() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are required under CI=true for the real JavaScript clients")
        pytest.skip("node or npm is not installed")
    return node, npm


@pytest.fixture(scope="module")
def node() -> str:
    """node, with clients/js's packages installed from its lock file."""
    node, npm = _node()
    if not all((JS / "node_modules" / name).is_dir() for name in ("graphql-ws", "@apollo/client")):
        done = subprocess.run(  # noqa: S603 - npm from PATH, once per module
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return node


@pytest.fixture
async def script(node: str) -> AsyncIterator[Callable[..., Awaitable[Script]]]:
    """`await script("subscribe.mjs", *args)`: a node script of clients/js, running; killed at
    the end if it is still running."""
    started: list[Script] = []

    async def start(name: str, *args: str) -> Script:
        process = await asyncio.create_subprocess_exec(
            node,
            name,
            *args,
            cwd=JS,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(Script(process))
        return started[-1]

    yield start
    for running in started:
        if running.process.returncode is None:
            running.process.kill()
            await running.process.wait()


class Script:
    """A node script printing one JSON object a line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), TIMEOUT)
        if not raw:
            raise AssertionError(f"the script ended: {await self.stderr()}")
        event: dict[str, Any] = json.loads(raw)
        assert event["event"] != "error", event
        return event

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        return (await asyncio.wait_for(self.process.stderr.read(), TIMEOUT)).decode()

    async def finish(self) -> tuple[int, list[dict[str, Any]], str]:
        """Close its input; its exit status, the lines it printed until then and its stderr."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        out, err = await asyncio.wait_for(self.process.communicate(), TIMEOUT)
        lines = [json.loads(raw) for raw in out.decode().splitlines()]
        return await self.process.wait(), lines, err.decode()


async def test_graphql_ws_create_client_subscribes_with_the_token_in_connection_params(
    scene: Scene,
    send: Callable[[int], Awaitable[dict[str, Any]]],
    script: Callable[..., Awaitable[Script]],
) -> None:
    running = await script("subscribe.mjs", scene.url, scene.token, scene.stream_id)
    assert (await running.line()) == {"event": "connected"}
    first = [await running.line() for _ in range(3)]
    assert (await send(4))["errors"] == []
    later: list[dict[str, Any]] = []
    while len(later) < 2:
        later.append(await running.line())
    status, rest, stderr = await running.finish()
    assert status == 0, stderr

    def by(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
        assert all(e["event"] == "next" and "errors" not in e["payload"] for e in events), events
        return [e["payload"]["data"] for e in events if e["operation"] == name]

    wallets = by(first, "WalletChanged")
    assert sorted(
        (w["walletChanged"]["reason"], w["walletChanged"]["wallet"]["asset"]) for w in wallets
    ) == [
        ("CURRENT", "COIN"),
        ("CURRENT", "DIAMOND"),
    ]
    assert by(first, "GiftReceived") == [
        {"giftReceived": {"streamId": scene.stream_id, "streamTotal": 0, "gifts": []}}
    ]
    [moved] = by(later, "WalletChanged")
    assert moved["walletChanged"]["reason"] == "GIFT"
    assert moved["walletChanged"]["change"] == -4
    assert moved["walletChanged"]["wallet"]["balance"] == 96
    [received] = by(later, "GiftReceived")
    assert received["giftReceived"]["streamTotal"] == 4
    assert [(g["quantity"], g["gift"]["name"]) for g in received["giftReceived"]["gifts"]] == [
        (4, "Rose")
    ]
    assert [e for e in rest if e["event"] == "next"] == []


@pytest.mark.parametrize("method", ["post", "get"])
async def test_apollo_persisted_queries_link_registers_a_hash_then_sends_only_the_hash(
    scene: Scene, script: Callable[..., Awaitable[Script]], method: str
) -> None:
    """The first call sends the hash alone, is told PersistedQueryNotFound, and sends the text
    with its hash (by POST); the second call sends the hash alone and the server answers it."""
    running = await script("persisted.mjs", scene.url, method)
    status, lines, stderr = await running.finish()
    assert status == 0, stderr

    hashed = "GET" if method == "get" else "POST"
    exchanges = [
        (e["method"], e["sentQuery"], e["status"], e["data"], e["errorCodes"])
        for e in lines
        if e["event"] == "http"
    ]
    assert exchanges == [
        (hashed, False, 200, False, ["PERSISTED_QUERY_NOT_FOUND"]),
        ("POST", True, 200, True, []),
        (hashed, False, 200, True, []),
    ]
    hashes = {e["persistedQuery"]["sha256Hash"] for e in lines if e["event"] == "http"}
    assert len(hashes) == 1
    rose = {"__typename": "Gift", "id": scene.rose_id, "name": "Rose", "coins": 1, "active": True}
    results = [(e["data"], e["error"]) for e in lines if e["event"] == "result"]
    assert results == [({"giftCatalog": [rose]}, None)] * 2


async def test_apollo_reads_a_bad_tokens_401_as_graphql_errors_with_the_code(
    scene: Scene, script: Callable[..., Awaitable[Script]]
) -> None:
    """The 401 comes in the media type Apollo asked for, so Apollo hands the app the server's
    GraphQL errors (the code to act on), not a bare 'Received status code 401'."""
    running = await script("bad-token.mjs", scene.url)
    status, lines, stderr = await running.finish()
    assert status == 0, stderr
    assert lines == [
        {
            "event": "result",
            "data": None,
            "graphQLErrors": True,
            "codes": ["UNAUTHENTICATED"],
            "message": "the token is malformed",
        }
    ]
