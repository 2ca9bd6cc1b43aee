"""Migration 0008 on both databases: the ledger transactions booked before payouts linked them
(each payout's request, and every transaction whose details name a payout: its retries' holds,
releases, postings and cash legs) are linked to their payout, as the code links them now.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from graph.global_ids import pk_of
from graph.server import create_app
from payouts.dispatch import Dispatcher
from payouts.tables import payout_transactions
from providers.base import PayoutState

from .payout_fixtures import Rig, signed
from .test_migration_payee_fields import migrate_to

Post = Callable[..., Awaitable[Any]]
REQUEST = """
mutation($diamonds: BigInt!, $key: String!) {
  requestPayout(input: {diamonds: $diamonds, provider: "ledgerbank", currency: "USD",
                        idempotencyKey: $key}) { payout { id } errors { code } }
}
"""


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(rig.eco, rig.svc))) as client:
        yield client


async def test_the_backfill_links_what_was_booked_as_the_code_does(
    api: Any,
    graphql: Post,
    rig: Rig,
    rich_creator: Callable[..., Awaitable[Any]],
    database_url: str,
) -> None:
    await rich_creator(60_000, subject="creator:ann")

    async def requested(key: str, diamonds: int) -> str:
        sent = await graphql(
            REQUEST, {"diamonds": diamonds, "key": key}, subject="creator:ann", roles=["CREATOR"]
        )
        payout_id: str = sent.data["requestPayout"]["payout"]["id"]
        return payout_id

    retried = await requested("retried", 20_000)
    await Dispatcher(rig.svc).run_once()
    reference = f"diamonds-payout-{pk_of(retried, 'Payout')}"
    for n, (ref, state) in enumerate(
        ((reference, PayoutState.FAILED), (f"{reference}-2", PayoutState.PAID))
    ):
        if n:
            answer = await graphql(
                'mutation($id: ID!) { retryPayout(input: {payoutId: $id, reason: "fixed"}) '
                "{ errors { code } } }",
                {"id": retried},
                subject="finance:fay",
                roles=["FINANCE"],
            )
            assert answer.data["retryPayout"]["errors"] == []
            await Dispatcher(rig.svc).run_once()
        rig.bank.settled[ref] = state
        headers, body = signed({"id": f"evt_{n}", "state": state.value, "payout": ref})
        assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200
    canceled = await requested("canceled", 5_000)
    answer = await graphql(
        "mutation($id: ID!) { cancelPayout(input: {payoutId: $id}) { errors { code } } }",
        {"id": canceled},
        subject="creator:ann",
        roles=["CREATOR"],
    )
    assert answer.data["cancelPayout"]["errors"] == []

    async def links() -> list[tuple[int, int]]:
        async with rig.eco.db.read() as conn:
            rows = await conn.execute(
                select(
                    payout_transactions.c.payout_id, payout_transactions.c.transaction_id
                ).order_by(payout_transactions.c.transaction_id)
            )
            return [(int(p), int(t)) for p, t in rows]

    linked = await links()
    by_payout = {
        pk_of(i, "Payout"): sum(1 for p, _ in linked if p == pk_of(i, "Payout"))
        for i in (retried, canceled)
    }
    # Request, release, the retry's hold, its posting, the cash legs; request and release.
    assert by_payout == {pk_of(retried, "Payout"): 5, pk_of(canceled, "Payout"): 2}

    migrate_to(database_url, "0007", down=True)
    migrate_to(database_url, "head")
    assert await links() == linked
