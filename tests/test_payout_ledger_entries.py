"""A payout's ledger entries over the API, for FINANCE and ADMIN only: the hold of its request
and of each retry, the hold's posting or release, the cash legs and a return, as the ledger
booked them; and its creator's compliance profile beside them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from graph.global_ids import pk_of
from graph.server import create_app
from payouts.dispatch import Dispatcher
from providers.base import PayoutState

from .payout_fixtures import Rig, ledger_is_clean, signed

Post = Callable[..., Awaitable[Any]]
FINANCE = {"subject": "finance:fay", "roles": ["FINANCE"]}
CREATOR = "creator:ann"

REQUEST = """
mutation($diamonds: BigInt!, $key: String!) {
  requestPayout(input: {diamonds: $diamonds, provider: "ledgerbank", currency: "USD",
                        idempotencyKey: $key}) { payout { id } errors { code } }
}
"""

ENTRIES = """
query($id: ID!) {
  payout(id: $id) {
    id status gross fee withholding net creator { id }
    ledgerEntries {
      transactionId kind effect asset amount at
      debitAccount { owner name asset }
      creditAccount { owner name asset }
    }
  }
}
"""

WALLET = """
{ me { diamondWallet { transactions(first: 50) { edges { node { id relatedId } } } } } }
"""


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(rig.eco, rig.svc))) as client:
        yield client


async def requested(graphql: Post, diamonds: int, key: str) -> str:
    sent = await graphql(
        REQUEST, {"diamonds": diamonds, "key": key}, subject=CREATOR, roles=["CREATOR"]
    )
    assert sent.data["requestPayout"]["errors"] == [], sent.body
    payout_id: str = sent.data["requestPayout"]["payout"]["id"]
    return payout_id


async def provider_says(api: Any, rig: Rig, payout_id: str, state: PayoutState, n: str) -> None:
    reference = f"diamonds-payout-{pk_of(payout_id, 'Payout')}"
    rig.bank.settled[reference] = state
    headers, body = signed({"id": f"evt_{n}", "state": state.value, "payout": reference})
    assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200


async def entries(graphql: Post, payout_id: str) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The payout as FINANCE reads it, and its entries as (kind, effect, debit, credit, amount)
    with each account as `owner/name`."""
    seen = await graphql(ENTRIES, {"id": payout_id}, **FINANCE)
    assert seen.errors == [], seen.body
    payout = seen.data["payout"]
    rows = [
        (
            e["kind"],
            e["effect"],
            f"{e['debitAccount']['owner']}/{e['debitAccount']['name']}",
            f"{e['creditAccount']['owner']}/{e['creditAccount']['name']}",
            e["asset"],
            e["amount"],
        )
        for e in payout["ledgerEntries"]
    ]
    for e in payout["ledgerEntries"]:
        assert e["debitAccount"]["asset"] == e["creditAccount"]["asset"] == e["asset"]
        assert isinstance(e["amount"], int)
        assert e["at"]
    return payout, rows


def paid_legs(payout: dict[str, Any], user: str) -> list[tuple[Any, ...]]:
    return [
        (
            "PAYOUT_PAID",
            "TRANSFER",
            "platform/payout_funding",
            f"{user}/payouts_received",
            "USD",
            payout["net"],
        ),
        (
            "PAYOUT_PAID",
            "TRANSFER",
            "platform/payout_funding",
            "platform/withholding",
            "USD",
            payout["withholding"],
        ),
        (
            "PAYOUT_PAID",
            "TRANSFER",
            "platform/payout_funding",
            "platform/fees:ledgerbank",
            "USD",
            payout["fee"],
        ),
    ]


async def test_finance_reads_a_paid_payouts_entries_as_the_ledger_booked_them(
    api: Any, graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    rig.bank.fee = 30
    rig.gate.withholding_bps = 2400
    creator = await rich_creator(60_000, subject=CREATOR)
    user = f"user:{creator.id}"
    payout_id = await requested(graphql, 20_000, "p")
    payout, rows = await entries(graphql, payout_id)
    hold = (
        "PAYOUT_HOLD",
        "HOLD_PLACED",
        f"{user}/diamonds",
        "platform/diamonds_redeemed",
        "DIAMOND",
        20_000,
    )
    assert rows == [hold]

    await Dispatcher(rig.svc).run_once()
    await provider_says(api, rig, payout_id, PayoutState.PAID, "paid")
    payout, rows = await entries(graphql, payout_id)
    assert payout["status"] == "PAID"
    assert payout["fee"] == 30
    assert payout["withholding"] > 0
    posted = (
        "HOLD_POSTED",
        "TRANSFER",
        f"{user}/diamonds",
        "platform/diamonds_redeemed",
        "DIAMOND",
        20_000,
    )
    assert rows == [hold, posted, *paid_legs(payout, user)]
    assert payout["net"] + payout["fee"] + payout["withholding"] == payout["gross"]

    # The same transactions as the creator's own wallet history names for this payout.
    wallet = await graphql(WALLET, subject=CREATOR, roles=["CREATOR"])
    edges = wallet.data["me"]["diamondWallet"]["transactions"]["edges"]
    in_wallet = {e["node"]["id"] for e in edges if e["node"]["relatedId"] == payout_id}
    diamond_entries = [e for e in payout["ledgerEntries"] if e["asset"] == "DIAMOND"]
    assert {e["transactionId"] for e in diamond_entries} == in_wallet
    cash = {e["transactionId"] for e in payout["ledgerEntries"] if e["asset"] == "USD"}
    assert len(cash) == 1  # the three legs are one transaction

    admin = await graphql(ENTRIES, {"id": payout_id}, subject="admin:ada", roles=["ADMIN"])
    assert admin.errors == []
    assert admin.data["payout"]["ledgerEntries"] == payout["ledgerEntries"]
    await ledger_is_clean(rig.eco)


@pytest.mark.parametrize("roles", [["CREATOR"], ["VIEWER"]])
async def test_anyone_but_finance_and_admin_is_refused_the_entries_not_the_payout(
    graphql: Post, rich_creator: Callable[..., Awaitable[Any]], roles: list[str]
) -> None:
    await rich_creator(60_000, subject=CREATOR)
    payout_id = await requested(graphql, 20_000, "p")
    # The payout's own creator (signed in with `roles`) may read it, not its ledger entries.
    seen = await graphql(ENTRIES, {"id": payout_id}, subject=CREATOR, roles=roles)
    assert seen.data["payout"]["id"] == payout_id
    assert seen.data["payout"]["ledgerEntries"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in seen.errors] == [
        (["payout", "ledgerEntries"], "FORBIDDEN")
    ]


async def test_a_returned_payout_lists_the_return_and_a_canceled_one_the_release(
    api: Any, graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    creator = await rich_creator(60_000, subject=CREATOR)
    user = f"user:{creator.id}"
    returned_id = await requested(graphql, 10_000, "r")
    await Dispatcher(rig.svc).run_once()
    await provider_says(api, rig, returned_id, PayoutState.PAID, "paid")
    await provider_says(api, rig, returned_id, PayoutState.RETURNED, "returned")
    payout, rows = await entries(graphql, returned_id)
    assert payout["status"] == "RETURNED"
    legs = [leg for leg in paid_legs(payout, user) if leg[-1]]
    back = [
        ("PAYOUT_RETURNED", "TRANSFER", credit, debit, asset, amount)
        for _, _, debit, credit, asset, amount in legs
    ]
    diamonds = (f"{user}/diamonds", "platform/diamonds_redeemed", "DIAMOND", 10_000)
    assert rows == [
        ("PAYOUT_HOLD", "HOLD_PLACED", *diamonds),
        ("HOLD_POSTED", "TRANSFER", *diamonds),
        *legs,
        *back,
        (
            "PAYOUT_RETURNED",
            "TRANSFER",
            "platform/diamonds_redeemed",
            f"{user}/diamonds",
            "DIAMOND",
            10_000,
        ),
    ]

    canceled_id = await requested(graphql, 5_000, "c")
    canceled = await graphql(
        "mutation($id: ID!) { cancelPayout(input: {payoutId: $id}) { errors { code } } }",
        {"id": canceled_id},
        subject=CREATOR,
        roles=["CREATOR"],
    )
    assert canceled.data["cancelPayout"]["errors"] == []
    _, rows = await entries(graphql, canceled_id)
    held = (f"{user}/diamonds", "platform/diamonds_redeemed", "DIAMOND", 5_000)
    assert rows == [("PAYOUT_HOLD", "HOLD_PLACED", *held), ("HOLD_VOIDED", "HOLD_VOIDED", *held)]
    await ledger_is_clean(rig.eco)


async def test_a_retried_payout_lists_the_holds_of_every_attempt(
    api: Any, graphql: Post, rig: Rig, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    creator = await rich_creator(60_000, subject=CREATOR)
    user = f"user:{creator.id}"
    payout_id = await requested(graphql, 20_000, "p")
    await Dispatcher(rig.svc).run_once()
    await provider_says(api, rig, payout_id, PayoutState.FAILED, "failed")
    retried = await graphql(
        'mutation($id: ID!) { retryPayout(input: {payoutId: $id, reason: "new email"}) '
        "{ errors { code } } }",
        {"id": payout_id},
        **FINANCE,
    )
    assert retried.data["retryPayout"]["errors"] == []
    await Dispatcher(rig.svc).run_once()
    second = f"diamonds-payout-{pk_of(payout_id, 'Payout')}-2"
    rig.bank.settled[second] = PayoutState.PAID
    headers, body = signed({"id": "evt_2", "state": "PAID", "payout": second})
    assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200
    payout, rows = await entries(graphql, payout_id)
    assert payout["status"] == "PAID"
    diamonds = (f"{user}/diamonds", "platform/diamonds_redeemed", "DIAMOND", 20_000)
    assert rows == [
        ("PAYOUT_HOLD", "HOLD_PLACED", *diamonds),
        ("HOLD_VOIDED", "HOLD_VOIDED", *diamonds),
        ("PAYOUT_HOLD", "HOLD_PLACED", *diamonds),
        ("HOLD_POSTED", "TRANSFER", *diamonds),
        *[leg for leg in paid_legs(payout, user) if leg[-1]],
    ]
    await ledger_is_clean(rig.eco)


PROFILE = """
query($id: ID!) {
  payout(id: $id) {
    complianceProfile {
      identity { status } taxProfile { status } sanctionsStatus payoutMethods { provider status }
    }
  }
}
"""


async def test_finance_reads_the_creators_compliance_profile_on_the_payout(
    graphql: Post, rich_creator: Callable[..., Awaitable[Any]]
) -> None:
    await rich_creator(60_000, subject=CREATOR)
    payout_id = await requested(graphql, 20_000, "p")
    seen = await graphql(PROFILE, {"id": payout_id}, **FINANCE)
    assert seen.errors == []
    profile = seen.data["payout"]["complianceProfile"]
    assert profile["identity"]["status"] == "NOT_STARTED"
    assert profile["taxProfile"] is None
    assert profile["payoutMethods"] == []
    assert profile["sanctionsStatus"] is not None
    own = await graphql(PROFILE, {"id": payout_id}, subject=CREATOR, roles=["CREATOR"])
    assert own.errors == []
    assert own.data["payout"]["complianceProfile"]["sanctionsStatus"] is None
    admin = await graphql(PROFILE, {"id": payout_id}, subject="admin:ada", roles=["ADMIN"])
    assert admin.data["payout"]["complianceProfile"] is None
    assert [e["extensions"]["code"] for e in admin.errors] == ["FORBIDDEN"]
