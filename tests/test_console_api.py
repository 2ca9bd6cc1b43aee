"""The API the consoles need beyond the basics: bulk approval answered per payout, the audit log,
payout totals, sort, amount filter and CSV, a creator's streams and earnings per day, and a wallet
history that says what each movement was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from graph.global_ids import pk_of, to_global_id
from graph.server import create_app
from payouts.dispatch import Dispatcher
from providers.base import PayoutState

from .payout_fixtures import Rig, signed

Post = Callable[..., Awaitable[Any]]
FINANCE = {"subject": "finance:fay", "roles": ["FINANCE"]}

REQUEST = """
mutation($diamonds: BigInt!, $key: String!) {
  requestPayout(input: {diamonds: $diamonds, provider: "ledgerbank", currency: "USD",
                        idempotencyKey: $key}) { payout { id status } errors { code } }
}
"""

BULK = """
mutation($ids: [ID!]!) {
  bulkApprovePayouts(input: {payoutIds: $ids}) {
    results { payoutId payout { status approvedBy } errors { code field } }
    errors { code field }
  }
}
"""


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(rig.eco, rig.svc))) as client:
        yield client


async def requested(graphql: Post, creator: str, diamonds: int, key: str = "a") -> str:
    sent = await graphql(
        REQUEST, {"diamonds": diamonds, "key": key}, subject=creator, roles=["CREATOR"]
    )
    assert sent.data["requestPayout"]["errors"] == [], sent.body
    payout_id: str = sent.data["requestPayout"]["payout"]["id"]
    return payout_id


async def test_bulk_approval_answers_per_payout_and_keeps_four_eyes(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    ids = []
    for name in ("ann", "bob", "cat"):
        await rich_creator(150_000, subject=f"creator:{name}")
        ids.append(await requested(graphql, f"creator:{name}", 120_000))
    await rich_creator(150_000, subject="finance:fay")  # FINANCE who also creates
    own = await requested(graphql, "finance:fay", 120_000)
    answer = await graphql(BULK, {"ids": [*ids, own, "junk"]}, **FINANCE)
    payload = answer.data["bulkApprovePayouts"]
    assert payload["errors"] == []
    approved = {"status": "APPROVED", "approvedBy": "finance:fay"}
    assert payload["results"] == [
        *({"payoutId": i, "payout": approved, "errors": []} for i in ids),
        {
            "payoutId": own,
            "payout": None,
            "errors": [{"code": "SELF_APPROVAL", "field": "payoutId"}],
        },
        {
            "payoutId": "junk",
            "payout": None,
            "errors": [{"code": "INVALID_ID", "field": "payoutId"}],
        },
    ]

    too_many = await graphql(
        BULK, {"ids": [to_global_id("Payout", n) for n in range(101)]}, **FINANCE
    )
    assert too_many.data["bulkApprovePayouts"]["errors"] == [
        {"code": "TOO_MANY_PAYOUTS", "field": "payoutIds"}
    ]
    empty = await graphql(BULK, {"ids": []}, **FINANCE)
    assert empty.data["bulkApprovePayouts"]["errors"] == [
        {"code": "NO_PAYOUTS", "field": "payoutIds"}
    ]
    creator = await graphql(BULK, {"ids": ids}, subject="creator:ann", roles=["CREATOR"])
    assert creator.error_codes == ["FORBIDDEN"]


AUDIT = """
query($actor: String, $action: String, $target: String, $after: String) {
  auditLog(first: 2, actor: $actor, action: $action, target: $target, after: $after) {
    edges { node { actor action target details } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_finance_and_admin_read_the_audit_log_filtered_newest_first(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    ids = []
    for name in ("ann", "bob", "cat"):
        await rich_creator(150_000, subject=f"creator:{name}")
        ids.append(await requested(graphql, f"creator:{name}", 120_000))
    await graphql(BULK, {"ids": ids}, **FINANCE)
    first = await graphql(AUDIT, {"action": "PAYOUT_APPROVED"}, **FINANCE)
    page = first.data["auditLog"]
    targets = [f"payout:{pk_of(i, 'Payout')}" for i in ids]
    assert [e["node"]["target"] for e in page["edges"]] == targets[::-1][:2]
    assert {e["node"]["actor"] for e in page["edges"]} == {"finance:fay"}
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await graphql(
        AUDIT, {"action": "PAYOUT_APPROVED", "after": page["pageInfo"]["endCursor"]}, **FINANCE
    )
    assert [e["node"]["target"] for e in rest.data["auditLog"]["edges"]] == targets[:1]
    one = await graphql(AUDIT, {"target": targets[1]}, subject="admin:al", roles=["ADMIN"])
    assert [e["node"]["action"] for e in one.data["auditLog"]["edges"]] == ["PAYOUT_APPROVED"]
    nobody = await graphql(AUDIT, {"actor": "finance:nobody"}, **FINANCE)
    assert nobody.data["auditLog"]["edges"] == []
    later = await graphql(
        "query($at: DateTime!) { auditLog(createdAfter: $at) { edges { node { id } } } }",
        {"at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        **FINANCE,
    )
    assert later.data["auditLog"]["edges"] == []
    creator = await graphql(AUDIT, {}, subject="creator:ann", roles=["CREATOR"])
    assert creator.error_codes == ["FORBIDDEN"]


LIST = """
query($sort: PayoutSort, $min: BigInt, $max: BigInt) {
  payouts(first: 2, sort: $sort, minDiamonds: $min, maxDiamonds: $max) {
    totalCount edges { node { diamonds } } csv
  }
}
"""


async def test_payouts_count_sort_filter_by_amount_and_export_csv(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(200_000, subject="creator:ann")
    for n, diamonds in enumerate((30_000, 50_000, 10_000, 20_000)):
        await requested(graphql, "creator:ann", diamonds, key=f"k{n}")
    largest = await graphql(LIST, {"sort": "LARGEST"}, **FINANCE)
    page = largest.data["payouts"]
    assert page["totalCount"] == 4
    assert [e["node"]["diamonds"] for e in page["edges"]] == [50_000, 30_000]
    rows = list(csv.DictReader(io.StringIO(page["csv"])))
    assert [int(r["diamonds"]) for r in rows] == [50_000, 30_000, 20_000, 10_000]
    assert {r["creator"] for r in rows} == {"creator:ann"}
    assert int(rows[0]["gross_minor"]) == 25_000

    smallest = await graphql(
        "query($after: String) { payouts(first: 2, sort: SMALLEST, after: $after) "
        "{ edges { node { diamonds } } pageInfo { endCursor } } }",
        **FINANCE,
    )
    cursor = smallest.data["payouts"]["pageInfo"]["endCursor"]
    more = await graphql(
        "query($after: String) { payouts(first: 2, sort: SMALLEST, after: $after) "
        "{ edges { node { diamonds } } } }",
        {"after": cursor},
        **FINANCE,
    )
    assert [e["node"]["diamonds"] for e in more.data["payouts"]["edges"]] == [30_000, 50_000]

    ranged = await graphql(LIST, {"min": 20_000, "max": 30_000, "sort": "OLDEST"}, **FINANCE)
    assert ranged.data["payouts"]["totalCount"] == 2
    assert [e["node"]["diamonds"] for e in ranged.data["payouts"]["edges"]] == [30_000, 20_000]

    mine = await graphql("{ payouts { totalCount } }", subject="creator:ann", roles=["CREATOR"])
    assert mine.data["payouts"]["totalCount"] == 4
    no_csv = await graphql("{ payouts { csv } }", subject="creator:ann", roles=["CREATOR"])
    assert no_csv.error_codes == ["FORBIDDEN"]


async def test_a_creator_lists_past_streams_and_earnings_per_day(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(40_000, subject="creator:ann")
    today = datetime.now(UTC).date()
    mine = await graphql(
        "query($since: Date!, $until: Date!) { me { streams(first: 5) { edges { node { "
        "title status earnings } } } earningsByDay(since: $since, until: $until) "
        "{ day diamonds gifts } } }",
        {"since": (today - timedelta(days=2)).isoformat(), "until": today.isoformat()},
        subject="creator:ann",
        roles=["CREATOR"],
    )
    me = mine.data["me"]
    assert me["streams"]["edges"] == [
        {"node": {"title": "earning", "status": "ENDED", "earnings": 40_000}}
    ]
    assert me["earningsByDay"] == [
        {"day": (today - timedelta(days=2)).isoformat(), "diamonds": 0, "gifts": 0},
        {"day": (today - timedelta(days=1)).isoformat(), "diamonds": 0, "gifts": 0},
        {"day": today.isoformat(), "diamonds": 40_000, "gifts": 1},
    ]
    backwards = await graphql(
        'query($d: Date!) { me { earningsByDay(since: $d, until: "2000-01-01") { day } } }',
        {"d": today.isoformat()},
        subject="creator:ann",
        roles=["CREATOR"],
    )
    assert backwards.error_codes == ["BAD_USER_INPUT"]
    ann = await graphql("{ me { id } }", subject="creator:ann", roles=["CREATOR"])
    other = await graphql(
        "query($id: ID!) { node(id: $id) { ... on User { streams { edges { node { id } } } } } }",
        {"id": ann.data["me"]["id"]},
        subject="viewer:v",
        roles=["VIEWER"],
    )
    assert other.error_codes == ["FORBIDDEN"]


HISTORY = """
{ me { diamondWallet { transactions(first: 10) { edges { node {
    kind amount held relatedId stream { title } sender { subject } } } } } } }
"""


async def test_the_wallet_history_says_what_each_movement_was(
    api: Any, graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(60_000, subject="creator:ann")
    paid_id = await requested(graphql, "creator:ann", 20_000, key="p")
    returned_id = await requested(graphql, "creator:ann", 10_000, key="r")
    await Dispatcher(rig.svc).run_once()
    for n, (payout, state) in enumerate(((paid_id, "PAID"), (returned_id, "PAID"))):
        pk = pk_of(payout, "Payout")
        event = {"id": f"evt_{n}", "state": state, "payout": f"diamonds-payout-{pk}"}
        headers, body = signed(event)
        assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200
    pk = pk_of(returned_id, "Payout")
    headers, body = signed({"id": "evt_r", "state": "RETURNED", "payout": f"diamonds-payout-{pk}"})
    rig.bank.settled[f"diamonds-payout-{pk}"] = PayoutState.RETURNED  # the bank's books agree
    assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200

    released_id = await requested(graphql, "creator:ann", 5_000, key="c")
    canceled = await graphql(
        "mutation($id: ID!) { cancelPayout(input: {payoutId: $id}) { errors { code } } }",
        {"id": released_id},
        subject="creator:ann",
        roles=["CREATOR"],
    )
    assert canceled.data["cancelPayout"]["errors"] == []

    seen = await graphql(HISTORY, subject="creator:ann", roles=["CREATOR"])
    entries = [e["node"] for e in seen.data["me"]["diamondWallet"]["transactions"]["edges"]]
    assert [(e["kind"], e["amount"], e["held"], e["relatedId"]) for e in entries] == [
        ("PAYOUT_RELEASED", 0, -5_000, released_id),
        ("PAYOUT_REQUESTED", 0, 5_000, released_id),
        ("PAYOUT_RETURNED", 10_000, 0, returned_id),
        ("PAYOUT_PAID", -10_000, -10_000, returned_id),
        ("PAYOUT_PAID", -20_000, -20_000, paid_id),
        ("PAYOUT_REQUESTED", 0, 10_000, returned_id),
        ("PAYOUT_REQUESTED", 0, 20_000, paid_id),
        ("GIFT_RECEIVED", 60_000, 0, entries[-1]["relatedId"]),
    ]
    assert entries[-1]["stream"] == {"title": "earning"}
    assert entries[-1]["sender"]["subject"].startswith("viewer")
    assert pk_of(entries[-1]["relatedId"], "LiveStream") > 0
