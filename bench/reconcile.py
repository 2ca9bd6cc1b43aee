"""Benchmark: one Stripe provider-day of N payouts reconciled end to end by `reconcile_period`,
against the fake Stripe server on loopback: `python -m bench.reconcile [--quick] [--postgres]`.

What is seeded, and how (the pipeline's ~25 payouts/s would take minutes for 10,000):

- Creators: users and wallets by bulk inserts (`bench._common.bulk_users`), their diamonds
  issued by ledger transactions of 2,000 transfers each (`Ledger.record`).
- Our payouts, as `request_payout` makes them, 500 to a write transaction: the diamonds held
  with the request's idempotency key (`PayoutBook.hold_diamonds`, the payout's request
  transaction and hold), the payout row (APPROVED), its first attempt and its history.
- The fake's side, through its Python API (`FakeStripe.pay_out`, no HTTP): per payout a
  transfer to the creator's connected account (`transfer_group` = our payout reference) and a
  payout from it, moved on to paid, as `StripeProvider.submit` and the settlement leave them.
- Dispatch, 500 to a write transaction: the payout and its attempt stamped first sent now (as
  a worker's claim does), then the pipeline's own `apply_news` with the submit's answer
  (PENDING, the `po_...` reference) and a lookup's answer (PAID): the hold posted, the cash
  booked, the attempt settled, exactly as a worker would.
- Disagreements told to the fake (`add_disagreement`): 1% of the payouts at another amount, 1%
  dropped, and payouts we never sent on 0.5% as many accounts. No status disagreement: one
  that moved money would book a real correction per payout, which is not what is measured.

Timed: `reconcile_period` end to end (reading the provider over HTTP with stripe-python,
matching, booking the amount mismatches' discrepancies, storing), split into the provider's
listing and the rest, then a re-run that must change nothing. The classes must come out as
injected, or the benchmark fails. Writes bench/results/reconcile.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from diamonds_fakes.disagreements import Disagreement, DisagreementKind
from diamonds_fakes.stripe_server import FakeStripe
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bench._common import (
    POSTGRES_ADMIN_URL,
    RESULTS,
    bulk_users,
    economy_on,
    machine_load,
    say,
    scratch_database,
    write_results,
)
from compliance.gate.rules import Eligibility
from economy.app import Economy
from economy.tables import users
from kernel.clock import utc_today
from ledger import Asset, IdempotentRequest, Transfer, verify_ledger
from ledger.tables import transactions
from payouts import actors
from payouts.attempts import start_attempt
from payouts.discrepancies import DiscrepancyKind
from payouts.outcomes import ProviderNews, apply_news
from payouts.reconciliation.matching import MatchClass
from payouts.reconciliation.run import Period, reconcile_period
from payouts.reconciliation.store import Run, items_of, totals_of
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout, payout_from_row, record_event
from payouts.tables import payout_attempts, payout_discrepancies, payouts
from providers.base import Payee, PayoutResult, PayoutState
from providers.config import StripeConfig
from providers.records import ProviderRecord
from providers.registry import ProviderRegistry
from providers.stripe import StripeProvider
from settings.payouts import PayoutPolicy

RESULTS_FILE = RESULTS / "reconcile.json"
CURRENCY = "USD"
CHUNK = 500
"""Payouts per write transaction while seeding."""
FUNDING_CHUNK = 2_000
AMOUNT_SHARE, DROP_SHARE, EXTRA_SHARE = 0.01, 0.01, 0.005
WORKER = "worker:bench-reconcile"

POLICY = PayoutPolicy(
    minimum_minor=100,
    daily_cap_minor=10**12,
    approval_threshold_minor=10**12,
    reconcile_daily=False,
)


class Eligible:
    """The compliance gate is out of scope: every creator may cash out, withholding nothing."""

    async def check(self, conn: AsyncConnection, **_: Any) -> Eligibility:
        return Eligibility(eligible=True, requirements=(), withholding_bps=0)

    async def payee(self, conn: AsyncConnection, **_: Any) -> Payee | None:
        return None


class TimedStripe(StripeProvider):
    """The Stripe provider, timing its own listing of the period (`settled_records`)."""

    reading_seconds = 0.0

    async def settled_records(
        self, since: datetime, until: datetime, *, references: Sequence[str] = ()
    ) -> AsyncIterator[ProviderRecord]:
        started = time.perf_counter()
        async for record in super().settled_records(since, until, references=references):
            yield record
        self.reading_seconds += time.perf_counter() - started


class FakeClock:
    """Wall time the fake server spends in its request handlers (it runs in this process)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            self.seconds += time.perf_counter() - started
            self.requests += 1


@dataclass(frozen=True)
class Options:
    payouts: int
    accounts: int
    postgres: str | None
    out: Path
    seed: int


@dataclass(frozen=True)
class Seeded:
    payouts: list[Payout]
    """As they stand after dispatch: PAID, with their `po_...` references."""
    accounts: list[str]
    expected: Counter[MatchClass]
    day: date


# --- seeding -------------------------------------------------------------------------------------


async def seed_creators(eco: Economy, count: int, diamonds: Sequence[int]) -> list[tuple[int, int]]:
    """(user id, diamond account id) of `count` creators, each issued what its payouts need."""
    rows = await bulk_users(
        eco, [f"bench:reconcile:{n}" for n in range(count)], eco.settings.diamond_wallet_shards
    )
    async with eco.db.read() as conn:
        found = await conn.execute(
            select(users.c.id, users.c.diamond_account_id).where(
                users.c.id.in_([r[0] for r in rows])
            )
        )
        wallets = {int(r.id): int(r.diamond_account_id) for r in found}
    creators = [(user_id, wallets[user_id]) for user_id, _, _ in rows]
    needed = Counter[int]()
    for n, amount in enumerate(diamonds):
        needed[n % count] += amount
    for first in range(0, count, FUNDING_CHUNK):
        async with eco.db.write() as conn:
            await eco.ledger.record(
                conn,
                "BENCH_SEED",
                [
                    Transfer(eco.platform.diamond_issuance, wallet, Asset.DIAMOND, needed[n])
                    for n, (_, wallet) in enumerate(creators[first : first + FUNDING_CHUNK], first)
                    if needed[n]
                ],
                details={"bench": "reconcile"},
            )
    return creators


async def request_in_bulk(
    svc: PayoutService, creators: Sequence[tuple[int, int]], diamonds: Sequence[int]
) -> list[Payout]:
    """The payouts `request_payout` would record (hold, row, first attempt, history), many to
    one write transaction."""
    rate = svc.eco.settings.cash_rates[CURRENCY]
    provider = svc.provider("stripe")
    made: list[Payout] = []
    for first in range(0, len(diamonds), CHUNK):
        async with svc.eco.db.write() as conn:
            for n in range(first, min(first + CHUNK, len(diamonds))):
                user_id, wallet = creators[n % len(creators)]
                gross = rate.cash_for(diamonds[n])
                fee = provider.fee_minor(gross, CURRENCY)
                request = IdempotentRequest.of(
                    f"requestPayout:{user_id}",
                    f"bench-reconcile-{n}",
                    {"diamonds": diamonds[n], "provider": "stripe", "currency": CURRENCY},
                )
                transaction_id, hold_id = await svc.book.hold_diamonds(
                    conn,
                    wallet,
                    diamonds[n],
                    {"provider": "stripe", "currency": CURRENCY},
                    idempotency=request,
                )
                row = (
                    await conn.execute(
                        payouts.insert()
                        .values(
                            user_id=user_id,
                            provider="stripe",
                            status=PayoutStatus.APPROVED.value,
                            diamonds=diamonds[n],
                            currency=CURRENCY,
                            gross_minor=gross,
                            fee_minor=fee,
                            withholding_minor=0,
                            net_minor=gross - fee,
                            hold_id=hold_id,
                            request_transaction_id=transaction_id,
                            requested_by=f"bench:reconcile:{n % len(creators)}",
                        )
                        .returning(payouts)
                    )
                ).one()
                payout = payout_from_row(row._mapping)
                await start_attempt(conn, payout.id, payout.generation)
                subject = payout.requested_by
                await record_event(conn, payout.id, None, PayoutStatus.REQUESTED, actor=subject)
                await record_event(
                    conn,
                    payout.id,
                    PayoutStatus.REQUESTED,
                    PayoutStatus.APPROVED,
                    actor=actors.POLICY,
                    reason="within the automatic approval limit",
                )
                made.append(payout)
    return made


async def dispatch_in_bulk(
    svc: PayoutService, requested: Sequence[Payout], references: Sequence[str]
) -> list[Payout]:
    """What a worker records for each payout: claimed (first sent now), the submit's answer
    (PENDING at `references[n]`), then a lookup's (PAID), through `apply_news`."""
    paid: list[Payout] = []
    for first in range(0, len(requested), CHUNK):
        chunk = requested[first : first + CHUNK]
        ids = [p.id for p in chunk]
        async with svc.eco.db.write() as conn:
            moment = func.now()
            await conn.execute(
                update(payouts)
                .where(payouts.c.id.in_(ids))
                .values(attempts=payouts.c.attempts + 1, first_sent_at=moment)
            )
            await conn.execute(
                update(payout_attempts)
                .where(payout_attempts.c.payout_id.in_(ids), payout_attempts.c.number == 1)
                .values(first_sent_at=moment)
            )
            for payout, reference in zip(chunk, references[first : first + CHUNK], strict=True):
                for state in (PayoutState.PENDING, PayoutState.PAID):
                    current = await load_payout(conn, payout.id)
                    assert current is not None
                    news = ProviderNews.answered(
                        PayoutResult(payout.reference, state, provider_reference=reference),
                        WORKER,
                    )
                    await apply_news(svc, conn, current, current.generation, news)
                done = await load_payout(conn, payout.id)
                assert done is not None
                assert done.status is PayoutStatus.PAID, done
                paid.append(done)
    return paid


def plan_diamonds(opts: Options) -> list[int]:
    rng = random.Random(opts.seed)
    return [2 * rng.randint(1_000, 20_000) for _ in range(opts.payouts)]


async def seed(
    svc: PayoutService, fake: FakeStripe, opts: Options
) -> tuple[Seeded, dict[str, float]]:
    """Both sides of the day, and the disagreements; returns them and how long each step took."""
    took: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        took[name] = round(now - clock, 2)
        clock = now

    day = utc_today()
    diamonds = plan_diamonds(opts)
    creators = await seed_creators(svc.eco, opts.accounts, diamonds)
    lap("creators_s")
    requested = await request_in_bulk(svc, creators, diamonds)
    lap("requests_s")
    accounts = [fake.create_account(email=f"c{n}@bench.example") for n in range(opts.accounts)]
    references = [
        fake.pay_out(accounts[n % opts.accounts], p.net_minor, CURRENCY, p.reference)["id"]
        for n, p in enumerate(requested)
    ]
    lap("fake_side_s")
    paid = await dispatch_in_bulk(svc, requested, references)
    lap("dispatch_s")
    expected = disagree(fake, paid, accounts, random.Random(opts.seed + 1))
    return Seeded(paid, accounts, expected, day), took


def disagree(
    fake: FakeStripe, paid: Sequence[Payout], accounts: Sequence[str], rng: random.Random
) -> Counter[MatchClass]:
    """Tell the fake to disagree on a few payouts; returns the classes the run must find."""
    count = len(paid)
    amounts = max(1, round(count * AMOUNT_SHARE))
    drops = max(1, round(count * DROP_SHARE))
    extras = max(1, round(count * EXTRA_SHARE))
    chosen = rng.sample(range(count), amounts + drops)
    for n in chosen[:amounts]:
        fake.add_disagreement(
            Disagreement(DisagreementKind.AMOUNT, paid[n].reference, amount=paid[n].net_minor + 1)
        )
    for n in chosen[amounts:]:
        fake.add_disagreement(Disagreement(DisagreementKind.DROP, paid[n].reference))
    for _ in range(extras):
        target, amount = rng.choice(accounts), rng.randint(100, 9_999)
        fake.add_disagreement(Disagreement(DisagreementKind.EXTRA, target, amount=amount))
    return Counter(
        {
            MatchClass.MATCHED: count - amounts - drops,
            MatchClass.AMOUNT_MISMATCH: amounts,
            MatchClass.MISSING_AT_PROVIDER: drops,
            MatchClass.UNKNOWN_AT_PROVIDER: extras,
        }
    )


# --- what a run left -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Everything a re-run must leave as it was."""

    items: dict[str, tuple[str, int | None, int | None, int | None]]
    totals: list[tuple[str, str, int, int, int, int]]
    discrepancies: int
    ledger_transactions: int
    statuses: dict[str, int]
    counts: tuple[int, int, int, int]


async def snapshot(eco: Economy, run: Run) -> Snapshot:
    async with eco.db.read() as conn:
        items = await items_of(conn, run.id)
        totals = await totals_of(conn, run.id)
        discrepancies = await conn.scalar(select(func.count()).select_from(payout_discrepancies))
        booked = await conn.scalar(select(func.count()).select_from(transactions))
        statuses = await conn.execute(
            select(payouts.c.status, func.count()).group_by(payouts.c.status)
        )
        return Snapshot(
            items={
                key: (i.klass.value, i.our_minor, i.their_minor, i.discrepancy_id)
                for key, i in items.items()
            },
            totals=[
                (t.klass.value, t.currency, t.count, t.our_minor, t.their_minor, t.their_fee_minor)
                for t in totals
            ],
            discrepancies=int(discrepancies or 0),
            ledger_transactions=int(booked or 0),
            statuses={str(s): int(c) for s, c in statuses},
            counts=(run.our_count, run.their_count, run.exception_count, run.open_exception_count),
        )


def found_classes(shot: Snapshot) -> Counter[MatchClass]:
    return Counter(MatchClass(klass) for klass, _, _, _ in shot.items.values())


async def amount_discrepancies(eco: Economy) -> int:
    async with eco.db.read() as conn:
        found = await conn.scalar(
            select(func.count())
            .select_from(payout_discrepancies)
            .where(payout_discrepancies.c.kind == DiscrepancyKind.AMOUNT_MISMATCH.value)
        )
    return int(found or 0)


# --- the run -------------------------------------------------------------------------------------


async def run(opts: Options, url: str) -> dict[str, Any]:
    load_before = machine_load()
    fake_clock = FakeClock()
    fake = FakeStripe()
    fake.app.middlewares.append(fake_clock.middleware)
    async with fake, economy_on(url) as eco:
        provider = TimedStripe(
            StripeConfig(api_key=fake.secret_key, api_base=fake.url, timeout_seconds=30.0)
        )
        registry = ProviderRegistry({}, discover=False)
        registry.register(provider)
        try:
            svc = PayoutService(eco=eco, gate=Eligible(), providers=registry, policy=POLICY)
            say(f"seeding {opts.payouts:,} payouts on {opts.accounts:,} connected accounts ...")
            seeded, seeding = await seed(svc, fake, opts)
            say("  " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in seeding.items()))
            period = Period.day(seeded.day)

            fake_before = fake_clock.seconds
            started = time.perf_counter()
            first = await reconcile_period(svc, "stripe", period, actor="bench")
            total = time.perf_counter() - started
            reading = provider.reading_seconds
            fake_seconds = fake_clock.seconds - fake_before
            requests = fake_clock.requests
            assert first is not None
            after_first = await snapshot(eco, first)

            provider.reading_seconds = 0.0
            started = time.perf_counter()
            again = await reconcile_period(svc, "stripe", period, actor="bench")
            rerun = time.perf_counter() - started
            assert again is not None
            after_rerun = await snapshot(eco, again)
            flagged = await amount_discrepancies(eco)
            async with eco.db.read() as conn:
                violations = [str(v) for v in await verify_ledger(conn)]
        finally:
            await registry.close()

    found = found_classes(after_first)
    problems: list[str] = []
    if found != seeded.expected:
        problems.append(f"classes {dict(found)} != injected {dict(seeded.expected)}")
    if after_rerun != after_first:
        problems.append("the re-run changed what the first run left")
    if again.runs != 2 or again.id != first.id:
        problems.append(f"the re-run is run {again.id} #{again.runs}, not run {first.id} #2")
    if flagged != seeded.expected[MatchClass.AMOUNT_MISMATCH]:
        problems.append(f"{flagged} amount discrepancies, not one per amount mismatch")
    if first.our_count != opts.payouts:
        problems.append(f"the run counted {first.our_count} of our payouts, not {opts.payouts}")
    if violations:
        problems.append(f"ledger: {violations[:3]}")
    return {
        "benchmark": "reconcile",
        "database": "postgres" if opts.postgres else "sqlite",
        "payouts": opts.payouts,
        "accounts": opts.accounts,
        "their_records": first.their_count,
        "seeding_s": seeding,
        "total_s": round(total, 2),
        "reading_provider_s": round(reading, 2),
        "of_which_fake_server_s": round(fake_seconds, 2),
        "provider_requests": requests,
        "matching_and_storing_s": round(total - reading, 2),
        "payouts_per_s": round(opts.payouts / total, 1),
        "classes": {k.value: found[k] for k in MatchClass},
        "injected": {k.value: seeded.expected[k] for k in MatchClass},
        "rerun_s": round(rerun, 2),
        "rerun_reading_provider_s": round(provider.reading_seconds, 2),
        "rerun_changed_nothing": after_rerun == after_first,
        "ledger_ok": not violations,
        "problems": problems,
        "ok": not problems,
        "load_before": load_before,
        "load_after": machine_load(),
    }


def print_report(figures: dict[str, Any], out: Path) -> None:
    say(
        f"reconciled {figures['payouts']:,} payouts ({figures['accounts']:,} accounts, "
        f"{figures['their_records']:,} provider records) on {figures['database']}:"
    )
    say(
        f"  total            {figures['total_s']:>7.2f} s   "
        f"{figures['payouts_per_s']:,.0f} payouts/s"
    )
    say(
        f"  reading Stripe   {figures['reading_provider_s']:>7.2f} s   "
        f"({figures['provider_requests']:,} requests; the fake's handlers "
        f"{figures['of_which_fake_server_s']:.2f} s of it)"
    )
    say(f"  matching+storing {figures['matching_and_storing_s']:>7.2f} s")
    say(
        f"  re-run           {figures['rerun_s']:>7.2f} s   changed nothing: "
        f"{figures['rerun_changed_nothing']}"
    )
    for name, count in figures["classes"].items():
        say(f"  {name:20} {count:>7,}   injected {figures['injected'][name]:>7,}")
    say(f"  load: {figures['load_before']['uptime']} -> {figures['load_after']['uptime']}")
    for problem in figures["problems"]:
        say(f"  PROBLEM: {problem}")
    say(f"  {'OK' if figures['ok'] else 'NOT OK'}; written to {out}")


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reconcile",
        description="Reconcile one Stripe provider-day of payouts against the fake Stripe "
        "server; time it, check the classes and a re-run.",
    )
    parser.add_argument("--payouts", type=int, help="payouts in the day (10,000; --quick 1,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 payouts")
    parser.add_argument(
        "--accounts",
        type=int,
        help="connected accounts the payouts go to (default: one per payout, each creator "
        "paid once that day; Stripe's payouts are listed one account at a time)",
    )
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES_ADMIN_URL,
        metavar="URL",
        help="a scratch database on this PostgreSQL server (default BENCH_POSTGRES_URL) "
        "instead of SQLite",
    )
    parser.add_argument("--seed", type=int, default=20_261_207)
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    count = args.payouts or (1_000 if args.quick else 10_000)
    accounts = args.accounts or count
    if count < 1 or not 1 <= accounts <= count:
        parser.error("--payouts must be >= 1 and --accounts from 1 to --payouts")
    return Options(
        payouts=count, accounts=accounts, postgres=args.postgres, out=args.out, seed=args.seed
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_options(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    kind = "postgres" if opts.postgres else "sqlite"
    with scratch_database(kind, admin_url=opts.postgres) as url:
        figures = asyncio.run(run(opts, url))
    write_results("reconcile", figures, opts.out)
    print_report(figures, opts.out)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
