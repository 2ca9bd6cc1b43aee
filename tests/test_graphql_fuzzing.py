"""Property-based fuzzing of the GraphQL API (schemathesis over schema.graphql) against
`diamonds serve --demo` in a process of its own, with a token of each role: every query and
mutation field gets generated arguments and selections, valid by the schema and (negative mode)
not; no answer is a 5xx, a body that is not a JSON object, or "Unexpected error.", and the ledger
still verifies afterwards. The count of requests sent goes to stdout and to test-output/.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.graphql import nodes
from schemathesis.schemas import APIOperation

from diamonds.demo import ADMIN, CREATOR, FINANCE, VIEWER, demo_tokens
from economy.app import Economy
from graph.global_ids import encode_cursor, to_global_id

from .conftest import TEST_JWT_SECRET, settings_for
from .hostile_inputs import what_went_wrong
from .payout_fixtures import ledger_is_clean
from .served_process import ROOT, served_process

pytestmark = pytest.mark.slow

POSITIVE_EXAMPLES = int(os.environ.get("DIAMONDS_FUZZ_EXAMPLES", "3"))
"""Schema-valid requests per operation and role: 3 keeps each database under ~40 s on two
cores (about 700 requests); `DIAMONDS_FUZZ_EXAMPLES=50` is a longer run."""
NEGATIVE_EXAMPLES = max(1, POSITIVE_EXAMPLES // 2)
"""Schema-invalid requests per operation, sent as ADMIN (the role that reaches furthest)."""

ID_TYPES = (
    "User",
    "LiveStream",
    "Gift",
    "CoinBundle",
    "Payout",
    "PayoutMethod",
    "SanctionsHit",
    "IdentityVerification",
    "ReconciliationRun",
    "Nothing",
)
ids = st.one_of(
    st.builds(to_global_id, st.sampled_from(ID_TYPES), st.integers(0, 12)),
    st.builds(encode_cursor, st.integers(0, 50)),
    st.text(max_size=40),
)
"""Ids of the demo's objects (and near misses: other types, unknown pks) as often as any text."""

schemathesis.graphql.scalar("ID", ids.map(nodes.String))


@dataclass
class Tally:
    """What the fuzzing sent and what went wrong."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def fuzz_operation(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    examples: int,
    url: str,
    token: str | None,
    session: requests.Session,
    tally: Tally,
) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}

    @hypothesis_settings(
        max_examples=examples,
        derandomize=os.environ.get("DIAMONDS_PROPERTY_RANDOM") is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=url, session=session, headers=headers, timeout=30)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        problem = what_went_wrong(response.status_code, response.text)
        if problem is not None:
            tally.failures.append(f"{operation.label} ({mode.value}): {problem}\n{case.body!s}")

    send()


def fuzz(url: str, tokens: dict[str, str | None]) -> Tally:
    """Every operation of schema.graphql: positive cases for each role, negative ones as ADMIN."""
    schema = schemathesis.graphql.from_path(ROOT / "schema.graphql")
    tally = Tally()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result.err()
            operation = result.ok()
            for token in tokens.values():
                fuzz_operation(
                    operation,
                    GenerationMode.POSITIVE,
                    POSITIVE_EXAMPLES,
                    url,
                    token,
                    session,
                    tally,
                )
            fuzz_operation(
                operation,
                GenerationMode.NEGATIVE,
                NEGATIVE_EXAMPLES,
                url,
                tokens["ADMIN"],
                session,
                tally,
            )
    return tally


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """`diamonds serve --demo` in another process on the test's database: its /graphql URL."""
    env = {**os.environ, "DIAMONDS_JWT_SECRET": TEST_JWT_SECRET}
    arguments = ["--demo", "--no-migrate", "--no-worker", "--database-url", database_url]
    async with served_process(arguments, env, tmp_path / "server.log") as (url, _):
        yield f"{url}/graphql"
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_fuzzed_requests_of_every_role_get_no_server_error(
    server: str, database_url: str, economy: Economy
) -> None:
    minted = demo_tokens(settings_for(database_url))
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "VIEWER": minted[VIEWER],
        "CREATOR": minted[CREATOR],
        "FINANCE": minted[FINANCE],
        "ADMIN": minted[ADMIN],
    }
    tally = await asyncio.to_thread(fuzz, server, tokens)
    dialect = database_url.split(":")[0].split("+")[0]
    summary = (
        f"graphql fuzzing ({dialect}): {tally.requests} requests, "
        f"statuses {dict(sorted(tally.statuses.items()))}, {len(tally.failures)} server errors"
    )
    print(f"\n{summary}")
    output = ROOT / "test-output"
    output.mkdir(exist_ok=True)
    (output / f"graphql-fuzzing-{dialect}.txt").write_text(summary + "\n")
    assert not tally.failures, "\n\n".join(tally.failures[:20])
    await ledger_is_clean(economy)
