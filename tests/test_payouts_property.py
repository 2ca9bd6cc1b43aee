"""A property-based test (hypothesis stateful) of money out: creators' payouts, the worker, the
provider's own moves, webhooks (current, repeated and old), FINANCE's resolutions and retries and
PayPal outages, interleaved at random against the fake PayPal server on both databases.

After every step: the provider never holds more than one successful payment for a payout, the
ledger books a payment only where the provider made one, and `ledger verify` is clean. At the end
of each run, once the news has settled, the money the provider paid is the money the ledger says
left. `DIAMONDS_PROPERTY_EXAMPLES` and `DIAMONDS_PROPERTY_STEPS` make a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import Counter
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.paypal_server import FakePayPal
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from economy.app import Economy
from economy.catalog import list_gifts, put_gift
from economy.gifting import send_gift
from economy.grants import grant_coins
from economy.streams import end_stream, start_stream
from economy.users import User
from kernel.errors import DomainError
from payouts.requests import request_payout
from payouts.review import resolve_payout, retry_payout
from payouts.states import PayoutStatus
from payouts.store import Payout
from providers.errors import ProviderError
from settings.service import Settings

from .paypal_rig import PayPalRig

T = TypeVar("T")

EXAMPLES = int(os.environ.get("DIAMONDS_PROPERTY_EXAMPLES", "12"))
STEPS = int(os.environ.get("DIAMONDS_PROPERTY_STEPS", "25"))

PROVIDER_MOVES = ("SUCCESS", "FAILED", "UNCLAIMED", "RETURNED")
EVENT_OF_STATUS = {
    "SUCCESS": "SUCCEEDED",
    "FAILED": "FAILED",
    "UNCLAIMED": "UNCLAIMED",
    "RETURNED": "RETURNED",
}
"""The webhook PayPal sent when an item reached a status: an old event is one of these."""

FIGURES: Counter[str] = Counter()
"""Runs, steps and actions taken, printed at the end (run with -s to see them)."""


def test_random_interleavings_never_pay_twice_and_keep_the_books_with_the_provider(
    settings: Settings,
) -> None:
    loop = asyncio.new_event_loop()

    def run(coroutine: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(coroutine)

    async def start() -> tuple[Economy, FakePayPal, PayPalRig, User, User]:
        eco = await Economy.start(settings)
        fake = FakePayPal()
        await fake.start()
        admin = await eco.users.ensure("admin:property")
        finance = await eco.users.ensure("finance:property")
        return eco, fake, PayPalRig.build(eco, fake), admin, finance

    eco, fake, pp, admin, finance = run(start())
    serial = iter(range(1, 1_000_000))

    async def rich_creator(diamonds: int) -> User:
        n = next(serial)
        creator = await eco.users.ensure(f"creator:p{n}")
        viewer = await eco.users.ensure(f"viewer:p{n}")
        await grant_coins(
            eco, admin, subject=viewer.subject, coins=diamonds, reason="fund", key=f"fund-{n}"
        )
        async with eco.db.write() as conn:
            await put_gift(conn, f"Chest {diamonds}", diamonds)
        async with eco.db.read() as conn:
            chest = next(g for g in await list_gifts(conn) if g.name == f"Chest {diamonds}")
        stream = await start_stream(eco, creator, "earning")
        await send_gift(eco, viewer, stream_id=stream.id, gift_id=chest.id, quantity=1, key="e")
        await end_stream(eco, creator, stream.id, may_end_any=False)
        return creator

    class MoneyOut(RuleBasedStateMachine):
        payouts = Bundle("payouts")

        def __init__(self) -> None:
            super().__init__()
            self.mine: list[tuple[User, Payout]] = []
            self.sent: list[dict[str, Any]] = []
            self.reached: dict[str, list[str]] = {}
            """The statuses each item has been in: PayPal only ever sent events of those."""
            FIGURES["runs"] += 1

        def act(self, name: str) -> None:
            FIGURES["steps"] += 1
            FIGURES[name] += 1

        @rule(target=payouts, diamonds=st.sampled_from([30_000, 40_000]))
        def request(self, diamonds: int) -> Payout:
            self.act("request")

            async def go() -> tuple[User, Payout]:
                creator = await rich_creator(60_000)
                made = await request_payout(
                    pp.svc, creator, diamonds=diamonds, provider="paypal", currency="USD", key="k"
                )
                return creator, made.payout

            creator, payout = run(go())
            self.mine.append((creator, payout))
            return payout

        @rule()
        def worker(self) -> None:
            self.act("worker")
            run(pp.worker().run_once())

        def items(self) -> list[Any]:
            return [item for _creator, payout in self.mine for item in pp.items_of(payout)]

        @precondition(lambda self: bool(self.items()))
        @rule(status=st.sampled_from(PROVIDER_MOVES), which=st.integers(0, 50))
        def provider_moves(self, status: str, which: int) -> None:
            """PayPal moves one of the items it holds on (pays it, fails it, returns it...)."""
            self.act("provider moves")
            items = self.items()
            item = items[which % len(items)]
            with contextlib.suppress(ValueError):
                fake.set_item_status(item.payout_item_id, status)
                self.reached.setdefault(item.payout_item_id, []).append(status)

        @precondition(lambda self: bool(self.items()))
        @rule(which=st.integers(0, 50))
        def webhook(self, which: int) -> None:
            """PayPal delivers the event of an item's current status."""
            items = [i for i in self.items() if i.status != "PENDING"]
            if not items:
                return
            self.act("webhook")
            self.deliver(fake.event_for_item(items[which % len(items)]))

        @precondition(lambda self: bool(self.reached))
        @rule(which=st.integers(0, 50))
        def old_webhook(self, which: int) -> None:
            """An event PayPal really sent earlier for an item, arriving late (out of order)."""
            past = [
                (item, status)
                for item in self.items()
                for status in self.reached.get(item.payout_item_id, [])
            ]
            if not past:
                return
            self.act("old webhook")
            item, status = past[which % len(past)]
            self.deliver(pp.old_event(item, EVENT_OF_STATUS[status], "2020-01-01T00:00:00.000Z"))

        @precondition(lambda self: bool(self.sent))
        @rule(index=st.integers(min_value=0, max_value=50))
        def redeliver(self, index: int) -> None:
            self.act("redelivered webhook")
            self.deliver(self.sent[index % len(self.sent)])

        def deliver(self, event: dict[str, Any]) -> None:
            self.sent.append(json.loads(json.dumps(event)))
            with contextlib.suppress(ProviderError):  # a 503: the provider redelivers later
                run(pp.deliver(event))

        @rule(
            payout=payouts,
            outcome=st.sampled_from(
                [PayoutStatus.FAILED, PayoutStatus.CANCELED, PayoutStatus.PAID]
            ),
        )
        def resolve(self, payout: Payout, outcome: PayoutStatus) -> None:
            self.act("FINANCE resolves")
            with contextlib.suppress(DomainError):
                run(resolve_payout(pp.svc, finance, payout.id, outcome, "stuck, checked"))

        @rule(payout=payouts)
        def retry(self, payout: Payout) -> None:
            self.act("FINANCE retries")
            with contextlib.suppress(DomainError):
                run(retry_payout(pp.svc, finance, payout.id, "try again"))

        @rule(down=st.booleans())
        def outage(self, down: bool) -> None:
            self.act("PayPal lookups down" if down else "PayPal lookups up")
            fake.faults.clear()
            if down:
                fake.add_fault(
                    Fault(
                        kind=FaultKind.SERVER_ERROR,
                        method="GET",
                        path="/v1/payments/payouts/",
                        times=None,
                        status=503,
                    )
                )

        @invariant()
        def never_paid_twice_and_the_books_follow_the_provider(self) -> None:
            for _creator, payout in self.mine:
                assert len(pp.paid_at_provider(payout)) <= 1, f"payout {payout.id} paid twice"
                now = run(pp.reload(payout))
                if now.status is PayoutStatus.PAID:
                    ever_paid = [
                        i for i in pp.items_of(payout) if i.status in ("SUCCESS", "RETURNED")
                    ]
                    assert ever_paid, f"payout {payout.id} is PAID but PayPal never paid it"
            run(pp.ledger_is_clean())

        def teardown(self) -> None:
            fake.faults.clear()
            for _ in range(2):
                for _creator, payout in self.mine:
                    run(pp.deliver_current(payout))
                run(pp.worker().run_once())
            for creator, payout in self.mine:
                where = f"payout {payout.id}"
                assert run(pp.minor_paid_by_ledger(creator)) == pp.minor_paid_at_provider(payout), (
                    where
                )
                paid = run(pp.reload(payout)).status is PayoutStatus.PAID
                assert paid == bool(pp.paid_at_provider(payout)), where
            run(pp.ledger_is_clean())

    try:
        run_state_machine_as_test(
            MoneyOut,
            settings=hypothesis_settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                derandomize=os.environ.get("DIAMONDS_PROPERTY_RANDOM") is None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        print(f"\npayout property test ({settings.database_url.split(':')[0]}): {dict(FIGURES)}")
        FIGURES.clear()

        async def stop() -> None:
            await pp.paypal.close()
            await fake.stop()
            await eco.close()

        run(stop())
        loop.close()


pytestmark = pytest.mark.slow
