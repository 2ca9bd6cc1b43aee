"""The dispatcher's concurrency on both databases: a round's payouts go to the provider at once,
and workers polling together look each submitted payout up once, never twice at the same time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from economy.users import User
from payouts.dispatch import Dispatcher
from payouts.requests import request_payout
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout
from providers.base import PayoutInstruction, PayoutResult, PayoutState
from providers.retry import submit_with_retries

from .payout_fixtures import FAST_RETRIES, LedgerBank, Rig, ledger_is_clean


@dataclass
class SlowBank(LedgerBank):
    """A LedgerBank that takes a while to answer, counting the calls in flight at once; its
    lookups say PENDING until `settle` is set."""

    delay: float = 0.05
    in_flight: int = 0
    most_in_flight: int = 0
    lookups: int = 0
    settle: bool = False

    async def _slowly(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        await self._slowly()
        return await super().submit(instruction)

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        self.lookups += 1
        await self._slowly()
        if not self.settle:
            return PayoutResult(payout_id, PayoutState.PENDING, provider_reference)
        return await super().lookup(payout_id, provider_reference)


def worker(rig: Rig, name: str) -> Dispatcher:
    async def submit(provider: Any, instruction: Any) -> Any:
        return await submit_with_retries(provider, instruction, FAST_RETRIES)

    return Dispatcher(rig.svc, name=name, submit=submit)


async def requested(rig: Rig, creators: list[User]) -> list[Payout]:
    return [
        (
            await request_payout(
                rig.svc, c, diamonds=20_000, provider="ledgerbank", currency="USD", key="k"
            )
        ).payout
        for c in creators
    ]


async def statuses(rig: Rig, wanted: list[Payout]) -> set[PayoutStatus]:
    async with rig.eco.db.read() as conn:
        found = [await load_payout(conn, p.id) for p in wanted]
    return {p.status for p in found if p is not None}


async def test_a_round_sends_its_claimed_payouts_concurrently(rig: Rig, rich_creator: Any) -> None:
    bank = SlowBank()
    rig.svc.providers.register(bank, replace=True)
    creators = [await rich_creator(30_000) for _ in range(5)]
    wanted = await requested(rig, creators)
    rig.svc.policy = replace(rig.svc.policy, lookup_after_seconds=3_600)
    await worker(rig, "w").run_once()
    assert await statuses(rig, wanted) == {PayoutStatus.SUBMITTED}
    assert bank.submits == len(wanted)
    assert bank.most_in_flight == len(wanted)  # one after another, it would be 1
    await ledger_is_clean(rig.eco)


async def test_workers_polling_together_look_each_payout_up_once(
    rig: Rig, rich_creator: Any
) -> None:
    bank = SlowBank()
    rig.svc.providers.register(bank, replace=True)
    creators = [await rich_creator(30_000) for _ in range(4)]
    wanted = await requested(rig, creators)
    rig.svc.policy = replace(rig.svc.policy, lookup_after_seconds=3_600)
    await worker(rig, "first").run_once()
    assert await statuses(rig, wanted) == {PayoutStatus.SUBMITTED}

    rig.svc.policy = replace(rig.svc.policy, lookup_after_seconds=0)
    a, b = worker(rig, "a"), worker(rig, "b")
    await asyncio.gather(a.poll_pending(), b.poll_pending())
    assert bank.lookups == len(wanted)  # without the lookup lease, both workers ask about each
    assert bank.most_in_flight == len(wanted)

    # A lookup that found the payout still pending releases its lease: the next round asks
    # again; once the bank has paid, one lookup each settles them.
    bank.settle = True
    await asyncio.gather(a.poll_pending(), b.poll_pending())
    assert bank.lookups == 2 * len(wanted)
    assert await statuses(rig, wanted) == {PayoutStatus.PAID}
    assert bank.payments_to("") == len(wanted)
    await ledger_is_clean(rig.eco)
