"""What the people running the service see of a representative run, over real HTTP on loopback:
a gift, a tax form with a TIN, a PayPal method and payout paid by the fake's signed webhook.

The JSON log lines carry the request id, operation and subject, the pipeline's the payout id,
and none carries a token, a TIN or an email; `/metrics` counts the gift, the payout and the
requests, and is guarded in production; the request id is echoed (or made up when not sane);
open subscriptions and refused webhook signatures are counted; tracing and two workers, too.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port
from diamonds_fakes.paypal_server import FakePayPal, FakePayPalSettings
from prometheus_client.parser import text_string_to_metric_families

from compliance.methods import service as methods_service
from compliance.service import Compliance
from economy.app import Economy
from economy.users import User
from graph.global_ids import pk_of, to_global_id
from graph.observability import AccessLog
from graph.server import create_app
from kernel.logs import JsonFormatter
from payouts.dispatch import Dispatcher
from payouts.eligibility import ComplianceGate
from payouts.gauges import unknown_window_seconds
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import load_payout
from providers.paypal import PayPalProvider
from providers.registry import ProviderRegistry
from settings.observability import ObservabilitySettings
from settings.payouts import PayoutPolicy
from settings.service import ConfigError, Settings

from .compliance_fixtures import REVIEWER, VALID_SSN, compliance_of, make_payout_ready
from .conftest import TEST_JWT_SECRET
from .live_fixtures import GIFT_RECEIVED, connect
from .payout_fixtures import FAST_RETRIES
from .queries import SEND_GIFT
from .test_compliance_api import ADD_METHOD, SUBMIT_TAX_FORM
from .test_live_fanout import _wait_for_listeners as wait_for_listeners
from .test_provider_paypal import config_for

ROOT = Path(__file__).resolve().parent.parent
PAYEE_EMAIL = "obs.creator+payouts@example.com"
REQUEST_PAYOUT = """
mutation AskForCash($input: RequestPayoutInput!) {
  requestPayout(input: $input) { payout { id status } errors { field message code } }
}"""


@dataclass(frozen=True)
class Served:
    url: str
    svc: PayoutService
    paypal: FakePayPal


@pytest.fixture
async def served(economy: Economy) -> AsyncIterator[Served]:
    """The app with the real compliance gate and PayPal at its fake, on 127.0.0.1, its access
    lines through the service's access logger; the test runs the payout worker's rounds."""
    registry = ProviderRegistry({}, discover=False)
    svc = PayoutService(
        eco=economy,
        gate=ComplianceGate(economy.settings),
        providers=registry,
        policy=PayoutPolicy(
            minimum_minor=100,
            daily_cap_minor=10**9,
            approval_threshold_minor=10**9,
            retry_base_seconds=0,
            lookup_after_seconds=3_600,
            max_dispatch_attempts=3,
        ),
        asking=FAST_RETRIES,
    )
    app = create_app(economy, svc, compliance=Compliance(economy.db, economy.settings))
    runner = web.AppRunner(app, access_log_class=AccessLog)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    paypal = FakePayPal(FakePayPalSettings(webhook_url=f"{url}/webhooks/paypal"))
    try:
        async with paypal:
            registry.register(PayPalProvider(config_for(paypal)))
            yield Served(url, svc, paypal)
            await registry.close()
    finally:
        await runner.cleanup()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every line logged at INFO and above (the service's level), formatted as in production."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def post(
    session: aiohttp.ClientSession,
    url: str,
    query: str,
    variables: dict[str, Any],
    token: str,
    request_id: str,
) -> tuple[dict[str, Any], aiohttp.ClientResponse]:
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
    payload = {"query": query, "variables": variables}
    async with session.post(f"{url}/graphql", json=payload, headers=headers) as response:
        body: dict[str, Any] = await response.json()
    return body, response


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """`/metrics` as {(sample name, sorted labels): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def read_metrics(session: aiohttp.ClientSession, url: str) -> dict[Any, float]:
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/plain"
        return samples(await response.text())


async def until_paid(eco: Economy, payout_id: int) -> None:
    for _ in range(100):
        async with eco.db.read() as conn:
            payout = await load_payout(conn, payout_id)
        assert payout is not None
        if payout.status is PayoutStatus.PAID:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"payout {payout_id} is {payout.status}, not PAID")


async def test_a_run_logs_request_ids_and_payout_ids_and_no_secret_and_metrics_count_it(
    served: Served,
    economy: Economy,
    json_logs: io.StringIO,
    live_stream: Callable[..., Awaitable[Any]],
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Callable[..., Awaitable[User]],
    rich_creator: Callable[..., Awaitable[User]],
    token_for: Callable[..., str],
) -> None:
    url = served.url
    viewer_token = token_for("viewer:obs", "VIEWER")
    creator_token = token_for("creator:obs", "CREATOR")
    await funded_viewer(50, "viewer:obs")
    stream = (await live_stream()).stream
    rose = await gift("Rose", 1)
    creator = await rich_creator(120_000, "creator:obs")
    await make_payout_ready(economy, creator, with_method=False)

    async with aiohttp.ClientSession() as session:
        before = await read_metrics(session, url)
        sent, response = await post(
            session,
            url,
            SEND_GIFT,
            {
                "stream": to_global_id("LiveStream", stream.id),
                "gift": to_global_id("Gift", rose.id),
                "quantity": 3,
                "key": "obs-1",
            },
            viewer_token,
            "obs-gift-0001",
        )
        assert sent["data"]["sendGift"]["errors"] == [], sent
        assert response.headers["X-Request-Id"] == "obs-gift-0001"

        tax_form = {
            "form": "W9",
            "legalName": "Jane Quincy Doe",
            "tinType": "SSN",
            "tin": VALID_SSN,
            "certify": True,
        }
        taxed, _ = await post(
            session, url, SUBMIT_TAX_FORM, {"input": tax_form}, creator_token, "obs-tax-0001"
        )
        assert taxed["data"]["submitTaxForm"]["errors"] == [], taxed
        method = {"provider": "paypal", "fields": [{"name": "email", "value": PAYEE_EMAIL}]}
        added, _ = await post(
            session, url, ADD_METHOD, {"input": method}, creator_token, "obs-method-0001"
        )
        assert added["data"]["addPayoutMethod"]["errors"] == [], added
        method_id = pk_of(added["data"]["addPayoutMethod"]["payoutMethod"]["id"], "PayoutMethod")
        reviewer = await economy.users.ensure(REVIEWER)
        await methods_service.review_payout_method(
            compliance_of(economy), reviewer, method_id=method_id, verify=True, note="ok"
        )

        asked, _ = await post(
            session,
            url,
            REQUEST_PAYOUT,
            {
                "input": {
                    "diamonds": 120_000,
                    "provider": "paypal",
                    "currency": "USD",
                    "idempotencyKey": "obs-cash",
                }
            },
            creator_token,
            "obs-payout-0001",
        )
        assert asked["data"]["requestPayout"]["errors"] == [], asked
        payout_id = pk_of(asked["data"]["requestPayout"]["payout"]["id"], "Payout")

        await Dispatcher(served.svc).run_once()
        [item] = served.paypal.items.values()
        assert item.item["receiver"] == PAYEE_EMAIL  # it went out, to the payee's address
        served.paypal.set_item_status(item.payout_item_id, "SUCCESS")  # its webhook comes
        await until_paid(economy, payout_id)
        after = await read_metrics(session, url)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("diamonds_gifts_booked_total") == 1  # the HTTP gift (the others came before)
    assert grew("diamonds_gift_batch_size_count") == 1
    assert grew("diamonds_requests_total", operation="Send", outcome="ok") == 1
    assert grew("diamonds_request_seconds_count", operation="Send") == 1
    assert grew("diamonds_requests_total", operation="AskForCash", outcome="ok") == 1
    assert grew("diamonds_requests_total", operation="/webhooks/{provider}", outcome="ok") >= 1
    assert grew("diamonds_provider_call_seconds_count", provider="paypal", call="submit") == 1
    assert after[("diamonds_payouts", (("provider", "paypal"), ("status", "PAID")))] == 1
    assert after[("diamonds_payouts_unknown_waiting", ())] == 0
    assert after[("diamonds_payouts_unknown_window_seconds", ())] == unknown_window_seconds(
        served.svc.policy
    )

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert lines, "nothing was logged"
    by_request = {line.get("request_id") for line in lines}
    assert {"obs-gift-0001", "obs-tax-0001", "obs-payout-0001"} <= by_request
    access = [line for line in lines if line["logger"] == "aiohttp.access"]
    assert all(line.get("request_id") for line in access), access
    [gift_access] = [line for line in access if line["request_id"] == "obs-gift-0001"]
    assert '"POST /graphql" 200' in gift_access["message"]
    assert (gift_access["operation"], gift_access["subject"]) == ("Send", "viewer:obs")
    payout_lines = [line for line in lines if line.get("payout_id") == payout_id]
    assert payout_lines, "no pipeline line names the payout"
    for line in lines:
        if line.get("request_id") in ("obs-payout-0001", "obs-tax-0001"):
            assert line.get("subject") in (None, "creator:obs")

    logged = json_logs.getvalue()
    secrets_ = {
        "viewer token": viewer_token,
        "creator token": creator_token,
        "TIN": VALID_SSN,
        "TIN digits": VALID_SSN.replace("-", ""),
        "payee email": PAYEE_EMAIL,
        "PayPal client secret": served.paypal.settings.client_secret,
        **{f"PayPal access token {n}": t for n, t in enumerate(served.paypal._tokens)},
    }
    assert served.paypal._tokens, "PayPal issued no token: the run did not reach it"
    leaked = [what for what, secret in secrets_.items() if secret in logged]
    assert leaked == [], f"the logs carry {leaked}"


async def test_the_request_id_is_echoed_when_sane_and_made_up_otherwise(
    served: Served, json_logs: io.StringIO
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{served.url}/healthz", headers={"X-Request-Id": "lb-7f3a-0042"}
        ) as ok:
            assert ok.headers["X-Request-Id"] == "lb-7f3a-0042"
        for insane in ("short", "has spaces in it", "x" * 129, 'quote"d-value', "é" * 10):
            async with session.get(
                f"{served.url}/healthz", headers={"X-Request-Id": insane}
            ) as made_up:
                rid = made_up.headers["X-Request-Id"]
                assert rid != insane
                assert len(rid) == 32
                assert int(rid, 16) >= 0
        async with session.post(
            f"{served.url}/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": "Bearer not-a-token", "X-Request-Id": "refused-0001"},
        ) as refused:
            assert refused.status == 401
            assert refused.headers["X-Request-Id"] == "refused-0001"
    assert "not-a-token" not in json_logs.getvalue()


async def metrics_status(eco: Economy, headers: dict[str, str] | None = None) -> int:
    app = create_app(eco)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
            return r.status
    finally:
        await runner.cleanup()


PRODUCTION = {"DIAMONDS_ENV": "production", "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET}


async def test_metrics_in_production_need_the_token_and_without_one_are_not_served(
    start_economy: Callable[..., Awaitable[Economy]],
) -> None:
    token = "metrics-scraper-token-0123456789"
    guarded = await start_economy(
        development=False, observability=ObservabilitySettings(metrics_token=token)
    )
    assert await metrics_status(guarded) == 401
    assert await metrics_status(guarded, {"Authorization": "Bearer wrong-token-0123456789"}) == 401
    assert await metrics_status(guarded, {"Authorization": f"Bearer {token}"}) == 200
    unguarded = await start_economy(development=False)
    assert await metrics_status(unguarded) == 404


def test_the_log_format_is_text_in_development_json_in_production_and_checked() -> None:
    assert Settings.from_env({}).observability.log_format == "text"
    assert Settings.from_env(PRODUCTION).observability.log_format == "json"
    chosen = Settings.from_env({"DIAMONDS_LOG_FORMAT": "JSON"}).observability
    assert chosen.log_format == "json"
    with pytest.raises(ConfigError) as bad:
        Settings.from_env(
            {
                "DIAMONDS_LOG_FORMAT": "xml",
                "DIAMONDS_METRICS_TOKEN": "short",
                "DIAMONDS_OTEL_ENDPOINT": "collector:4318",
            }
        )
    assert bad.value.problems == [
        "DIAMONDS_METRICS_TOKEN: expected at least 16 bytes",
        "DIAMONDS_OTEL_ENDPOINT='collector:4318': expected an http:// or https:// URL",
        "DIAMONDS_LOG_FORMAT='xml': expected json or text",
    ]


TRACED_RUN = """
import asyncio, sys
from aiohttp.test_utils import TestClient, TestServer
from economy.app import Economy
from graph.server import create_app
from settings.service import Settings

TRACING = (
    "graph.tracing",
    "opentelemetry.sdk.trace",
    "opentelemetry.instrumentation.aiohttp_server",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "strawberry.extensions.tracing.opentelemetry",
)

async def main(traced):
    eco = await Economy.start(Settings.from_env())
    app = create_app(eco)
    if traced:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from graph.tracing import trace_app
        exporter = InMemorySpanExporter()
        trace_app(app, eco.settings.observability, SimpleSpanProcessor(exporter))
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/graphql", json={"query": "query Hello { __typename }"})
        assert response.status == 200, await response.text()
    if traced:
        print(sorted(span.name for span in exporter.get_finished_spans()))
    else:
        print(sorted(m for m in TRACING if m in sys.modules))

asyncio.run(main(sys.argv[1] == "on"))
"""


def run_traced(database_url: str, mode: str, **env: str) -> list[str]:
    environment = {
        **os.environ,
        "DIAMONDS_DATABASE_URL": database_url,
        "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET,
        **env,
    }
    environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    done = subprocess.run(  # noqa: S603 - our own interpreter on our own script
        [sys.executable, "-c", TRACED_RUN, mode],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    names: list[str] = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    return names


def test_without_an_endpoint_no_tracing_is_imported_and_the_service_needs_none(
    database_url: str, economy: Economy
) -> None:
    # (redis-py imports OpenTelemetry's metrics API when it finds it installed: not ours.)
    assert run_traced(database_url, "off") == []
    needed = [r for r in metadata.requires("diamonds") or [] if r.startswith("opentelemetry")]
    assert needed, "the otel extra lists OpenTelemetry"
    assert all('extra == "otel"' in r for r in needed), needed


def test_with_tracing_on_a_request_and_its_operation_make_spans(
    database_url: str, economy: Economy
) -> None:
    spans = run_traced(
        database_url, "on", DIAMONDS_OTEL_ENDPOINT="http://127.0.0.1:9/never-reached"
    )
    assert "GraphQL Query: Hello" in spans, spans
    assert "POST /graphql" in spans, spans


@pytest.mark.slow
async def test_two_workers_answer_metrics_for_both(database_url: str, economy: Economy) -> None:
    port = unused_port()
    env = {
        **os.environ,
        "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET,
        "DIAMONDS_LIVE_TICK_MS": "0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "diamonds.cli", "serve", "--port", str(port), "--workers"]
    command += ["2", "--no-migrate", "--no-worker", "--database-url", database_url]
    process = subprocess.Popen(  # noqa: ASYNC220, S603 - our own command, started once
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        totals = await _ping_then_scrape(port, process)
    finally:
        process.terminate()
        process.wait(20)
    assert totals == [12.0] * 4  # every worker's scrape counts every worker's pings


async def _healthy(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


PING_OK = (("operation", "Ping"), ("outcome", "ok"))


async def _ping_then_scrape(port: int, process: subprocess.Popen[bytes]) -> list[float]:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # two interpreters starting on a busy machine
    while not await _healthy(url):
        assert process.poll() is None, "diamonds serve --workers 2 exited"
        assert time.monotonic() < deadline, "diamonds serve --workers 2 did not start"
        await asyncio.sleep(0.3)
    assert len(await wait_for_listeners(port, 2, process)) == 2
    for _ in range(12):  # a connection each: the kernel spreads them over the workers
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{url}/graphql", json={"query": "query Ping { __typename }"}) as response,
        ):
            assert response.status == 200
    totals = []
    for _ in range(4):
        async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
            found = samples(await r.text())
        totals.append(found.get(("diamonds_requests_total", PING_OK), 0.0))
    return totals


async def until_metric(
    session: aiohttp.ClientSession, url: str, key: tuple[str, Any], value: float
) -> None:
    found = None
    for _ in range(50):
        found = (await read_metrics(session, url)).get(key, 0.0)
        if found == value:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{key} is {found}, not {value}")


async def test_open_subscriptions_and_refused_webhook_signatures_are_counted(
    served: Served, live_stream: Callable[..., Awaitable[Any]], token_for: Callable[..., str]
) -> None:
    stream_id = to_global_id("LiveStream", (await live_stream()).stream.id)
    refused = ("diamonds_webhook_verifications_failed_total", (("provider", "paypal"),))
    open_now = ("diamonds_subscriptions_open", ())
    async with aiohttp.ClientSession() as session:
        before = await read_metrics(session, served.url)
        async with session.post(
            f"{served.url}/webhooks/paypal",
            data=b'{"id": "WH-forged", "event_type": "PAYMENT.PAYOUTS-ITEM.SUCCEEDED"}',
            headers={"Content-Type": "application/json", "Paypal-Transmission-Sig": "forged"},
        ) as forged:
            assert forged.status == 400
        after = await read_metrics(session, served.url)
        assert after.get(refused, 0.0) - before.get(refused, 0.0) == 1

        watcher = await connect(session, f"{served.url}/graphql", token_for("viewer:w", "VIEWER"))
        await watcher.subscribe(GIFT_RECEIVED, {"stream": stream_id})
        await until_metric(session, served.url, open_now, before.get(open_now, 0.0) + 1)
        await watcher.ws.close()
        await until_metric(session, served.url, open_now, before.get(open_now, 0.0))
