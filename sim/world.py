"""The simulated world: the real economy and payout pipeline on a real database, the fake PayPal
and Stripe servers over real HTTP, and the actors whose every choice the one random source makes.
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
from sqlalchemy import select

from economy.app import Economy
from economy.catalog import Gift, list_gifts, put_gift
from economy.gifting import send_gift
from economy.grants import grant_coins
from economy.streams import start_stream
from economy.users import User
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
from providers.registry import ProviderRegistry
from providers.retry import RetryPolicy, submit_with_retries
from settings.payouts import PayoutPolicy
from sim.clock import QUANTUM, SimClock
from sim.dbfaults import ConnectionDropper, DroppedConnection
from sim.gate import SimGate
from sim.kill import KillPoint, NthRequest, run_until_killed
from sim.providers import TIMEOUT_SECONDS, SimPayPal, SimProvider, SimStripe

EVENT_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
"""Webhook event times are this plus the simulated time and the step: never the real clock."""

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


@dataclass
class World:
    rng: random.Random
    eco: Economy
    providers: list[SimProvider]
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
    sent: list[tuple[SimProvider, dict[str, Any]]] = field(default_factory=list)
    """Every webhook event delivered, for duplicates."""
    serial: int = 0
    workers_started: int = 1
    outage: SimProvider | None = None
    step: int = 0
    database_url: str = ""
    """Where a worker in a child process connects."""
    kills: int = 0
    """How many crashes may still kill a worker process (the others cancel its task)."""

    @classmethod
    async def build(
        cls, eco: Economy, seed: int, *, database_url: str = "", kills: int = 0
    ) -> World:
        rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
        sims: list[SimProvider] = [SimPayPal(), SimStripe()]
        registry = ProviderRegistry({}, discover=False)
        for sim in sims:
            registry.register(await sim.start())
        gate = SimGate({sim.slug: sim.payee for sim in sims})
        svc = PayoutService(eco=eco, gate=gate, providers=registry, policy=POLICY, asking=CALLS)
        admin = await eco.users.ensure("admin:sim")
        world = cls(
            rng=rng,
            eco=eco,
            providers=sims,
            svc=svc,
            gate=gate,
            clock=SimClock(eco.db),
            dropper=ConnectionDropper(eco.db),
            admin=admin,
            finance=await eco.users.ensure("finance:sim"),
            worker=new_dispatcher(svc, 1),
            database_url=database_url,
            kills=kills,
        )
        async with eco.db.write() as conn:
            for name, coins in (("Rose", 10), ("Heart", 150), ("Lion", 2_500), ("Castle", 9_000)):
                await put_gift(conn, f"sim {name}", coins)
        async with eco.db.read() as conn:
            world.gifts = [g for g in await list_gifts(conn) if g.name.startswith("sim ")]
        for _ in range(3):
            viewer = await world.new_viewer()
            await grant_coins(
                eco, admin, subject=viewer.subject, coins=200_000, reason="sim", key=world.key("g")
            )
        castle = max(world.gifts, key=lambda g: g.coins)
        for viewer in world.viewers:
            creator = await world.new_creator()
            await send_gift(
                eco,
                viewer,
                stream_id=world.streams[creator.id],
                gift_id=castle.id,
                quantity=10,
                key=world.key("gift"),
            )
        return world

    async def close(self) -> None:
        for sim in self.providers:
            await sim.close()

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

    def pick(self, options: list[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def now(self) -> datetime:
        """The time the simulation gives provider events: never the real clock."""
        return EVENT_EPOCH + self.clock.elapsed + timedelta(seconds=self.step)

    def collect(self) -> None:
        for sim in self.providers:
            sim.collect(self.now())

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
            key=self.key("g"),
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
        for _ in range(2 if self.rng.random() < 0.1 else 1):  # sometimes the client retries
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
        slug = self.pick(self.providers).slug
        async with self.eco.db.read() as conn:
            available = (await read_balance(conn, creator.diamond_account_id)).available
        if available < 2_000 or self.rng.random() < 0.1:
            diamonds = self.rng.choice([1_999, 2_000, 50_000])
        else:
            diamonds = self.rng.randint(2_000, min(available, 60_000))
        key = self.key("payout")
        made = None
        for _ in range(2 if self.rng.random() < 0.1 else 1):  # sometimes replayed
            again = await request_payout(
                self.svc, creator, diamonds=diamonds, provider=slug, currency="USD", key=key
            )
            assert made is None or again.payout.id == made.payout.id, "a replay paid out twice"
            made = again
        assert made is not None
        status = made.payout.status.value
        return f"{creator.subject} asked {slug} for {diamonds}: payout {made.payout.id} {status}"

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
                return "FINANCE: nothing to cancel"
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
        done = await resolve_payout(self.svc, self.finance, payout_id, outcome, "simulated")
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

    async def quiet_worker_round(self) -> str:
        handled = await self.worker.run_once()
        return f"worker {self.worker.name} round: {handled} handled"

    async def worker_polls(self) -> str:
        looked = await self.worker.poll_pending()
        return f"worker {self.worker.name} looked up {looked}"

    def end_round_faults(self) -> None:
        """A round's faults end with it; an outage of one provider's lookups lasts until over."""
        for sim in self.providers:
            sim.clear_faults()
            if sim is self.outage:
                for path in sim.read_paths:
                    sim.add_fault(
                        Fault(
                            FaultKind.SERVER_ERROR, method="GET", path=path, times=None, status=503
                        )
                    )

    def maybe_fault(self) -> str:
        """Perhaps a fault at one provider for this round's calls."""
        roll = self.rng.random()
        if roll < 0.45:
            return ""
        sim = self.pick(self.providers)
        name = sim.slug
        post = sim.write_path
        if roll < 0.6:
            times = self.rng.choice([1, 2, 3])
            sim.add_fault(
                Fault(FaultKind.RATE_LIMIT, method="POST", path=post, times=times, retry_after=0)
            )
            return f" ({name} 429 x{times})"
        if roll < 0.72:
            times = self.rng.choice([1, 2, 3])
            status = self.rng.choice([500, 502, 503])
            sim.add_fault(
                Fault(FaultKind.SERVER_ERROR, method="POST", path=post, times=times, status=status)
            )
            return f" ({name} {status} x{times})"
        if roll < 0.82:
            after = self.rng.random() < 0.7
            sim.add_fault(Fault(FaultKind.DROP, method="POST", path=post, after_effect=after))
            return f" ({name} connection dropped {'after' if after else 'before'} it took effect)"
        if roll < 0.9:
            after = self.rng.random() < 0.7
            hang = 2 * TIMEOUT_SECONDS
            sim.add_fault(
                Fault(FaultKind.TIMEOUT, method="POST", path=post, seconds=hang, after_effect=after)
            )
            return f" ({name} hangs {'after' if after else 'before'} it took effect)"
        path = self.pick(list(sim.read_paths))
        sim.add_fault(Fault(FaultKind.SERVER_ERROR, method="GET", path=path, times=2, status=503))
        return f" ({name} lookups 503 x2)"

    async def worker_crashes(self) -> str:
        """The worker dies mid-dispatch (its task canceled while the provider hangs on the
        request, its memory abandoned) and a fresh one starts."""
        in_flight = await self.payouts_in(PayoutStatus.APPROVED, PayoutStatus.UNKNOWN)
        if not in_flight:
            return "crash: nothing in flight"
        if self.kills > 0:
            self.kills -= 1
            return await self.worker_killed(len(in_flight))
        after = self.rng.random() < 0.7
        hangs = [
            sim.add_fault(
                Fault(
                    FaultKind.TIMEOUT,
                    method="POST",
                    path=sim.write_path,
                    seconds=30,
                    after_effect=after,
                )
            )
            for sim in self.providers
        ]
        written = [sim.written() for sim in self.providers]
        task = asyncio.create_task(self.worker.run_once())
        for _ in range(500):
            took = [sim.written() > n for sim, n in zip(self.providers, written, strict=True)]
            if task.done() or any(
                h.hits and (not after or t) for h, t in zip(hangs, took, strict=True)
            ):
                break
            await asyncio.sleep(0.01)
        crashed = not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self.end_round_faults()
        self.workers_started += 1
        self.worker = new_dispatcher(self.svc, self.workers_started)
        if not crashed:
            return "crash: the round ended before the hang"
        when = "after" if after else "before"
        return f"worker crashed mid-dispatch ({when} it took effect); {self.worker.name} started"

    async def worker_killed(self, in_flight: int) -> str:
        """The worker's round runs in a child process, killed (SIGKILL) while a provider holds
        the n-th payout request of the round (after or before it took effect); a fresh worker
        in this process takes over. Nothing of the child runs after the kill: no `finally`, no
        rollback sent, no lease given back, its connections cut. (n is at most the payouts in
        flight; one the lease or the backoff keeps back sends nothing, and the child ends.)"""
        nth = self.rng.randint(1, in_flight)
        point = KillPoint(nth, after_effect=self.rng.random() < 0.7)
        stripe = next(sim for sim in self.providers if isinstance(sim, SimStripe))
        for creator in self.creators:
            stripe.payee(creator.id)  # the child pays through the accounts made here
        for sim in self.providers:
            sim.add_fault(
                NthRequest(
                    FaultKind.TIMEOUT,
                    method="POST",
                    path=sim.write_path,
                    seconds=30,
                    after_effect=point.after_effect,
                    point=point,
                    written=sim.written,
                )
            )
        self.workers_started += 1
        config = {
            "database": self.database_url,
            "number": self.workers_started,
            "paypal": next(s for s in self.providers if isinstance(s, SimPayPal)).wiring(),
            "stripe": stripe.wiring(),
            "stripe_accounts": {str(user): acct for user, acct in stripe.accounts.items()},
            "blocked": sorted(self.gate.blocked),
        }
        try:
            ended = await run_until_killed(point, config)
        finally:
            self.end_round_faults()
        child = f"sim-worker-{self.workers_started}"
        self.workers_started += 1
        self.worker = new_dispatcher(self.svc, self.workers_started)
        if not ended.killed:
            return (
                f"kill: child {child} ended before payout request {nth} "
                f"({point.seen} seen, {ended.handled} handled); {self.worker.name} started"
            )
        when = "after" if point.after_effect else "before"
        return (
            f"worker process killed at payout request {nth} ({when} it took effect); "
            f"{self.worker.name} started"
        )

    async def provider_moves(self) -> str:
        sim: SimProvider = self.pick(self.providers)
        return sim.move(self.rng, self.now())

    async def webhook(self) -> str:
        sim = self.pick(self.providers)
        roll = self.rng.random()
        if roll < 0.55:
            current = sim.current_events(self.now())
            if not current:
                return f"{sim.slug} webhook: nothing to say"
            ref, event = self.pick(current)
            said = await self.deliver(sim, event)
            return f"{sim.slug} webhook {sim.kind(event)} for {ref}: {said}"
        if roll < 0.8:
            mine = [event for s, event in self.sent if s is sim]
            if not mine:
                return f"{sim.slug} webhook: none to redeliver"
            event = self.pick(mine)
            said = await self.deliver(sim, event)
            return f"{sim.slug} webhook redelivered ({sim.kind(event)}): {said}"
        old = sim.old_events()
        if not old:
            return f"{sim.slug} webhook: nothing sent yet"
        ref, event = self.pick(old)
        said = await self.deliver(sim, event)
        return f"{sim.slug} old webhook {sim.kind(event)} for {ref}: {said}"

    async def deliver(self, sim: SimProvider, event: dict[str, Any]) -> str:
        """Hand a signed delivery to the webhook path, as `/webhooks/{slug}` does."""
        self.sent.append((sim, json.loads(json.dumps(event))))
        headers, body = sim.signed(event)
        assert sim.provider is not None
        try:
            applied = await receive_webhook(self.svc, sim.provider, headers, body)
        except ProviderError as exc:
            return f"503 ({type(exc).__name__}: redelivered later)"
        return ", ".join(a.outcome for a in applied) or "nothing"

    async def lookups_outage(self) -> str:
        sim = self.pick(self.providers)
        self.outage = sim if self.outage is None else None
        self.end_round_faults()
        return f"{sim.slug} lookups down" if self.outage else "lookups back"

    async def time_passes(self) -> str:
        quanta = self.rng.choice([1, 1, 2, 4, 8])
        if self.rng.random() < 0.02:
            quanta = 28 * 24 * 4  # 28 days: past the last tenth of PayPal's 30-day window
        await self.clock.advance(quanta)
        return f"time passes: {quanta * 15} min"

    async def connection_drops(self) -> str:
        """The database connection drops at the n-th write of money or payout state in one of
        the other actors' steps, taken now."""
        nth = self.rng.randint(1, 4)
        self.dropper.arm(nth)
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
            self.dropper.disarm()
        where = self.dropper.dropped_at
        if where is None:
            return f"db connection kept (fewer than {nth} writes): {said}"
        return f"db connection dropped at write {nth} ('{where}'): {said}"


def new_dispatcher(svc: PayoutService, number: int) -> Dispatcher:
    async def submit(provider: Any, instruction: Any) -> Any:
        return await submit_with_retries(provider, instruction, CALLS)

    return Dispatcher(svc, name=f"sim-worker-{number}", submit=submit, debt_sweep=timedelta(0))
