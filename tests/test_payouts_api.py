"""Payouts through HTTP as creators and finance staff use them: request, follow, review, and the
provider's signed webhooks at /webhooks/{provider}."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from economy.events import payout_topic
from graph.global_ids import pk_of, to_global_id
from graph.server import create_app
from payouts.dispatch import Dispatcher
from providers.base import PayoutState

from .live_fixtures import connect, listening
from .payout_fixtures import Rig, ledger_is_clean, signed

Post = Callable[..., Awaitable[Any]]

REQUEST = """
mutation($diamonds: BigInt!, $key: String!) {
  requestPayout(input: {diamonds: $diamonds, provider: "ledgerbank", currency: "USD",
                        idempotencyKey: $key}) {
    payout { id status diamonds gross net currency provider creator { subject } }
    replayed
    errors { field message code }
  }
}
"""

DECIDE = """
mutation($id: ID!) {
  approvePayout(input: {payoutId: $id}) { payout { status approvedBy } errors { code } }
}
"""


PAYOUT_UPDATES = """
subscription {
  payoutStatusChanged { payoutId status provider diamonds currency gross fee withholding net }
}
"""


async def payout_requested(graphql: Post, creator: str, diamonds: int) -> str:
    """The id of a payout `creator` requested over HTTP."""
    sent = await graphql(
        REQUEST, {"diamonds": diamonds, "key": "a"}, subject=creator, roles=["CREATOR"]
    )
    assert sent.data["requestPayout"]["errors"] == [], sent.body
    payout_id: str = sent.data["requestPayout"]["payout"]["id"]
    return payout_id


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(rig.eco, rig.svc))) as client:
        yield client


async def test_a_creator_requests_a_payout_and_follows_it(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    creator = await rich_creator(60_000, subject="creator:cat")
    sent = await graphql(
        REQUEST, {"diamonds": 40_000, "key": "k1"}, subject="creator:cat", roles=["CREATOR"]
    )
    payload = sent.data["requestPayout"]
    assert payload["errors"] == []
    assert payload["payout"]["status"] == "APPROVED"
    assert payload["payout"]["gross"] == 20_000
    assert payload["payout"]["creator"] == {"subject": "creator:cat"}
    payout_id = payload["payout"]["id"]

    await Dispatcher(rig.svc).run_once()
    mine = await graphql(
        "{ payouts { edges { node { id status history { fromStatus toStatus actor } } } } "
        "me { diamondWallet { balance available held } } }",
        subject="creator:cat",
        roles=["CREATOR"],
    )
    node = mine.data["payouts"]["edges"][0]["node"]
    assert node["id"] == payout_id
    assert node["status"] == "SUBMITTED"
    assert [(h["fromStatus"], h["toStatus"]) for h in node["history"]] == [
        (None, "REQUESTED"),
        ("REQUESTED", "APPROVED"),
        ("APPROVED", "SUBMITTED"),
    ]
    assert mine.data["me"]["diamondWallet"] == {
        "balance": 60_000,
        "available": 20_000,
        "held": 40_000,
    }
    assert creator.subject == "creator:cat"


async def test_payout_errors_are_typed_payload_errors(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(60_000, subject="creator:cat")
    too_much = await graphql(
        REQUEST, {"diamonds": 90_000, "key": "k"}, subject="creator:cat", roles=["CREATOR"]
    )
    assert too_much.data["requestPayout"]["errors"] == [
        {
            "field": "diamonds",
            "message": "only 60,000 diamonds are available, fewer than the 90,000 asked for",
            "code": "INSUFFICIENT_DIAMONDS",
        }
    ]
    from compliance.gate.rules import Requirement

    rig.gate.blocked = [
        Requirement("TAX_FORM_MISSING", "submit a tax form"),
        Requirement("AGE_UNVERIFIED", "confirm you are 18 or over"),
    ]
    blocked = await graphql(
        REQUEST, {"diamonds": 10_000, "key": "k2"}, subject="creator:cat", roles=["CREATOR"]
    )
    assert [e["code"] for e in blocked.data["requestPayout"]["errors"]] == [
        "TAX_FORM_MISSING",
        "AGE_UNVERIFIED",
    ]


async def test_viewers_cannot_request_and_creators_cannot_review(graphql: Post, rig: Rig) -> None:
    viewer = await graphql(
        REQUEST, {"diamonds": 1, "key": "k"}, subject="viewer:v", roles=["VIEWER"]
    )
    assert viewer.error_codes == ["FORBIDDEN"]
    creator = await graphql(
        DECIDE, {"id": to_global_id("Payout", 1)}, subject="creator:c", roles=["CREATOR"]
    )
    assert creator.error_codes == ["FORBIDDEN"]


async def test_creators_see_their_own_payouts_and_finance_sees_and_filters_all(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(150_000, subject="creator:ann")
    await rich_creator(60_000, subject="creator:bob")
    await graphql(
        REQUEST, {"diamonds": 120_000, "key": "a"}, subject="creator:ann", roles=["CREATOR"]
    )
    bob = await graphql(
        REQUEST, {"diamonds": 20_000, "key": "b"}, subject="creator:bob", roles=["CREATOR"]
    )
    bob_payout = bob.data["requestPayout"]["payout"]["id"]

    seen_by_ann = await graphql(
        "{ payouts { edges { node { creator { subject } } } } }",
        subject="creator:ann",
        roles=["CREATOR"],
    )
    assert [e["node"]["creator"]["subject"] for e in seen_by_ann.data["payouts"]["edges"]] == [
        "creator:ann"
    ]
    not_hers = await graphql(
        "query($id: ID!) { payout(id: $id) { id } }",
        {"id": bob_payout},
        subject="creator:ann",
        roles=["CREATOR"],
    )
    assert not_hers.data == {"payout": None}

    everyone = await graphql(
        "{ payouts { edges { node { status } } } }", subject="finance:fay", roles=["FINANCE"]
    )
    assert sorted(e["node"]["status"] for e in everyone.data["payouts"]["edges"]) == [
        "APPROVED",
        "AWAITING_APPROVAL",
    ]
    waiting = await graphql(
        "{ payouts(status: AWAITING_APPROVAL) { edges { node { creator { subject } } } } }",
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert [e["node"]["creator"]["subject"] for e in waiting.data["payouts"]["edges"]] == [
        "creator:ann"
    ]
    by_creator = await graphql(
        '{ payouts(creator: "creator:bob", provider: "ledgerbank") { edges { node { id } } } }',
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert [e["node"]["id"] for e in by_creator.data["payouts"]["edges"]] == [bob_payout]


@pytest.mark.parametrize("creator", ["", "x" * 256, "creator:\u0000nul", "x" * 100_000])
async def test_a_finance_filter_by_a_bad_subject_is_bad_input_and_creates_nobody(
    graphql: Post, rig: Rig, sql: Any, creator: str
) -> None:
    await graphql("{ me { subject } }", subject="finance:fay", roles=["FINANCE"])
    before = await sql("SELECT count(*) FROM users")
    found = await graphql(
        "query($c: String!) { payouts(creator: $c) { edges { node { id } } } }",
        {"c": creator},
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert found.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "creator" in found.errors[0]["message"]
    assert await sql("SELECT count(*) FROM users") == before


async def test_a_finance_filter_by_an_unknown_creator_finds_nothing_and_creates_nobody(
    graphql: Post, rig: Rig, sql: Any
) -> None:
    await graphql("{ me { subject } }", subject="finance:fay", roles=["FINANCE"])
    before = await sql("SELECT count(*) FROM users")
    found = await graphql(
        '{ payouts(creator: "creator:nobody") { totalCount edges { node { id } } } }',
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert found.data["payouts"] == {"totalCount": 0, "edges": []}
    assert await sql("SELECT count(*) FROM users") == before


async def test_finance_approves_rejects_retries_and_resolves_over_http(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(300_000, subject="creator:ann")
    big = await payout_requested(graphql, "creator:ann", 120_000)
    approved = await graphql(DECIDE, {"id": big}, subject="finance:fay", roles=["FINANCE"])
    assert approved.data["approvePayout"] == {
        "payout": {"status": "APPROVED", "approvedBy": "finance:fay"},
        "errors": [],
    }
    again = await graphql(DECIDE, {"id": big}, subject="finance:fay", roles=["FINANCE"])
    assert again.data["approvePayout"]["errors"] == [{"code": "INVALID_STATUS"}]
    junk = await graphql(DECIDE, {"id": "junk"}, subject="finance:fay", roles=["FINANCE"])
    assert junk.data["approvePayout"]["errors"] == [{"code": "INVALID_ID"}]

    rig.bank.script = ["account_closed"]
    await Dispatcher(rig.svc).run_once()
    retried = await graphql(
        'mutation($id: ID!) { retryPayout(input: {payoutId: $id, reason: "account fixed"}) '
        "{ payout { status failureCode } errors { code } } }",
        {"id": big},
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert retried.data["retryPayout"] == {
        "payout": {"status": "APPROVED", "failureCode": None},
        "errors": [],
    }
    rig.bank.script = ["unknown-before"]
    await Dispatcher(rig.svc).run_once()
    resolved = await graphql(
        "mutation($id: ID!) { resolvePayout(input: {payoutId: $id, outcome: FAILED, "
        'reason: "confirmed with the bank"}) { payout { status } errors { code } } }',
        {"id": big},
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert resolved.data["resolvePayout"] == {"payout": {"status": "FAILED"}, "errors": []}
    await ledger_is_clean(rig.eco)


async def test_signed_webhooks_settle_payouts_and_tampered_ones_change_nothing(
    api: Any, graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(60_000, subject="creator:ann")
    made = await graphql(
        REQUEST, {"diamonds": 40_000, "key": "a"}, subject="creator:ann", roles=["CREATOR"]
    )
    payout_id = pk_of(made.data["requestPayout"]["payout"]["id"], "Payout")
    event = {"id": "evt_1", "state": "PAID", "payout": f"diamonds-payout-{payout_id}"}
    headers, body = signed(event)

    tampered = await api.post(
        "/webhooks/ledgerbank", data=body.replace(b"PAID", b"FAILED"), headers=headers
    )
    assert tampered.status == 400
    unknown = await api.post("/webhooks/nobody", data=body, headers=headers)
    assert unknown.status == 404

    for expected in ("applied", "duplicate"):
        delivered = await api.post("/webhooks/ledgerbank", data=body, headers=headers)
        assert delivered.status == 200
        assert (await delivered.json())["received"] == [{"event": "evt_1", "outcome": expected}]
    status = await graphql(
        "{ payouts { edges { node { status paidAt } } } }", subject="creator:ann", roles=["CREATOR"]
    )
    node = status.data["payouts"]["edges"][0]["node"]
    assert node["status"] == "PAID"
    assert node["paidAt"] is not None
    await ledger_is_clean(rig.eco)


DISCREPANCIES = """
{ payoutDiscrepancies(first: 10) {
    edges { node { id kind ourStatus providerState owedDiamonds message
                   payout { id status openDiscrepancies attempts { number outcome settledBy } } } }
} }
"""


async def test_finance_sees_a_discrepancy_over_http_and_acknowledges_it(
    graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]], api: Any
) -> None:
    """A payout the provider failed, retried, then paid under its first attempt after all."""
    await rich_creator(60_000, subject="creator:dee")
    sent = await graphql(
        REQUEST, {"diamonds": 40_000, "key": "k1"}, subject="creator:dee", roles=["CREATOR"]
    )
    payout_id = sent.data["requestPayout"]["payout"]["id"]
    first = f"diamonds-payout-{pk_of(payout_id, 'Payout')}"
    await Dispatcher(rig.svc).run_once()
    rig.bank.settled[first] = PayoutState.FAILED
    headers, body = signed({"id": "ev-f", "state": "FAILED", "payout": first})
    assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200
    no_reason = await graphql(
        'mutation($id: ID!) { retryPayout(input: {payoutId: $id, reason: ""}) '
        "{ errors { code field } } }",
        {"id": payout_id},
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert no_reason.data["retryPayout"]["errors"] == [
        {"code": "INVALID_REASON", "field": "reason"}
    ]
    retried = await graphql(
        'mutation($id: ID!) { retryPayout(input: {payoutId: $id, reason: "new email"}) '
        "{ payout { status attempts { number idempotencyKey outcome } } errors { code } } }",
        {"id": payout_id},
        subject="finance:fay",
        roles=["FINANCE"],
    )
    assert retried.data["retryPayout"]["payout"]["attempts"] == [
        {"number": 1, "idempotencyKey": first, "outcome": "FAILED"},
        {"number": 2, "idempotencyKey": f"{first}-2", "outcome": "NOT_SENT"},
    ]
    rig.bank.settled[first] = PayoutState.PAID
    headers, body = signed({"id": "ev-p", "state": "PAID", "payout": first})
    answer = await api.post("/webhooks/ledgerbank", data=body, headers=headers)
    assert (await answer.json())["received"] == [{"event": "ev-p", "outcome": "flagged"}]

    creator_view = await graphql(
        "{ payouts { edges { node { status discrepancies { kind } } } } }",
        subject="creator:dee",
        roles=["CREATOR"],
    )
    assert creator_view.data["payouts"]["edges"][0]["node"] == {
        "status": "PAID",
        "discrepancies": None,
    }
    refused = await graphql(DISCREPANCIES, subject="creator:dee", roles=["CREATOR"])
    assert refused.errors
    assert refused.errors[0]["extensions"]["code"] == "FORBIDDEN"
    seen = await graphql(DISCREPANCIES, subject="finance:fay", roles=["FINANCE"])
    [edge] = seen.data["payoutDiscrepancies"]["edges"]
    flagged = edge["node"]
    assert flagged["kind"] == "PAID_AFTER_FAILED"
    assert (flagged["ourStatus"], flagged["providerState"]) == ("APPROVED", "PAID")
    assert flagged["payout"]["status"] == "PAID"
    assert flagged["payout"]["openDiscrepancies"] == 1
    assert [a["outcome"] for a in flagged["payout"]["attempts"]] == ["PAID", "CANCELED"]

    ack = """mutation($id: ID!, $note: String!) {
      acknowledgePayoutDiscrepancy(input: {discrepancyId: $id, note: $note}) {
        discrepancy { acknowledgedBy note } errors { code } } }"""
    done = await graphql(
        ack, {"id": flagged["id"], "note": "checked"}, subject="finance:fay", roles=["FINANCE"]
    )
    assert done.data["acknowledgePayoutDiscrepancy"] == {
        "discrepancy": {"acknowledgedBy": "finance:fay", "note": "checked"},
        "errors": [],
    }
    again = await graphql(
        ack, {"id": flagged["id"], "note": "x"}, subject="finance:fay", roles=["FINANCE"]
    )
    assert again.data["acknowledgePayoutDiscrepancy"]["errors"] == [
        {"code": "ALREADY_ACKNOWLEDGED"}
    ]
    bad = await graphql(ack, {"id": "junk", "note": "x"}, subject="finance:fay", roles=["FINANCE"])
    assert bad.data["acknowledgePayoutDiscrepancy"]["errors"] == [{"code": "INVALID_ID"}]
    now_open = await graphql(DISCREPANCIES, subject="finance:fay", roles=["FINANCE"])
    assert now_open.data["payoutDiscrepancies"]["edges"] == []
    wallet = await graphql(
        "{ me { diamondWallet { balance available owed } } }",
        subject="creator:dee",
        roles=["CREATOR"],
    )
    assert wallet.data["me"]["diamondWallet"] == {"balance": 20_000, "available": 20_000, "owed": 0}
    await ledger_is_clean(rig.eco)


async def test_a_new_payout_is_announced_requested_then_at_its_next_status_with_its_amounts(
    api: TestClient[Any, Any],
    graphql: Post,
    rig: Rig,
    rich_creator: Callable[..., Awaitable[Any]],
    token_for: Callable[..., str],
) -> None:
    creator = await rich_creator(200_000, subject="creator:cat")
    rig.bank.fee = 30
    client = await connect(
        api.session, str(api.make_url("/graphql")), token_for("creator:cat", "CREATOR")
    )
    op = await client.subscribe(PAYOUT_UPDATES)
    await listening(rig.eco, payout_topic(creator.id))

    def request(diamonds: int, key: str) -> Awaitable[Any]:
        return graphql(
            REQUEST, {"diamonds": diamonds, "key": key}, subject="creator:cat", roles=["CREATOR"]
        )

    small = (await request(40_000, "small")).data["requestPayout"]["payout"]["id"]
    big = (await request(120_000, "big")).data["requestPayout"]["payout"]["id"]
    replayed = await request(40_000, "small")
    assert replayed.data["requestPayout"]["replayed"] is True
    refused = await request(900_000, "too-much")
    assert refused.data["requestPayout"]["errors"][0]["code"] == "INSUFFICIENT_DIAMONDS"

    def update(payout: str, status: str, diamonds: int) -> dict[str, Any]:
        gross = diamonds // 2
        return {
            "payoutId": payout,
            "status": status,
            "provider": "ledgerbank",
            "diamonds": diamonds,
            "currency": "USD",
            "gross": gross,
            "fee": 30,
            "withholding": 0,
            "net": gross - 30,
        }

    seen = [(await client.data_for(op))["payoutStatusChanged"] for _ in range(4)]
    assert seen == [
        update(small, "REQUESTED", 40_000),
        update(small, "APPROVED", 40_000),
        update(big, "REQUESTED", 120_000),
        update(big, "AWAITING_APPROVAL", 120_000),
    ]
    await client.nothing_for(op)  # the replay and the refusal announce nothing
    await client.ws.close()


async def test_the_creator_sees_roles_in_the_history_and_finance_and_admin_see_who(
    api: TestClient[Any, Any], graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(300_000, subject="creator:ann")
    big = await payout_requested(graphql, "creator:ann", 120_000)
    await graphql(DECIDE, {"id": big}, subject="finance:fay", roles=["FINANCE"])
    await Dispatcher(rig.svc).run_once()
    headers, body = signed(
        {"id": "evt_1", "state": "PAID", "payout": f"diamonds-payout-{pk_of(big, 'Payout')}"}
    )
    assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200

    async def seen_by(subject: str, role: str) -> tuple[str | None, list[tuple[str, str, str]]]:
        response = await graphql(
            "query($id: ID!) { payout(id: $id) { approvedBy "
            "history { toStatus actorRole actor } } }",
            {"id": big},
            subject=subject,
            roles=[role],
        )
        payout = response.data["payout"]
        steps = [(h["toStatus"], h["actorRole"], h["actor"]) for h in payout["history"]]
        return payout["approvedBy"], steps

    approver, steps = await seen_by("creator:ann", "CREATOR")
    assert approver == "finance"
    assert steps == [
        ("REQUESTED", "CREATOR", "creator:ann"),
        ("AWAITING_APPROVAL", "SYSTEM", "system"),
        ("APPROVED", "FINANCE", "finance"),
        ("SUBMITTED", "SYSTEM", "system"),
        ("PAID", "SYSTEM", "system"),
    ]
    for subject, role in (("finance:gil", "FINANCE"), ("admin:ada", "ADMIN")):
        approver, steps = await seen_by(subject, role)
        assert approver == "finance:fay"
        assert [(to, who) for to, _, who in steps if not who.startswith("worker:")] == [
            ("REQUESTED", "creator:ann"),
            ("AWAITING_APPROVAL", "policy"),
            ("APPROVED", "finance:fay"),
            ("PAID", "webhook:ledgerbank"),
        ]
        assert [r for _, r, _ in steps] == ["CREATOR", "SYSTEM", "FINANCE", "SYSTEM", "SYSTEM"]
        assert steps[3][2].startswith("worker:")
