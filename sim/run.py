"""One simulation run: build the world on a migrated, empty database, take `steps` steps chosen by
the seed, check every invariant after each, then let the news settle and check the money agrees.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from economy.app import Economy
from kernel.errors import DomainError
from settings.service import Settings
from sim.dbfaults import DroppedConnection
from sim.invariants import violations
from sim.world import World

SIM_JWT_SECRET = "diamonds-simulation-secret-0123456789abcdefghijklmnop"  # noqa: S105
"""The settings need one; the simulation mints no tokens."""

Actor = Callable[[World], Callable[[], Awaitable[str]]]

ACTORS: tuple[tuple[str, int, Actor], ...] = (
    ("grant", 5, lambda w: w.viewer_buys_coins),
    ("gift", 10, lambda w: w.viewer_sends_gift),
    ("request", 14, lambda w: w.creator_requests_payout),
    ("finance", 10, lambda w: w.finance_acts),
    ("gate", 1, lambda w: w.compliance_changes),
    ("worker", 14, lambda w: w.worker_round),
    ("poll", 4, lambda w: w.worker_polls),
    ("provider", 18, lambda w: w.provider_moves),
    ("webhook", 16, lambda w: w.webhook),
    ("outage", 2, lambda w: w.lookups_outage),
    ("clock", 8, lambda w: w.time_passes),
    ("crash", 4, lambda w: w.worker_crashes),
    ("db-drop", 6, lambda w: w.connection_drops),
)
"""Who may act next, with the weight of their turn."""

SETTLE_ROUNDS = 6

HIGHLIGHTS = {
    "webhooks applied": ": applied",
    "contradictions flagged": "flagged",
    "old news ignored": ": ignored",
    "duplicates": "duplicate",
    "webhooks refused 503": ": 503 (",
    "worker crashes": "worker crashed mid-dispatch",
    "worker processes killed": "worker process killed",
    "connections dropped": "db connection dropped at",
    "refusals": "refused ",
}
"""What the trace shows happened, counted by `Outcome.highlights` (to see what a run reached)."""


@dataclass
class Outcome:
    seed: int
    steps: int
    trace: list[str] = field(default_factory=list)
    failure: str | None = None
    """The first broken invariant (or unexpected error), with its step; None when clean."""
    failed_step: int | None = None
    actions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None

    def digest(self) -> str:
        """A fingerprint of the whole trace: the same seed gives the same one."""
        return hashlib.sha256("\n".join(self.trace).encode()).hexdigest()[:16]

    def highlights(self) -> Counter[str]:
        return Counter(
            {name: sum(mark in line for line in self.trace) for name, mark in HIGHLIGHTS.items()}
        )

    def report(self, last: int = 15) -> str:
        if self.ok:
            return (
                f"seed {self.seed}: {self.steps} steps clean in {self.seconds:.1f} s "
                f"(trace {self.digest()})"
            )
        tail = "\n".join(f"  {line}" for line in self.trace[-last:])
        return (
            f"seed {self.seed}: FAILED at step {self.failed_step}: {self.failure}\n"
            f"  reproduce: python -m sim --seed {self.seed} --steps {self.steps}\n"
            f"last steps:\n{tail}"
        )


def settings_for(database_url: str) -> Settings:
    return Settings.from_env(
        {"DIAMONDS_DATABASE_URL": database_url, "DIAMONDS_JWT_SECRET": SIM_JWT_SECRET}
    )


async def simulate(database_url: str, seed: int, steps: int, *, kills: int = 1) -> Outcome:
    """Run the seed on `database_url` (migrated and empty: ids must start from one). The first
    `kills` crashes kill a worker process; the others cancel the worker's task."""
    started = time.monotonic()
    outcome = Outcome(seed, steps)
    eco = await Economy.start(settings_for(database_url))
    world = await World.build(eco, seed, database_url=database_url, kills=kills)
    try:
        await _run(world, outcome)
    finally:
        await world.close()
        await eco.close()
        outcome.seconds = time.monotonic() - started
    return outcome


async def _run(world: World, outcome: Outcome) -> None:
    names = [name for name, _, _ in ACTORS]
    weights = [weight for _, weight, _ in ACTORS]
    actors = {name: actor for name, _, actor in ACTORS}
    for step in range(1, outcome.steps + 1):
        world.step = step
        name = world.rng.choices(names, weights)[0]
        outcome.actions[name] += 1
        said = await _act(actors[name](world))
        world.collect()
        outcome.trace.append(f"{step:>4} {world.clock.label():>10} {name:<8} {said}")
        if said.startswith("UNEXPECTED"):
            outcome.failure, outcome.failed_step = said, step
            return
        if await _broken(world, outcome, step, settled=False):
            return
    await _settle(world, outcome)
    await _broken(world, outcome, outcome.steps + 1, settled=True)


async def _act(action: Callable[[], Awaitable[str]]) -> str:
    try:
        return await action()
    except DomainError as exc:
        return f"refused {exc.code}"
    except DroppedConnection as exc:
        return f"lost: {exc}"
    except Exception as exc:  # anything else is what the simulation looks for
        return f"UNEXPECTED {type(exc).__name__}: {exc}"


async def _broken(world: World, outcome: Outcome, step: int, *, settled: bool) -> bool:
    async with world.eco.db.read() as conn:
        found = await violations(conn, world.providers, settled=settled)
    if found:
        outcome.failure = "; ".join(found[:5])
        outcome.failed_step = step
        outcome.trace.append(f"{step:>4} {'':>10} BROKEN   {outcome.failure}")
    return bool(found)


async def _settle(world: World, outcome: Outcome) -> None:
    """The faults end and the news arrives: each payout's current webhook, time and workers, so
    that everything the providers decided is heard before the settled checks."""
    world.outage = None
    world.end_round_faults()
    world.gate.blocked.clear()
    world.dropper.disarm()
    for round_ in range(1, SETTLE_ROUNDS + 1):
        world.step += 1
        world.collect()
        heard = 0
        for sim in world.providers:
            for _ref, event in sim.current_events(world.now()):
                heard += 1
                await _act(partial(world.deliver, sim, event))
        await world.clock.advance(8)
        said = await _act(world.quiet_worker_round)
        outcome.trace.append(f"settle {round_}: {heard} webhooks; {said}")
