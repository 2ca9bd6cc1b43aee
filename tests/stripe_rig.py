"""A payout pipeline wired to the fake Stripe server over real HTTP, for reconciliation tests:
the rig, and `pay`, which dispatches a creator's payout and settles it at the fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from diamonds_fakes.stripe_server import FakeStripe
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.users import User
from payouts.dispatch import Dispatcher
from payouts.requests import request_payout
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout
from providers.base import Payee
from providers.config import StripeConfig
from providers.registry import ProviderRegistry
from providers.retry import submit_with_retries
from providers.stripe import StripeProvider
from settings.payouts import PayoutPolicy

from .payout_fixtures import FAST_RETRIES, ScriptedGate


@dataclass
class StripeGate(ScriptedGate):
    account: str = ""

    async def payee(self, conn: AsyncConnection, **_: Any) -> Payee | None:
        return Payee("Cat Creator", "US", {"account_id": self.account})


@dataclass
class StripeRig:
    eco: Economy
    fake: FakeStripe
    svc: PayoutService

    def worker(self) -> Dispatcher:
        async def submit(provider: Any, instruction: Any) -> Any:
            return await submit_with_retries(provider, instruction, FAST_RETRIES)

        return Dispatcher(self.svc, name="w1", submit=submit)

    async def reload(self, payout: Payout) -> Payout:
        async with self.eco.db.read() as conn:
            found = await load_payout(conn, payout.id)
        assert found is not None
        return found


@pytest_asyncio.fixture
async def stripe_rig(economy: Economy) -> AsyncIterator[StripeRig]:
    async with FakeStripe() as fake:
        provider = StripeProvider(
            StripeConfig(api_key=fake.secret_key, api_base=fake.url, timeout_seconds=5.0)
        )
        registry = ProviderRegistry({}, discover=False)
        registry.register(provider)
        svc = PayoutService(
            eco=economy,
            gate=StripeGate(account=fake.create_account()),
            providers=registry,
            policy=PayoutPolicy(
                minimum_minor=100,
                daily_cap_minor=10**12,
                approval_threshold_minor=10**12,
                retry_base_seconds=0,
                lookup_after_seconds=0,
                max_dispatch_attempts=3,
                reconcile_daily=False,
            ),
            asking=FAST_RETRIES,
        )
        yield StripeRig(economy, fake, svc)
        await registry.close()


Pay = Callable[..., Awaitable[Payout]]


@pytest.fixture
def pay(stripe_rig: StripeRig, rich_creator: Any) -> Pay:
    """`await pay(n, settle="paid")`: a creator's payout dispatched to Stripe, then moved on at the
    fake to `settle` ("paid", "failed" or None to leave it pending) and looked up by the worker."""
    made = 0

    async def make(settle: str | None = "paid") -> Payout:
        nonlocal made
        made += 1
        creator: User = await rich_creator(4_000)
        requested = await request_payout(
            stripe_rig.svc,
            creator,
            diamonds=4_000,
            provider="stripe",
            currency="USD",
            key=f"recon-{made}",
        )
        worker = stripe_rig.worker()
        await worker.run_once()
        payout = await stripe_rig.reload(requested.payout)
        assert payout.status is PayoutStatus.SUBMITTED, payout
        assert payout.provider_reference is not None
        if settle == "paid":
            stripe_rig.fake.advance_payout(payout.provider_reference, "in_transit")
            stripe_rig.fake.advance_payout(payout.provider_reference, "paid")
        elif settle == "failed":
            stripe_rig.fake.advance_payout(
                payout.provider_reference, "failed", failure_code="account_closed"
            )
        if settle is not None:
            await worker.poll_pending()
        return await stripe_rig.reload(payout)

    return make
