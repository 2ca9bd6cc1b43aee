"""Every connection's `totalCount` over HTTP on both databases: the number of all rows matching
the page's filter (some rows left out by it), the same on every page of two, and counted only
when the field is asked for.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, insert

from compliance.tables import sanctions_hits, sanctions_lists, screenings
from economy.app import Economy
from economy.streams import end_stream, start_stream
from economy.users import User
from graph.global_ids import pk_of, to_global_id
from graph.server import create_app
from kernel.audit import write_audit_entry
from payouts.discrepancies import DiscrepancyKind, acknowledge_discrepancy, flag_discrepancy
from payouts.reconciliation.tables import reconciliation_items, reconciliation_runs

from .compliance_fixtures import fresh_compliance_tables  # noqa: F401  (autouse)
from .payout_fixtures import Rig

GraphQL = Callable[..., Awaitable[Any]]
PAGE = "totalCount edges { cursor } pageInfo { hasNextPage endCursor }"
FINANCE = {"subject": "finance:fay", "roles": ["FINANCE"]}
_serial = itertools.count(1)


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(rig.eco, rig.svc))) as client:
        yield client


async def totals_over_pages(
    graphql: GraphQL, query: str, path: str, variables: dict[str, Any] | None = None, **who: Any
) -> tuple[list[int], int]:
    """Every page of two of the connection at `path` (dotted): the totalCount each page gave,
    and how many edges all the pages held."""
    totals: list[int] = []
    edges = 0
    after = None
    while True:
        found = await graphql(query, {**(variables or {}), "after": after}, **who)
        assert found.errors == [], found.body
        page = found.data
        for key in path.split("."):
            page = page[key]
        totals.append(page["totalCount"])
        edges += len(page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return totals, edges
        after = page["pageInfo"]["endCursor"]


def assert_counted(found: tuple[list[int], int], matching: int) -> None:
    totals, edges = found
    assert edges == matching
    assert totals == [matching] * -(-matching // 2), "the same total on every page"


async def creator(eco: Economy) -> User:
    return await eco.users.ensure(f"creator:c{next(_serial)}")


async def test_live_streams_count_only_the_live_ones(graphql: GraphQL, economy: Economy) -> None:
    for _ in range(5):
        await start_stream(economy, await creator(economy), "live")
    for _ in range(2):
        someone = await creator(economy)
        ended = await start_stream(economy, someone, "over")
        await end_stream(economy, someone, ended.id, may_end_any=False)
    query = f"query($after: String) {{ liveStreams(first: 2, after: $after) {{ {PAGE} }} }}"
    assert_counted(await totals_over_pages(graphql, query, "liveStreams"), 5)


async def test_a_creators_streams_count_only_theirs(graphql: GraphQL, economy: Economy) -> None:
    ann = await economy.users.ensure("creator:ann")
    for n in range(5):
        stream = await start_stream(economy, ann, f"stream {n}")
        await end_stream(economy, ann, stream.id, may_end_any=False)
    await start_stream(economy, await creator(economy), "someone else's")
    query = f"query($after: String) {{ me {{ streams(first: 2, after: $after) {{ {PAGE} }} }} }}"
    found = await totals_over_pages(
        graphql, query, "me.streams", subject="creator:ann", roles=["CREATOR"]
    )
    assert_counted(found, 5)


async def test_wallet_transactions_count_balance_and_hold_moves_once_each(
    graphql: GraphQL, rich_creator: Callable[..., Awaitable[User]], funded_viewer: Any
) -> None:
    await rich_creator(60_000, subject="creator:ann")
    await rich_creator(60_000, subject="creator:bo")  # another wallet's moves
    for key in ("a", "b", "c", "d"):
        requested = await graphql(
            """mutation($key: String!) { requestPayout(input: {diamonds: 200,
              provider: "ledgerbank", currency: "USD", idempotencyKey: $key}) {
              errors { code } } }""",
            {"key": key},
            subject="creator:ann",
            roles=["CREATOR"],
        )
        assert requested.data["requestPayout"]["errors"] == [], requested.body
    query = (
        "query($after: String) { me { diamondWallet { "
        f"transactions(first: 2, after: $after) {{ {PAGE} }} }} }} }}"
    )
    found = await totals_over_pages(
        graphql, query, "me.diamondWallet.transactions", subject="creator:ann", roles=["CREATOR"]
    )
    assert_counted(found, 5)  # the gift received and four holds placed


async def test_payouts_and_open_discrepancies_count_what_the_filter_keeps(
    graphql: GraphQL, economy: Economy, rich_creator: Callable[..., Awaitable[User]]
) -> None:
    await rich_creator(60_000, subject="creator:ann")
    ids = []
    for key in ("a", "b", "c", "d", "e", "f", "g"):
        requested = await graphql(
            """mutation($key: String!, $d: BigInt!) { requestPayout(input: {diamonds: $d,
              provider: "ledgerbank", currency: "USD", idempotencyKey: $key}) {
              payout { id } errors { code } } }""",
            {"key": key, "d": 400 if key < "f" else 200},
            subject="creator:ann",
            roles=["CREATOR"],
        )
        assert requested.data["requestPayout"]["errors"] == [], requested.body
        ids.append(requested.data["requestPayout"]["payout"]["id"])
    query = (
        "query($after: String) { payouts(first: 2, after: $after, minDiamonds: 400) "
        f"{{ {PAGE} }} }}"
    )
    assert_counted(await totals_over_pages(graphql, query, "payouts", **FINANCE), 5)

    async with economy.db.write() as conn:
        flagged = [
            await flag_discrepancy(
                conn,
                pk_of(payout, "Payout"),
                1,
                DiscrepancyKind.PAID_TWICE,
                provider_state="PAID",
                our_status="PAID",
                message="test",
                source="test",
            )
            for payout in ids
        ]
        for done in flagged[:2]:
            assert await acknowledge_discrepancy(conn, done, by="finance:fay", note="seen")
    query = f"query($after: String) {{ payoutDiscrepancies(first: 2, after: $after) {{ {PAGE} }} }}"
    assert_counted(await totals_over_pages(graphql, query, "payoutDiscrepancies", **FINANCE), 5)
    every = query.replace("after: $after)", "after: $after, open: false)")
    assert_counted(await totals_over_pages(graphql, every, "payoutDiscrepancies", **FINANCE), 7)


async def test_reconciliation_runs_and_lines_count_what_the_filter_keeps(
    graphql: GraphQL, economy: Economy
) -> None:
    async with economy.db.write() as conn:
        runs = [
            (
                await conn.execute(
                    insert(reconciliation_runs)
                    .values(
                        provider=provider,
                        period_start=date(2025, 1, day),
                        period_end=date(2025, 1, day),
                        status="COMPLETED",
                        started_by="finance:fay",
                    )
                    .returning(reconciliation_runs.c.id)
                )
            ).scalar_one()
            for day, provider in enumerate(["stripe"] * 5 + ["paypal"] * 2, start=1)
        ]
        classes = ["AMOUNT_MISMATCH"] * 5 + ["MATCHED", "PENDING"]
        for n, klass in enumerate(classes):
            await conn.execute(
                insert(reconciliation_items).values(
                    {
                        "run_id": runs[0],
                        "key": f"po_{n}",
                        "class": klass,
                        "currency": "USD",
                        "reason": "test",
                        "resolved_by": "finance:fay" if n == 0 else None,
                    }
                )
            )
    query = (
        'query($after: String) { reconciliationRuns(first: 2, after: $after, provider: "stripe") '
        f"{{ {PAGE} }} }}"
    )
    assert_counted(await totals_over_pages(graphql, query, "reconciliationRuns", **FINANCE), 5)

    run = to_global_id("ReconciliationRun", runs[0])
    lines = (
        "query($id: ID!, $after: String, $open: Boolean!, $all: Boolean!) { "
        "reconciliationRun(id: $id) { lines(first: 2, after: $after, open: $open, "
        f"exceptionsOnly: $all) {{ {PAGE} }} }} }}"
    )
    path = "reconciliationRun.lines"
    exceptions = {"id": run, "open": False, "all": True}
    assert_counted(await totals_over_pages(graphql, lines, path, exceptions, **FINANCE), 5)
    every = {"id": run, "open": False, "all": False}
    assert_counted(await totals_over_pages(graphql, lines, path, every, **FINANCE), 7)


async def test_audit_log_counts_the_entries_the_filter_keeps(
    graphql: GraphQL, economy: Economy
) -> None:
    async with economy.db.write() as conn:
        for n in range(5):
            await write_audit_entry(conn, "finance:fay", "test.kept", f"t{n}")
        for n in range(2):
            await write_audit_entry(conn, "finance:fay", "test.other", f"o{n}")
    query = (
        'query($after: String) { auditLog(first: 2, after: $after, action: "test.kept") '
        f"{{ {PAGE} }} }}"
    )
    assert_counted(await totals_over_pages(graphql, query, "auditLog", **FINANCE), 5)


START = """mutation($input: StartIdentityVerificationInput!) {
  startIdentityVerification(input: $input) { errors { code } } }"""
ADD_METHOD = """mutation($input: AddPayoutMethodInput!) {
  addPayoutMethod(input: $input) { payoutMethod { id } errors { code } } }"""


async def test_review_queues_count_what_waits(graphql: GraphQL) -> None:
    methods = []
    for n in range(6):
        who = {"subject": f"creator:q{n}", "roles": ["CREATOR", "VIEWER"]}
        identity = {
            "method": "MANUAL",
            "legalName": f"Ann Lee {n}",
            "dateOfBirth": "1991-04-02",
            "country": "us",
        }
        started = await graphql(START, {"input": identity}, **who)
        assert started.data["startIdentityVerification"]["errors"] == [], started.body
        method = {"provider": "ledgerbank", "fields": []}
        added = await graphql(ADD_METHOD, {"input": method}, **who)
        assert added.data["addPayoutMethod"]["errors"] == [], added.body
        methods.append(added.data["addPayoutMethod"]["payoutMethod"]["id"])
    decided = await graphql(
        """mutation($input: ReviewIdentityInput!) { reviewIdentity(input: $input) {
          errors { code } } }""",
        {
            "input": {
                "userId": await user_id(graphql, "creator:q0"),
                "decision": "APPROVE",
                "note": "ok",
            }
        },
        **FINANCE,
    )
    assert decided.data["reviewIdentity"]["errors"] == [], decided.body
    verified = await graphql(
        """mutation($input: ReviewPayoutMethodInput!) { reviewPayoutMethod(input: $input) {
          errors { code } } }""",
        {"input": {"payoutMethodId": methods[0], "decision": "VERIFY", "note": "ok"}},
        **FINANCE,
    )
    assert verified.data["reviewPayoutMethod"]["errors"] == [], verified.body

    query = f"query($after: String) {{ identityReviewQueue(first: 2, after: $after) {{ {PAGE} }} }}"
    assert_counted(await totals_over_pages(graphql, query, "identityReviewQueue", **FINANCE), 5)
    query = query.replace("identityReviewQueue", "payoutMethodReviewQueue")
    assert_counted(await totals_over_pages(graphql, query, "payoutMethodReviewQueue", **FINANCE), 5)


async def user_id(graphql: GraphQL, subject: str) -> str:
    found = await graphql("{ me { id } }", subject=subject, roles=["CREATOR"])
    return str(found.data["me"]["id"])


async def test_sanctions_hits_count_the_status_asked_for(
    graphql: GraphQL, economy: Economy
) -> None:
    person = await economy.users.ensure("creator:anvar")
    async with economy.db.write() as conn:
        list_id = (
            await conn.execute(
                insert(sanctions_lists)
                .values(source="test", digest="0" * 64, entries=1, loaded_by="admin:test")
                .returning(sanctions_lists.c.id)
            )
        ).scalar_one()
        screening = (
            await conn.execute(
                insert(screenings)
                .values(
                    user_id=person.id, list_id=list_id, names=["Anvar"], result="POSSIBLE_MATCH"
                )
                .returning(screenings.c.id)
            )
        ).scalar_one()
        for n, status in enumerate(["OPEN"] * 5 + ["CLEARED"] * 2):
            await conn.execute(
                insert(sanctions_hits).values(
                    screening_id=screening,
                    user_id=person.id,
                    list_id=list_id,
                    entry_uid=n,
                    entry_name="KARIMOV, Anvar",
                    matched_name="Anvar Karimov",
                    screened_name="Anvar Karimov",
                    score=100,
                    status=status,
                )
            )
    query = f"query($after: String) {{ sanctionsHits(first: 2, after: $after) {{ {PAGE} }} }}"
    assert_counted(await totals_over_pages(graphql, query, "sanctionsHits", **FINANCE), 5)
    every = query.replace("(first: 2", "(status: null, first: 2")
    assert_counted(await totals_over_pages(graphql, every, "sanctionsHits", **FINANCE), 7)


@pytest.fixture
def statements(economy: Economy) -> Iterator[list[str]]:
    """Every SQL statement the economy's engines run while the test does."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engines = {id(e): e for e in (economy.db.reader.sync_engine, economy.db.writer.sync_engine)}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines.values():
        event.remove(engine, "before_cursor_execute", record)


async def test_the_count_runs_only_when_totalcount_is_asked_for(
    graphql: GraphQL, economy: Economy, statements: list[str]
) -> None:
    await write_audit_entry_now(economy)
    without = await graphql("{ auditLog(first: 2) { edges { cursor } } }", **FINANCE)
    assert without.errors == [], without.body
    assert not [s for s in statements if "count(" in s.lower()]
    counted = await graphql("{ auditLog(first: 2) { totalCount } }", **FINANCE)
    assert counted.data["auditLog"]["totalCount"] == 1
    assert [s for s in statements if "count(" in s.lower()]


async def write_audit_entry_now(economy: Economy) -> None:
    async with economy.db.write() as conn:
        await write_audit_entry(conn, "finance:fay", "test.kept", "t")
