"""The simulated world: the real economy and payout pipeline on a real database, the fake PayPal
server over real HTTP, and the actors whose every choice the simulation's one random source makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.paypal_server import FakeItem, FakePayPal
from sqlalchemy import select

from economy.app import Economy
from economy.catalog import Gift, list_gifts, put_gift
from economy.gifting import send_gift
from economy.grants import grant_coins
from economy.streams import start_stream
from economy.users import User
from kernel.errors import DomainError
from ledger.accounts import read_balance
from payouts.dispatch import Dispatcher
from payouts.requests import request_payout
from payouts.review import (
    approve_payout,
    cancel_payout,
    reject_payout,
    resolve_payout,
    retry_payout,
)
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.tables import payouts
from payouts.webhooks import receive_webhook
from providers.errors import ProviderError
from providers.paypal import PayPalConfig, PayPalProvider
from providers.registry import ProviderRegistry
from providers.retry import RetryPolicy, submit_with_retries
from settings.payouts import PayoutPolicy
from sim.clock import QUANTUM, SimClock
from sim.dbfaults import STATEMENTS, ConnectionDropper, DroppedConnection
from sim.gate import SimGate
from sim.invariants import items_by_payout

PAYOUTS = "/v1/payments/payouts"
"""PayPal's batch endpoint: POST creates a payout, GET under it looks one up."""

EVENT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
"""Webhook event times are this plus the simulated time and the step: never the real clock."""

PROVIDER_TIMEOUT_SECONDS = 0.5
"""The PayPal client's bound on one exchange: a hang past it is an unknown outcome."""

QUANTUM_SECONDS = int(QUANTUM.total_seconds())

POLICY = PayoutPolicy(
    minimum_minor=1_000,
    daily_cap_minor=10**12,
    approval_threshold_minor=15_000,
    lease_seconds=2 * QUANTUM_SECONDS,
    retry_base_seconds=QUANTUM_SECONDS,
    retry_max_seconds=8 * QUANTUM_SECONDS,
    max_dispatch_attempts=4,
    lookup_after_seconds=QUANTUM_SECONDS,
    reconcile_daily=False,
)
"""Every period is a whole number of clock quanta (see `sim.clock`)."""

CALLS = RetryPolicy(
    max_attempts=2,
    max_total_seconds=5,
    initial_backoff_seconds=0,
    max_backoff_seconds=0,
    jitter_seconds=0,
)
"""Retries inside one provider call: quick, and without jitter (nothing random but the seed)."""

PROVIDER_MOVES = ("SUCCESS", "SUCCESS", "FAILED", "UNCLAIMED", "RETURNED", "ONHOLD", "PENDING")
EVENT_OF_STATUS = {
    "SUCCESS": "SUCCEEDED",
    "FAILED": "FAILED",
    "UNCLAIMED": "UNCLAIMED",
    "RETURNED": "RETURNED",
}


@dataclass
class World:
    rng: random.Random
    eco: Economy
    fake: FakePayPal
    paypal: PayPalProvider
    svc: PayoutService
    gate: SimGate
    clock: SimClock
    dropper: ConnectionDropper
    admin: User
    finance: User
    worker: Dispatcher
    viewers: list[User] = field(default_factory=list)
    creators: list[User] = field(default_factory=list)
    streams: dict[int, int] = field(default_factory=dict)
    """A creator's live stream, by creator id."""
    gifts: list[Gift] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    """Every webhook event delivered, for duplicates."""
    reached: list[tuple[FakeItem, str]] = field(default_factory=list)
    """Every status an item reached, for late (out of order) events of it."""
    serial: int = 0
    workers_started: int = 1
    outage: bool = False
    step: int = 0

    @classmethod
    async def build(cls, eco: Economy, seed: int) -> World:
        rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
        fake = FakePayPal()
        await fake.start()
        paypal = PayPalProvider(
            PayPalConfig(
                client_id=fake.settings.client_id,
                client_secret=fake.settings.client_secret,
                api_base=fake.url,
                webhook_id=fake.settings.webhook_id,
                cert_hosts=("http://127.0.0.1",),
                timeout_seconds=PROVIDER_TIMEOUT_SECONDS,
            )
        )
        registry = ProviderRegistry({}, discover=False)
        registry.register(paypal)
        gate = SimGate()
        svc = PayoutService(eco=eco, gate=gate, providers=registry, policy=POLICY, asking=CALLS)
        admin = await eco.users.ensure("admin:sim")
        finance = await eco.users.ensure("finance:sim")
        world = cls(
            rng=rng,
            eco=eco,
            fake=fake,
            paypal=paypal,
            svc=svc,
            gate=gate,
            clock=SimClock(eco.db),
            dropper=ConnectionDropper(eco.db),
            admin=admin,
            finance=finance,
            worker=_dispatcher(svc, 1),
        )
        async with eco.db.write() as conn:
            for name, coins in (("Rose", 10), ("Heart", 150), ("Lion", 2_500), ("Castle", 9_000)):
                await put_gift(conn, f"sim {name}", coins)
        async with eco.db.read() as conn:
            world.gifts = [g for g in await list_gifts(conn) if g.name.startswith("sim ")]
        for _ in range(3):
            viewer = await world.new_viewer()
            await grant_coins(
                eco,
                admin,
                subject=viewer.subject,
                coins=50_000,
                reason="sim",
                key=world.key("grant"),
            )
            await world.new_creator()
        return world

    async def close(self) -> None:
        self.fake.faults.clear()
        await self.paypal.close()
        await self.fake.stop()

    # -- helpers ----------------------------------------------------------------------------

    def key(self, what: str) -> str:
        self.serial += 1
        return f"sim-{what}-{self.serial}"

    async def new_viewer(self) -> User:
        viewer = await self.eco.users.ensure(f"viewer:sim{len(self.viewers) + 1}")
        self.viewers.append(viewer)
        return viewer

    async def new_creator(self) -> User:
        creator = await self.eco.users.ensure(f"creator:sim{len(self.creators) + 1}")
        self.creators.append(creator)
        stream = await start_stream(self.eco, creator, "simulated")
        self.streams[creator.id] = stream.id
        return creator

    async def payouts_in(self, *statuses: PayoutStatus) -> list[int]:
        async with self.eco.db.read() as conn:
            query = select(payouts.c.id).order_by(payouts.c.id)
            if statuses:
                query = query.where(payouts.c.status.in_([s.value for s in statuses]))
            return [int(i) for i in (await conn.scalars(query)).all()]

    def items(self) -> list[FakeItem]:
        """The fake's items of our payouts, in a stable order (by payout, then attempt)."""
        return [i for _, found in sorted(items_by_payout(self.fake).items()) for i in found]

    def pick(self, options: list[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def event_time(self) -> str:
        moment = EVENT_EPOCH + self.clock.elapsed + timedelta(seconds=self.step)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    # -- the actors -------------------------------------------------------------------------

    async def viewer_buys_coins(self) -> str:
        if self.rng.random() < 0.1:
            await self.new_viewer()
        viewer = self.pick(self.viewers)
        coins = self.rng.choice([100, 1_000, 20_000, 50_000])
        await grant_coins(
            self.eco,
            self.admin,
            subject=viewer.subject,
            coins=coins,
            reason="sim",
            key=self.key("grant"),
        )
        return f"{viewer.subject} granted {coins} coins"

    async def viewer_sends_gift(self) -> str:
        if self.rng.random() < 0.05:
            await self.new_creator()
        viewer = self.pick(self.viewers)
        creator = self.pick(self.creators)
        gift = self.pick(self.gifts)
        quantity = self.rng.choice([1, 1, 2, 5])
        key = self.key("gift")
        await send_gift(
            self.eco,
            viewer,
            stream_id=self.streams[creator.id],
            gift_id=gift.id,
            quantity=quantity,
            key=key,
        )
        if self.rng.random() < 0.1:  # the client retries the same request
            await send_gift(
                self.eco,
                viewer,
                stream_id=self.streams[creator.id],
                gift_id=gift.id,
                quantity=quantity,
                key=key,
            )
        return f"{viewer.subject} sent {quantity} x {gift.name} to {creator.subject}"

    async def creator_requests_payout(self) -> str:
        creator = self.pick(self.creators)
        async with self.eco.db.read() as conn:
            available = (await read_balance(conn, creator.diamond_account_id)).available
        if available < 2_000 or self.rng.random() < 0.1:
            diamonds = self.rng.choice([1_999, 2_000, 50_000])
        else:
            diamonds = self.rng.randint(2_000, min(available, 60_000))
        key = self.key("payout")
        made = await request_payout(
            self.svc, creator, diamonds=diamonds, provider="paypal", currency="USD", key=key
        )
        if self.rng.random() < 0.1:
            again = await request_payout(
                self.svc, creator, diamonds=diamonds, provider="paypal", currency="USD", key=key
            )
            assert again.payout.id == made.payout.id, "a replayed request made a second payout"
        status = made.payout.status.value
        return f"{creator.subject} requested payout {made.payout.id} of {diamonds}: {status}"

    async def finance_acts(self) -> str:
        choice = self.rng.random()
        if choice < 0.3:
            waiting = await self.payouts_in(PayoutStatus.AWAITING_APPROVAL, PayoutStatus.ON_HOLD)
            if not waiting:
                return "FINANCE: nothing to approve"
            payout_id = self.pick(waiting)
            done = await approve_payout(self.svc, self.finance, payout_id)
            return f"FINANCE approved {payout_id}: {done.status.value}"
        if choice < 0.4:
            waiting = await self.payouts_in(
                PayoutStatus.AWAITING_APPROVAL, PayoutStatus.ON_HOLD, PayoutStatus.REQUESTED
            )
            if not waiting:
                return "FINANCE: nothing to reject"
            payout_id = self.pick(waiting)
            done = await reject_payout(self.svc, self.finance, payout_id, "simulated rejection")
            return f"FINANCE rejected {payout_id}: {done.status.value}"
        if choice < 0.5:
            every = await self.payouts_in()
            if not every:
                return "cancel: no payouts"
            payout_id = self.pick(every)
            done = await cancel_payout(self.svc, self.finance, payout_id, on_behalf=True)
            return f"FINANCE canceled {payout_id}: {done.status.value}"
        if choice < 0.75:
            failed = await self.payouts_in(PayoutStatus.FAILED)
            if not failed:
                return "FINANCE: nothing to retry"
            payout_id = self.pick(failed)
            done = await retry_payout(self.svc, self.finance, payout_id, "simulated retry")
            return f"FINANCE retried {payout_id}: {done.status.value}"
        stuck = await self.payouts_in(PayoutStatus.UNKNOWN, PayoutStatus.SUBMITTED)
        if not stuck:
            return "FINANCE: nothing to resolve"
        payout_id = self.pick(stuck)
        outcome = self.rng.choice([PayoutStatus.FAILED, PayoutStatus.CANCELED, PayoutStatus.PAID])
        done = await resolve_payout(
            self.svc, self.finance, payout_id, outcome, "simulated resolution"
        )
        return f"FINANCE resolved {payout_id} as {outcome.value}: {done.status.value}"

    async def compliance_changes(self) -> str:
        creator = self.pick(self.creators)
        if creator.id in self.gate.blocked:
            self.gate.blocked.discard(creator.id)
            return f"gate: {creator.subject} cleared"
        self.gate.blocked.add(creator.id)
        return f"gate: {creator.subject} blocked"

    async def worker_round(self) -> str:
        fault = self.maybe_fault()
        try:
            handled = await self.worker.run_once()
        finally:
            self.end_round_faults()
        return f"worker {self.worker.name} round: {handled} handled{fault}"

    def end_round_faults(self) -> None:
        """A round's faults end with it; an outage of the lookups lasts until it is over."""
        self.fake.faults.clear()
        if self.outage:
            self.fake.add_fault(
                Fault(
                    kind=FaultKind.SERVER_ERROR, method="GET", path=PAYOUTS, times=None, status=503
                )
            )

    async def worker_round_without_faults(self) -> str:
        handled = await self.worker.run_once()
        return f"worker {self.worker.name} round: {handled} handled"

    async def worker_polls(self) -> str:
        looked = await self.worker.poll_pending()
        return f"worker {self.worker.name} looked up {looked}"

    def maybe_fault(self) -> str:
        """Perhaps a fault for this round's calls to PayPal."""
        roll = self.rng.random()
        if roll < 0.45:
            return ""
        if roll < 0.6:
            times = self.rng.choice([1, 2, 3])
            self.fake.add_fault(
                Fault(
                    kind=FaultKind.RATE_LIMIT,
                    method="POST",
                    path=PAYOUTS,
                    times=times,
                    retry_after=0,
                )
            )
            return f" (429 x{times})"
        if roll < 0.72:
            times = self.rng.choice([1, 2, 3])
            status = self.rng.choice([500, 502, 503])
            self.fake.add_fault(
                Fault(
                    kind=FaultKind.SERVER_ERROR,
                    method="POST",
                    path=PAYOUTS,
                    times=times,
                    status=status,
                )
            )
            return f" ({status} x{times})"
        if roll < 0.82:
            after = self.rng.random() < 0.7
            self.fake.add_fault(
                Fault(kind=FaultKind.DROP, method="POST", path=PAYOUTS, after_effect=after)
            )
            return f" (connection dropped {'after' if after else 'before'} the request took effect)"
        if roll < 0.9:
            after = self.rng.random() < 0.7
            self.fake.add_fault(
                Fault(
                    kind=FaultKind.TIMEOUT,
                    method="POST",
                    path=PAYOUTS,
                    seconds=2 * PROVIDER_TIMEOUT_SECONDS,
                    after_effect=after,
                )
            )
            return f" (hang {'after' if after else 'before'} the request took effect)"
        self.fake.add_fault(
            Fault(kind=FaultKind.SERVER_ERROR, method="GET", path=PAYOUTS, times=2, status=503)
        )
        return " (lookups 503 x2)"

    async def worker_crashes(self) -> str:
        """The worker dies mid-dispatch (its task canceled while PayPal hangs on the request, its
        memory abandoned) and a fresh one starts."""
        if not await self.payouts_in(PayoutStatus.APPROVED, PayoutStatus.UNKNOWN):
            return "crash: nothing in flight"
        after = self.rng.random() < 0.7
        fault = self.fake.add_fault(
            Fault(
                kind=FaultKind.TIMEOUT, method="POST", path=PAYOUTS, seconds=30, after_effect=after
            )
        )
        batches = len(self.fake.batches)
        task = asyncio.create_task(self.worker.run_once())
        for _ in range(400):
            if task.done() or (fault.hits and (not after or len(self.fake.batches) > batches)):
                break
            await asyncio.sleep(0.01)
        crashed = not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self.end_round_faults()
        self.workers_started += 1
        self.worker = _dispatcher(self.svc, self.workers_started)
        if not crashed:
            return "crash: the round ended before the hang"
        when = "after" if after else "before"
        return f"worker crashed mid-dispatch ({when} PayPal took it); {self.worker.name} started"

    async def provider_moves(self) -> str:
        items = self.items()
        if not items:
            return "PayPal: nothing to move"
        item = self.pick(items)
        status = self.rng.choice(PROVIDER_MOVES)
        ours = _label(item)
        try:
            self.fake.set_item_status(item.payout_item_id, status)
        except ValueError:
            return f"PayPal: {ours} stays {item.status} (not {status})"
        if status in EVENT_OF_STATUS:
            self.reached.append((item, status))
        return f"PayPal moved {ours} to {status}"

    async def webhook(self) -> str:
        roll = self.rng.random()
        if roll < 0.55:
            moved = [i for i in self.items() if i.status != "PENDING"]
            if not moved:
                return "webhook: nothing to say"
            item = self.pick(moved)
            event = self.fake.event_for_item(item)
            event["create_time"] = self.event_time()
            said = await self.deliver(event)
            return f"webhook {_kind(event)} for {_label(item)}: {said}"
        if roll < 0.8 and self.sent:
            event = self.pick(self.sent)
            said = await self.deliver(event)
            return f"webhook redelivered ({_kind(event)}): {said}"
        if self.reached:
            item, status = self.pick(self.reached)
            event = self.fake.event_for_item(item, EVENT_OF_STATUS[status])
            event["create_time"] = "2024-06-01T00:00:00.000Z"
            said = await self.deliver(event)
            return f"old webhook {EVENT_OF_STATUS[status]} for {_label(item)}: {said}"
        return "webhook: nothing sent yet"

    async def deliver(self, event: dict[str, Any]) -> str:
        self.sent.append(json.loads(json.dumps(event)))
        body = json.dumps(event).encode()
        try:
            applied = await receive_webhook(self.svc, self.paypal, self.fake.sign(body), body)
        except ProviderError as exc:
            return f"503 ({type(exc).__name__}: PayPal redelivers)"
        return ", ".join(a.outcome for a in applied) or "nothing"

    async def lookups_outage(self) -> str:
        self.outage = self.rng.random() < 0.5
        self.end_round_faults()
        return "PayPal lookups down" if self.outage else "PayPal lookups back"

    async def time_passes(self) -> str:
        quanta = self.rng.choice([1, 1, 2, 4, 8])
        if self.rng.random() < 0.02:
            quanta = 28 * 24 * 4  # 28 days: past the last tenth of PayPal's 30-day window
        await self.clock.advance(quanta)
        return f"time passes: {quanta * 15} min"

    async def connection_drops(self) -> str:
        """The next write that reaches the chosen statement loses its connection, in one of the
        other actors' steps taken now."""
        statement = self.rng.choice(STATEMENTS)
        self.dropper.arm(statement)
        action = self.rng.choice(
            [
                self.worker_round,
                self.webhook,
                self.finance_acts,
                self.creator_requests_payout,
                self.viewer_sends_gift,
            ]
        )
        try:
            said = await action()
        except DroppedConnection:
            said = "the transaction was lost"
        finally:
            armed = self.dropper.armed
            self.dropper.disarm()
        hit = "not reached" if armed else "dropped"
        return f"db connection at '{statement}' {hit}: {said}"


def _dispatcher(svc: PayoutService, number: int) -> Dispatcher:
    async def submit(provider: Any, instruction: Any) -> Any:
        return await submit_with_retries(provider, instruction, CALLS)

    return Dispatcher(svc, name=f"sim-worker-{number}", submit=submit, debt_sweep=timedelta(0))


def _kind(event: dict[str, Any]) -> str:
    return str(event["event_type"]).rsplit(".", 1)[-1]


def _label(item: FakeItem) -> str:
    return f"item {item.sender_batch_id}"


async def quietly(coroutine: Any) -> str:
    """A business refusal is an answer, not a failure: it is traced by its code."""
    try:
        result: str = await coroutine
    except DomainError as exc:
        return f"refused {exc.code}"
    return result
