"""Reconciliation through GraphQL and the command line: FINANCE runs a provider-day, reads its
totals, exceptions and CSV, and resolves an exception; nobody else sees any of it; the daily job
runs each provider-day once; `diamonds reconcile` prints the classes and writes the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from diamonds_fakes.disagreements import Disagreement, DisagreementKind

from graph.server import create_app
from kernel.clock import utc_today
from payouts.reconciliation.daily import reconcile_due
from payouts.reconciliation.run import Period
from payouts.reconciliation.store import run_for

from .stripe_rig import Pay, StripeRig

RUN = """
mutation Run($input: ReconcileProviderInput!) {
  reconcileProvider(input: $input) {
    run { id provider exceptionCount openExceptionCount ourCount
          totals { class currency count ourMinor theirMinor }
          lines { edges { node { id class reason payout { id } } } }
          csv }
    errors { field code message }
  }
}
"""
RESOLVE = """
mutation Resolve($input: ResolveReconciliationExceptionInput!) {
  resolveReconciliationException(input: $input) {
    line { class resolvedBy note }
    errors { field code }
  }
}
"""
RUNS = "{ reconciliationRuns { edges { node { id provider runs exceptionCount } } } }"


@pytest.fixture
async def client(stripe_rig: StripeRig) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(stripe_rig.eco, stripe_rig.svc))) as made:
        yield made


async def post(
    client: TestClient[Any, Any], token: str | None, query: str, variables: Any = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    body: dict[str, Any] = await response.json()
    return body


def today_input(provider: str = "stripe") -> dict[str, Any]:
    return {"input": {"provider": provider, "since": utc_today().isoformat()}}


async def test_finance_runs_a_day_reads_its_exceptions_and_csv_and_resolves_one(
    client: TestClient[Any, Any], stripe_rig: StripeRig, pay: Pay, token_for: Any
) -> None:
    kept, dropped = await pay(), await pay()
    stripe_rig.fake.add_disagreement(Disagreement(DisagreementKind.DROP, dropped.reference))
    finance = token_for("finance:fay", "FINANCE")
    body = await post(client, finance, RUN, today_input())
    done = body["data"]["reconcileProvider"]
    assert done["errors"] == []
    run = done["run"]
    assert (run["ourCount"], run["exceptionCount"], run["openExceptionCount"]) == (2, 1, 1)
    assert {t["class"]: t["count"] for t in run["totals"]} == {
        "MATCHED": 1,
        "MISSING_AT_PROVIDER": 1,
    }
    (line,) = [edge["node"] for edge in run["lines"]["edges"]]
    assert line["class"] == "MISSING_AT_PROVIDER"
    rows = list(csv.DictReader(io.StringIO(run["csv"])))
    assert {row["class"] for row in rows} == {"MATCHED", "MISSING_AT_PROVIDER"}
    assert {int(row["payout_id"]) for row in rows} == {kept.id, dropped.id}

    resolved = await post(
        client, finance, RESOLVE, {"input": {"exceptionId": line["id"], "note": "written off"}}
    )
    assert resolved["data"]["resolveReconciliationException"] == {
        "line": {
            "class": "MISSING_AT_PROVIDER",
            "resolvedBy": "finance:fay",
            "note": "written off",
        },
        "errors": [],
    }
    again = await post(
        client, finance, RESOLVE, {"input": {"exceptionId": line["id"], "note": "again"}}
    )
    assert again["data"]["resolveReconciliationException"]["errors"] == [
        {"field": "exceptionId", "code": "ALREADY_RESOLVED"}
    ]
    runs = await post(client, finance, RUNS)
    assert [e["node"]["provider"] for e in runs["data"]["reconciliationRuns"]["edges"]] == [
        "stripe"
    ]


async def test_bad_input_is_a_typed_error_and_writes_nothing(
    client: TestClient[Any, Any], stripe_rig: StripeRig, token_for: Any
) -> None:
    finance = token_for("finance:fay", "FINANCE")
    tomorrow = (utc_today() + timedelta(days=1)).isoformat()
    cases = [
        ({"provider": "nope", "since": utc_today().isoformat()}, "UNKNOWN_PROVIDER"),
        ({"provider": "stripe", "since": tomorrow}, "INVALID_PERIOD"),
        ({"provider": "stripe", "since": "9999-12-31"}, "INVALID_PERIOD"),
        (
            {"provider": "stripe", "since": utc_today().isoformat(), "until": "2000-01-01"},
            "INVALID_PERIOD",
        ),
    ]
    for given, code in cases:
        body = await post(client, finance, RUN, {"input": given})
        assert [e["code"] for e in body["data"]["reconcileProvider"]["errors"]] == [code]
    bad_id = await post(client, finance, RESOLVE, {"input": {"exceptionId": "x", "note": "n"}})
    assert bad_id["data"]["resolveReconciliationException"]["errors"][0]["code"] == "INVALID_ID"
    runs = await post(client, finance, RUNS)
    assert runs["data"]["reconciliationRuns"]["edges"] == []


@pytest.mark.parametrize("roles", [("VIEWER",), ("CREATOR",)])
async def test_nobody_but_finance_sees_or_runs_reconciliation(
    client: TestClient[Any, Any], token_for: Any, roles: tuple[str, ...]
) -> None:
    token = token_for("someone:else", *roles)
    for query, variables in ((RUNS, None), (RUN, today_input())):
        body = await post(client, token, query, variables)
        assert list(body["data"].values()) == [None]
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await post(client, None, RUNS)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_daily_job_runs_yesterday_once_whichever_worker_gets_there(
    stripe_rig: StripeRig,
) -> None:
    stripe_rig.svc.policy = type(stripe_rig.svc.policy)(reconcile_daily=True, reconcile_hour=3)
    now = datetime.combine(utc_today(), datetime.min.time(), UTC) + timedelta(hours=5)
    done = await asyncio.gather(*(reconcile_due(stripe_rig.svc, now) for _ in range(3)))
    assert sum(done) == 1
    yesterday = Period.day(utc_today() - timedelta(days=1))
    async with stripe_rig.eco.db.read() as conn:
        stored = await run_for(conn, "stripe", yesterday.start, yesterday.end)
    assert stored is not None
    assert (stored.status, stored.runs, stored.started_by) == (
        "DONE",
        1,
        "system:daily-reconciliation",
    )
    assert await reconcile_due(stripe_rig.svc, now + timedelta(hours=1)) == 0


async def test_before_the_hour_the_daily_job_waits(stripe_rig: StripeRig) -> None:
    stripe_rig.svc.policy = type(stripe_rig.svc.policy)(reconcile_daily=True, reconcile_hour=3)
    early = datetime.combine(utc_today(), datetime.min.time(), UTC) + timedelta(hours=2)
    assert await reconcile_due(stripe_rig.svc, early) == 0


async def diamonds(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("diamonds")),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_command_reconciles_a_day_prints_its_classes_and_writes_csv(
    stripe_rig: StripeRig, pay: Pay, tmp_path: Path
) -> None:
    dropped = await pay()
    await pay()
    stripe_rig.fake.add_disagreement(Disagreement(DisagreementKind.DROP, dropped.reference))
    env = {
        "DIAMONDS_DATABASE_URL": stripe_rig.eco.settings.database_url,
        "DIAMONDS_STRIPE_API_KEY": stripe_rig.fake.secret_key,
        "DIAMONDS_STRIPE_API_BASE": stripe_rig.fake.url,
    }
    out = tmp_path / "run.csv"
    day = utc_today().isoformat()
    code, printed = await diamonds(
        "reconcile", "--provider", "stripe", "--date", day, "--csv", str(out), env=env
    )
    assert code == 0, printed
    assert "1 exception(s) (1 open)" in printed
    assert "MISSING_AT_PROVIDER" in printed
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sorted(row["class"] for row in rows) == ["MATCHED", "MISSING_AT_PROVIDER"]

    code, printed = await diamonds("reconcile", "--since", day, env=env)
    assert code == 2
    assert "a range needs both --since and --until" in printed
    code, printed = await diamonds("reconcile", "--provider", "nope", "--date", day, env=env)
    assert code == 2
    assert "no payout provider 'nope'" in printed
