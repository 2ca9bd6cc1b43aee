"""`python -m bench.payouts`: payouts pushed through the real pipeline to the fake Stripe and PayPal
servers with transient faults, then paid, lost and doubled counted from the fakes' own records.

See docs/payouts-benchmark.md. The fakes run in a child process (`diamonds-fakes`) or, with
`--fakes in-process`, in this one; the compliance gate is out of scope (always eligible).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import re
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.paypal_server import FakePayPal, FakePayPalSettings
from diamonds_fakes.stripe_server import FakeStripe
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bench._common import RESULTS, machine_load, scratch_database, settings_for, write_results
from compliance.gate.rules import Eligibility
from economy.app import Economy
from economy.users import User
from kernel.errors import DomainError
from ledger import Asset, Transfer, verify_ledger
from ledger.accounts import read_balance
from ledger.history import hold_statuses
from payouts.dispatch import Dispatcher
from payouts.requests import request_payout
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import Payout, payout_from_row
from payouts.tables import payout_events, payouts
from providers.base import Payee, PayoutInstruction, PayoutProvider, PayoutResult
from providers.config import StripeConfig
from providers.paypal import PayPalConfig, PayPalProvider, format_amount
from providers.registry import ProviderRegistry
from providers.retry import RetryPolicy, submit_with_retries
from providers.stripe import StripeProvider
from settings.payouts import PayoutPolicy

log = logging.getLogger("bench.payouts")

RESULTS_FILE = RESULTS / "payouts.json"
PROVIDERS = ("stripe", "paypal")
CURRENCY = "USD"
SEED_SLACK = 1_000
"""Diamonds each creator keeps beyond what the run pays out, so the wallet check is not zero."""
PROVIDER_TIMEOUT = 10.0
IDLE_SECONDS = 0.02
"""A worker whose round found nothing waits this long before the next one."""
PROGRESS_SECONDS = 5.0
SETTLED = frozenset(
    {
        PayoutStatus.PAID,
        PayoutStatus.FAILED,
        PayoutStatus.RETURNED,
        PayoutStatus.CANCELED,
        PayoutStatus.REJECTED,
    }
)
VOIDING = frozenset({PayoutStatus.FAILED, PayoutStatus.CANCELED, PayoutStatus.REJECTED})

POLICY = PayoutPolicy(
    minimum_minor=100,
    daily_cap_minor=10**11,
    approval_threshold_minor=10**10,
    lease_seconds=60,
    retry_base_seconds=0.05,
    retry_max_seconds=2.0,
    max_dispatch_attempts=10,
    lookup_after_seconds=0,
)
"""Small minimum, caps and threshold above every payout of the run, quick backoff, and pending
payouts looked up on every round (no webhooks in this benchmark)."""

RETRIES = RetryPolicy(
    max_attempts=5,
    max_total_seconds=15.0,
    initial_backoff_seconds=0.01,
    max_backoff_seconds=0.2,
    jitter_seconds=0.01,
)
"""submit_with_retries inside one dispatch; a 429's Retry-After still sets the floor."""


@dataclass(frozen=True)
class Options:
    payouts: int
    creators: int
    workers: int
    request_concurrency: int
    fault_rate: float
    drop_rate: float
    retry_after: int
    advance_seconds: float
    postgres: str | None
    seed: int
    timeout: float
    stall: float
    out: Path
    quick: bool
    fakes: str
    lookup_after: float


@dataclass(frozen=True)
class Planned:
    key: str
    creator: int
    provider: str
    diamonds: int


def plan_payouts(opts: Options) -> list[Planned]:
    """Half to Stripe, half to PayPal, spread over the creators, $10 to $200 each."""
    rng = random.Random(opts.seed)
    providers = [PROVIDERS[n % 2] for n in range(opts.payouts)]
    rng.shuffle(providers)
    return [
        Planned(
            key=f"bench-payout-{n}",
            creator=n % opts.creators,
            provider=providers[n],
            diamonds=2 * rng.randint(1_000, 20_000),
        )
        for n in range(opts.payouts)
    ]


# --- the compliance gate (out of scope here) -----------------------------------------------------


@dataclass
class AlwaysEligible:
    """Every creator may cash out, to the payout method seeded for them on each provider."""

    payees: dict[tuple[int, str], Payee] = field(default_factory=dict)

    async def check(
        self,
        conn: AsyncConnection,
        *,
        user_id: int,
        provider: str,
        currency: str,
        amount_minor: int,
        today: date,
    ) -> Eligibility:
        return Eligibility(eligible=True, requirements=(), withholding_bps=0)

    async def payee(self, conn: AsyncConnection, *, user_id: int, provider: str) -> Payee | None:
        return self.payees.get((user_id, provider))


# --- the fakes and the providers -----------------------------------------------------------------


def transient_faults(rate: float, retry_after: int) -> list[Fault]:
    """`rate` of all API requests fail transiently, half with a 500 and half with a 429. The
    injector tries its rules in order, so the second rule's chance is raised to make up for the
    requests the first one took."""
    if rate <= 0:
        return []
    half = rate / 2
    return [
        Fault(FaultKind.SERVER_ERROR, times=None, probability=half),
        Fault(
            FaultKind.RATE_LIMIT,
            times=None,
            probability=half / (1 - half),
            retry_after=retry_after,
        ),
    ]


JSON = dict[str, Any]


def dropped_answers(rate: float) -> list[Fault]:
    """`rate` of the POSTs take effect and then lose their answer (the connection drops): the
    pipeline meets unknown outcomes and must look them up, never assume. Off by default."""
    if rate <= 0:
        return []
    return [Fault(FaultKind.DROP, method="POST", times=None, probability=rate)]


@dataclass(frozen=True)
class Endpoints:
    """Where the fakes listen and the credentials they take."""

    stripe_url: str
    stripe_key: str
    paypal_url: str
    paypal_client_id: str
    paypal_client_secret: str
    paypal_webhook_id: str | None
    where: str
    paypal_requests: Callable[[], int] | None = None
    """The PayPal fake's request count, when it runs in this process (its admin API has none)."""


@contextlib.asynccontextmanager
async def fakes_in_process(opts: Options) -> AsyncIterator[Endpoints]:
    """Both fakes in this process: their HTTP serving shares this event loop and CPU with the
    pipeline. PayPal's request validation against its OpenAPI document is off here (it would
    weigh on the pipeline's CPU)."""
    stripe = FakeStripe(auto_advance_seconds=opts.advance_seconds, fault_seed=opts.seed)
    paypal = FakePayPal(
        FakePayPalSettings(
            auto_advance_seconds=opts.advance_seconds, validate_requests=False, seed=opts.seed
        )
    )
    async with stripe, paypal:
        yield Endpoints(
            stripe_url=stripe.url,
            stripe_key=stripe.secret_key,
            paypal_url=paypal.url,
            paypal_client_id=paypal.settings.client_id,
            paypal_client_secret=paypal.settings.client_secret,
            paypal_webhook_id=paypal.settings.webhook_id,
            where="in this process",
            paypal_requests=lambda: len(paypal.requests),
        )


@contextlib.asynccontextmanager
async def fakes_in_subprocess(opts: Options) -> AsyncIterator[Endpoints]:
    """Both fakes in a child process (`diamonds-fakes`, free ports, no webhooks), so that they do
    not take the pipeline's event loop; stopped with SIGTERM at the end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "diamonds_fakes",
        "--stripe-port",
        "0",
        "--paypal-port",
        "0",
        "--no-webhooks",
        "--advance-seconds",
        str(opts.advance_seconds),
        "--fault-seed",
        str(opts.seed),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        async with asyncio.timeout(60):
            while True:
                line = (await process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"`diamonds-fakes` exited ({await process.wait()})")
                if line.strip().startswith("export "):
                    name, _, value = line.strip().removeprefix("export ").partition("=")
                    env[name] = value
                if line.startswith("Press Ctrl+C"):
                    break
        yield Endpoints(
            stripe_url=env["DIAMONDS_STRIPE_API_BASE"],
            stripe_key=env["DIAMONDS_STRIPE_API_KEY"],
            paypal_url=env["DIAMONDS_PAYPAL_API_BASE"],
            paypal_client_id=env["DIAMONDS_PAYPAL_CLIENT_ID"],
            paypal_client_secret=env["DIAMONDS_PAYPAL_CLIENT_SECRET"],
            paypal_webhook_id=env.get("DIAMONDS_PAYPAL_WEBHOOK_ID"),
            where=f"in a subprocess (`diamonds-fakes`, pid {process.pid})",
        )
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


@dataclass
class FakeRecords:
    """What the fakes hold at the end, read through their own APIs."""

    stripe_payouts: list[JSON]
    stripe_transfers: list[JSON]
    paypal_batches: list[JSON]
    """`{"sender_batch_id", "items": [{"status", "value", "currency", "minor", "receiver"}]}`"""
    figures: dict[str, Any]


class FakesClient:
    """Drives the fakes over HTTP: their admin API (`/__fake__`) and Stripe's list endpoints."""

    def __init__(self, endpoints: Endpoints, session: aiohttp.ClientSession) -> None:
        self.endpoints = endpoints
        self.session = session
        self.bases = {"stripe": endpoints.stripe_url, "paypal": endpoints.paypal_url}

    async def _json(self, method: str, url: str, **kwargs: Any) -> Any:
        async with self.session.request(method, url, **kwargs) as response:
            if response.status >= 300:
                raise RuntimeError(f"{method} {url}: {response.status} {await response.text()}")
            return await response.json()

    async def create_stripe_account(self, email: str) -> str:
        url = f"{self.endpoints.stripe_url}/__fake__/accounts"
        body = await self._json("POST", url, json={"email": email})
        return str(body["id"])

    async def add_faults(self, faults: Sequence[Fault]) -> None:
        rules = [{k: v for k, v in f.to_json().items() if k != "hits"} for f in faults]
        for base in self.bases.values():
            if rules:
                await self._json("POST", f"{base}/__fake__/faults", json=rules)

    async def records(self, stripe_accounts: Sequence[str]) -> FakeRecords:
        """Fault counts first, then the faults cleared, then every payout, transfer and batch."""
        figures: dict[str, Any] = {}
        for name, base in self.bases.items():
            hits = (await self._json("GET", f"{base}/__fake__/faults"))["hits"]
            figures[name] = {"faults": {k: n for k, n in hits.items() if n}}
            await self._json("DELETE", f"{base}/__fake__/faults")
        state = await self._json("GET", f"{self.endpoints.stripe_url}/__fake__/state")
        figures["stripe"]["requests"] = int(state["requests"])
        counter = self.endpoints.paypal_requests
        figures["paypal"]["requests"] = counter() if counter is not None else None
        transfers = await self._stripe_list("/v1/transfers", None)
        payouts_made: list[JSON] = []
        for account in stripe_accounts:
            payouts_made += await self._stripe_list("/v1/payouts", account)
        state = await self._json("GET", f"{self.endpoints.paypal_url}/__fake__/state")
        batches = [
            {
                "sender_batch_id": b["batch_header"]["sender_batch_header"].get("sender_batch_id"),
                "items": [
                    {
                        "status": i["transaction_status"],
                        "value": i["payout_item"]["amount"]["value"],
                        "currency": i["payout_item"]["amount"]["currency"],
                        "minor": int(Decimal(i["payout_item"]["amount"]["value"]) * 100),
                        "receiver": i["payout_item"].get("receiver"),
                    }
                    for i in b["items"]
                ],
            }
            for b in state["batches"]
        ]
        figures["stripe"].update(payouts=len(payouts_made), transfers=len(transfers))
        figures["paypal"]["batches"] = len(batches)
        for seen in figures.values():
            faulted = sum(seen["faults"].values())
            seen["faulted"] = faulted
            seen["faulted_share"] = (
                round(faulted / seen["requests"], 4) if seen["requests"] else None
            )
        return FakeRecords(payouts_made, transfers, batches, figures)

    async def _stripe_list(self, path: str, account: str | None) -> list[JSON]:
        headers = {"Authorization": f"Bearer {self.endpoints.stripe_key}"}
        if account is not None:
            headers["Stripe-Account"] = account
        found: list[JSON] = []
        params = {"limit": "100"}
        while True:
            url = f"{self.endpoints.stripe_url}{path}"
            page = await self._json("GET", url, params=params, headers=headers)
            found += page["data"]
            if not page["has_more"] or not page["data"]:
                return found
            params["starting_after"] = page["data"][-1]["id"]


def build_registry(endpoints: Endpoints, opts: Options) -> ProviderRegistry:
    registry = ProviderRegistry({}, discover=False)
    registry.register(
        StripeProvider(
            StripeConfig(
                api_key=endpoints.stripe_key,
                api_base=endpoints.stripe_url,
                timeout_seconds=PROVIDER_TIMEOUT,
            )
        )
    )
    registry.register(
        PayPalProvider(
            PayPalConfig(
                client_id=endpoints.paypal_client_id,
                client_secret=endpoints.paypal_client_secret,
                api_base=endpoints.paypal_url,
                webhook_id=endpoints.paypal_webhook_id,
                timeout_seconds=PROVIDER_TIMEOUT,
                threads=max(4, 2 * opts.workers),
            )
        )
    )
    return registry


# --- seeding -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Creator:
    user: User
    email: str
    stripe_account: str
    seeded: int


async def seed_creators(
    eco: Economy, fakes: FakesClient, gate: AlwaysEligible, plan: Sequence[Planned], count: int
) -> list[Creator]:
    """Creators with exactly the diamonds their payouts need (plus a little), issued through the
    ledger from the platform's diamond issuance account; a Stripe connected account on the fake
    and a PayPal email each."""
    needed: Counter[int] = Counter()
    for planned in plan:
        needed[planned.creator] += planned.diamonds
    creators: list[Creator] = []
    for n in range(count):
        user = await eco.users.ensure(f"bench:creator:{n}")
        email = f"creator{n}@bench.example"
        account = await fakes.create_stripe_account(email)
        name = f"Bench Creator {n}"
        gate.payees[(user.id, "stripe")] = Payee(name, "US", {"account_id": account})
        gate.payees[(user.id, "paypal")] = Payee(name, "US", {"email": email})
        creators.append(Creator(user, email, account, needed[n] + SEED_SLACK))
    async with eco.db.write() as conn:
        await eco.ledger.record(
            conn,
            "BENCH_SEED",
            [
                Transfer(
                    eco.platform.diamond_issuance,
                    c.user.diamond_account_id,
                    Asset.DIAMOND,
                    c.seeded,
                )
                for c in creators
            ],
            details={"bench": "payouts"},
        )
    return creators


# --- the two phases ------------------------------------------------------------------------------


async def request_all(
    svc: PayoutService, creators: Sequence[Creator], plan: Sequence[Planned], concurrency: int
) -> Counter[str]:
    """Every planned payout requested, at most `concurrency` at once. Returns the refusals by
    code, and the requests that crashed by exception (logged): those are bugs, counted and shown
    rather than stopping the run."""
    slots = asyncio.Semaphore(concurrency)
    refused: Counter[str] = Counter()

    async def one(planned: Planned) -> None:
        async with slots:
            try:
                await request_payout(
                    svc,
                    creators[planned.creator].user,
                    diamonds=planned.diamonds,
                    provider=planned.provider,
                    currency=CURRENCY,
                    key=planned.key,
                )
            except DomainError as exc:
                refused[exc.code] += 1
            except Exception as exc:
                refused[f"crashed: {type(exc).__name__}"] += 1
                log.exception("requesting %s crashed", planned.key)

    await asyncio.gather(*(one(p) for p in plan))
    return refused


async def status_counts(eco: Economy) -> Counter[PayoutStatus]:
    async with eco.db.read() as conn:
        rows = await conn.execute(select(payouts.c.status, func.count()).group_by(payouts.c.status))
        return Counter({PayoutStatus(status): int(n) for status, n in rows})


@dataclass
class Dispatched:
    settled_at: float
    """time.perf_counter() when the last payout settled (or the run gave up)."""
    gave_up: str | None
    rounds: int
    round_failures: int


async def dispatch_all(svc: PayoutService, opts: Options) -> Dispatched:
    """`opts.workers` dispatchers loop `run_once` until every payout is settled (paid, failed,
    returned, canceled or rejected), or the timeout passes, or nothing settles for a while."""

    async def submit(provider: PayoutProvider, instruction: PayoutInstruction) -> PayoutResult:
        return await submit_with_retries(provider, instruction, RETRIES)

    stop = asyncio.Event()
    rounds = 0
    failures = 0

    async def work(n: int) -> None:
        nonlocal rounds, failures
        dispatcher = Dispatcher(svc, name=f"bench-worker-{n}", submit=submit)
        while not stop.is_set():
            try:
                handled = await dispatcher.run_once()
            except Exception:
                log.exception("worker %d: a round failed", n)
                failures += 1
                handled = 0
            rounds += 1
            if not handled:
                await asyncio.sleep(IDLE_SECONDS)

    tasks = [asyncio.create_task(work(n)) for n in range(opts.workers)]
    started = time.perf_counter()
    last_progress = started
    last_change = started
    last_unsettled = -1
    gave_up: str | None = None
    try:
        while True:
            counts = await status_counts(svc.eco)
            now = time.perf_counter()
            unsettled = sum(n for status, n in counts.items() if status not in SETTLED)
            if unsettled != last_unsettled:
                last_unsettled, last_change = unsettled, now
            if unsettled == 0:
                break
            if now - started > opts.timeout:
                gave_up = f"timeout: {unsettled} payouts unsettled after {opts.timeout:.0f}s"
                break
            if now - last_change > opts.stall:
                gave_up = f"stalled: {unsettled} payouts unsettled, none settled for {opts.stall}s"
                break
            if now - last_progress >= PROGRESS_SECONDS:
                last_progress = now
                shown = ", ".join(f"{s.value.lower()} {n}" for s, n in sorted(counts.items()))
                print(f"  ... {now - started:5.1f}s: {shown}", file=sys.stderr, flush=True)
            await asyncio.sleep(0.2)
    finally:
        settled_at = time.perf_counter()
        stop.set()
        await asyncio.gather(*tasks)
    return Dispatched(settled_at, gave_up, rounds, failures)


# --- counting ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Each payout's fate, as our database and the fake that paid it see it."""

    paid: int = 0
    failed: int = 0
    lost: int = 0
    doubled: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    money_ours_minor: int = 0
    money_at_fakes_minor: int = 0
    orphans_at_fakes: int = 0

    def lose(self, payout: Payout, reason: str) -> None:
        self.lost += 1
        self.reasons[reason] += 1
        if len(self.examples) < 20:
            self.examples.append(
                f"payout {payout.id} ({payout.provider}, {payout.status}): {reason}"
            )


REFERENCE = re.compile(r"^diamonds-payout-(\d{1,18})(?:-\d{1,6})?$")
"""`Payout.reference`: our payout id, and a generation after FINANCE retried a failed payout."""


def by_payout(items: Iterable[JSON], reference: Callable[[JSON], Any]) -> dict[int, list[JSON]]:
    """The fake's records grouped by our payout id, whatever generation they were sent under, so
    that two sendings of one payout count as doubled. Records naming no payout go under 0."""
    grouped: dict[int, list[JSON]] = defaultdict(list)
    for item in items:
        found = REFERENCE.match(str(reference(item) or ""))
        grouped[int(found.group(1)) if found else 0].append(item)
    return grouped


def tally_settlement(
    payout: Payout,
    hold: str | None,
    tally: Tally,
    *,
    paid_mismatch: str | None,
    voided_mismatch: str | None,
) -> None:
    """Count one payout as paid, failed or lost: our status against what the fake holds (its
    mismatch, if any, for each way the payout settled) and against the ledger hold."""
    if payout.status is PayoutStatus.PAID:
        wanted, problem = "POSTED", paid_mismatch
    elif payout.status in VOIDING:
        wanted, problem = "VOIDED", voided_mismatch
    else:
        tally.lose(payout, f"unsettled: {payout.status}")
        return
    if problem is not None:
        tally.lose(payout, f"{payout.status} here, {problem}")
    elif hold != wanted:
        tally.lose(payout, f"{payout.status} here, hold {hold}")
    elif payout.status is PayoutStatus.PAID:
        tally.paid += 1
    else:
        tally.failed += 1


def stripe_paid_mismatch(
    payout: Payout, creator: Creator, paid_at_fake: list[JSON], transfers: list[JSON]
) -> str | None:
    """What is wrong at the Stripe fake with a payout we hold PAID, or None."""
    unreversed = sum(t["amount"] - t["amount_reversed"] for t in transfers)
    if len(paid_at_fake) != 1:
        return f"{len(paid_at_fake)} paid payouts at the fake"
    if (paid_at_fake[0]["amount"], paid_at_fake[0]["currency"]) != (
        payout.net_minor,
        payout.currency.lower(),
    ):
        return "a different amount or currency at the fake"
    if unreversed != payout.net_minor or any(
        t["destination"] != creator.stripe_account for t in transfers
    ):
        return "the transfer differs at the fake"
    return None


def check_stripe(
    payout: Payout,
    hold: str | None,
    creator: Creator,
    at_fake: list[dict[str, Any]],
    transfers: list[dict[str, Any]],
    tally: Tally,
) -> None:
    if len(at_fake) > 1 or len(transfers) > 1:
        tally.doubled += 1
    paid_at_fake = [p for p in at_fake if p["status"] == "paid"]
    tally.money_at_fakes_minor += sum(p["amount"] for p in paid_at_fake)
    unreversed = sum(t["amount"] - t["amount_reversed"] for t in transfers)
    tally_settlement(
        payout,
        hold,
        tally,
        paid_mismatch=stripe_paid_mismatch(payout, creator, paid_at_fake, transfers),
        voided_mismatch="money left at the fake" if paid_at_fake or unreversed else None,
    )


def paypal_paid_mismatch(
    payout: Payout, creator: Creator, paid_at_fake: list[JSON], items: list[JSON]
) -> str | None:
    """What is wrong at the PayPal fake with a payout we hold PAID, or None."""
    expected = format_amount(payout.net_minor, payout.currency)
    if len(paid_at_fake) != 1 or len(items) != 1:
        return f"{len(paid_at_fake)} of {len(items)} items paid at fake"
    if (paid_at_fake[0]["value"], paid_at_fake[0]["currency"]) != (expected, payout.currency):
        return "a different amount or currency at the fake"
    if paid_at_fake[0]["receiver"] != creator.email:
        return "a different receiver at the fake"
    return None


def check_paypal(
    payout: Payout,
    hold: str | None,
    creator: Creator,
    batches: list[dict[str, Any]],
    tally: Tally,
) -> None:
    if len(batches) > 1:
        tally.doubled += 1
    items = [item for batch in batches for item in batch["items"]]
    paid_at_fake = [i for i in items if i["status"] == "SUCCESS"]
    tally.money_at_fakes_minor += sum(i["minor"] for i in paid_at_fake)
    undone = ("FAILED", "BLOCKED", "RETURNED", "REFUNDED")
    still_paid = any(i["status"] not in undone for i in items)
    tally_settlement(
        payout,
        hold,
        tally,
        paid_mismatch=paypal_paid_mismatch(payout, creator, paid_at_fake, items),
        voided_mismatch="an item still paid or pending at the fake" if still_paid else None,
    )


async def count_outcomes(eco: Economy, records: FakeRecords, creators: Sequence[Creator]) -> Tally:
    by_user = {c.user.id: c for c in creators}
    async with eco.db.read() as conn:
        ours = [payout_from_row(r._mapping) for r in await conn.execute(select(payouts))]
        hold_status = await hold_statuses(conn)
    stripe_payouts = by_payout(records.stripe_payouts, lambda p: p["metadata"].get("payout_id"))
    stripe_transfers = by_payout(records.stripe_transfers, lambda t: t["transfer_group"])
    batches = by_payout(records.paypal_batches, lambda b: b["sender_batch_id"])
    tally = Tally()
    for payout in ours:
        hold = hold_status.get(payout.hold_id)
        creator = by_user[payout.user_id]
        if payout.status is PayoutStatus.PAID:
            tally.money_ours_minor += payout.net_minor
        if payout.provider == "stripe":
            check_stripe(
                payout,
                hold,
                creator,
                stripe_payouts.get(payout.id, []),
                stripe_transfers.get(payout.id, []),
                tally,
            )
        else:
            check_paypal(payout, hold, creator, batches.get(payout.id, []), tally)
    ids = {p.id for p in ours}
    for grouped in (stripe_payouts, stripe_transfers, batches):
        tally.orphans_at_fakes += sum(len(v) for k, v in grouped.items() if k not in ids)
    return tally


async def wallet_mismatches(eco: Economy, creators: Sequence[Creator]) -> list[str]:
    """Creators whose diamonds are not exactly seeded - paid, with nothing left held."""
    async with eco.db.read() as conn:
        rows = await conn.execute(
            select(payouts.c.user_id, func.sum(payouts.c.diamonds))
            .where(payouts.c.status == PayoutStatus.PAID.value)
            .group_by(payouts.c.user_id)
        )
        paid = {int(user_id): int(diamonds) for user_id, diamonds in rows}
        wrong = []
        for c in creators:
            balance = await read_balance(conn, c.user.diamond_account_id)
            expected = c.seeded - int(paid.get(c.user.id, 0))
            if (balance.balance, balance.held) != (expected, 0):
                wrong.append(
                    f"{c.user.subject}: balance {balance.balance} held {balance.held}, "
                    f"expected {expected} held 0"
                )
    return wrong


async def pipeline_figures(eco: Economy) -> dict[str, int]:
    async with eco.db.read() as conn:
        attempts = await conn.scalar(select(func.coalesce(func.sum(payouts.c.attempts), 0)))
        unknown = await conn.scalar(
            select(func.count(func.distinct(payout_events.c.payout_id))).where(
                payout_events.c.to_status == PayoutStatus.UNKNOWN.value
            )
        )
        events = await conn.scalar(select(func.count()).select_from(payout_events))
    return {
        "dispatch_attempts": int(attempts or 0),
        "payouts_that_went_unknown": int(unknown or 0),
        "status_changes": int(events or 0),
    }


# --- logs, load and the run ----------------------------------------------------------------------


class LogTally(logging.Handler):
    """Counts warnings by logger (each retry logs one) and keeps the first errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings: Counter[str] = Counter()
        self.errors: list[str] = []
        self.error_count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.error_count += 1
            if len(self.errors) < 30:
                self.errors.append(f"{record.name}: {record.getMessage()}"[:400])
        else:
            self.warnings[record.name] += 1


async def run(opts: Options, url: str, logs: LogTally, began: float) -> dict[str, Any]:
    """The whole run on the scratch database at `url`: seed, request, dispatch, check."""
    load_before = machine_load()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    plan = plan_payouts(opts)
    running_fakes = fakes_in_subprocess if opts.fakes == "subprocess" else fakes_in_process
    async with (
        running_fakes(opts) as endpoints,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session,
    ):
        fakes = FakesClient(endpoints, session)
        eco = await Economy.start(settings_for(url))
        registry = build_registry(endpoints, opts)
        try:
            gate = AlwaysEligible()
            policy = replace(POLICY, lookup_after_seconds=opts.lookup_after)
            svc = PayoutService(eco=eco, gate=gate, providers=registry, policy=policy)
            creators = await seed_creators(eco, fakes, gate, plan, opts.creators)
            await fakes.add_faults(
                dropped_answers(opts.drop_rate)
                + transient_faults(opts.fault_rate, opts.retry_after)
            )
            setup_done = time.perf_counter()
            print(
                f"requesting {opts.payouts:,} payouts for {opts.creators} creators ...",
                file=sys.stderr,
                flush=True,
            )
            cpu_setup_done = process_cpu()
            refused = await request_all(svc, creators, plan, opts.request_concurrency)
            requested = time.perf_counter()
            cpu_requested = process_cpu()
            print(
                f"requested in {requested - setup_done:.1f}s; {opts.workers} workers dispatching",
                file=sys.stderr,
                flush=True,
            )
            dispatched = await dispatch_all(svc, opts)
            cpu_dispatched = process_cpu()
            check_began = time.perf_counter()
            statuses = await status_counts(eco)
            records = await fakes.records([c.stripe_account for c in creators])
            tally = await count_outcomes(eco, records, creators)
            wallets = await wallet_mismatches(eco, creators)
            async with eco.db.read() as conn:
                violations = [str(v) for v in await verify_ledger(conn)]
            pipeline = await pipeline_figures(eco)
            checked = time.perf_counter()
        finally:
            await registry.close()
            await eco.close()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = dispatched.settled_at - setup_done
    recorded = sum(statuses.values())
    ok = (
        dispatched.gave_up is None
        and not refused
        and recorded == opts.payouts
        and tally.lost == 0
        and tally.doubled == 0
        and tally.orphans_at_fakes == 0
        and not violations
        and not wallets
        and tally.money_ours_minor == tally.money_at_fakes_minor
    )
    return {
        "benchmark": "payouts",
        "payouts": opts.payouts,
        "paid": tally.paid,
        "lost": tally.lost,
        "doubled": tally.doubled,
        "payouts_per_s": round(recorded / wall, 2) if wall > 0 else 0.0,
        "ok": ok,
        "failed": tally.failed,
        "database": "postgresql" if opts.postgres else "sqlite",
        "fakes_run": f"{endpoints.where}, on 127.0.0.1",
        "compliance_gate": "out of scope: an always-eligible gate with seeded payout methods",
        "settlement": f"by lookup, no webhooks: lookup_after_seconds={opts.lookup_after:g}",
        "config": {
            "quick": opts.quick,
            "creators": opts.creators,
            "workers": opts.workers,
            "request_concurrency": opts.request_concurrency,
            "fault_rate": opts.fault_rate,
            "drop_rate": opts.drop_rate,
            "faults": "half SERVER_ERROR 500, half RATE_LIMIT 429, on every API path",
            "retry_after_s": opts.retry_after,
            "fake_advance_s": opts.advance_seconds,
            "seed": opts.seed,
            "policy": {
                "minimum_minor": POLICY.minimum_minor,
                "daily_cap_minor": POLICY.daily_cap_minor,
                "approval_threshold_minor": POLICY.approval_threshold_minor,
                "lease_seconds": POLICY.lease_seconds,
                "retry_base_seconds": POLICY.retry_base_seconds,
                "max_dispatch_attempts": POLICY.max_dispatch_attempts,
                "lookup_after_seconds": opts.lookup_after,
            },
            "submit_retries": {
                "max_attempts": RETRIES.max_attempts,
                "initial_backoff_s": RETRIES.initial_backoff_seconds,
                "max_backoff_s": RETRIES.max_backoff_seconds,
            },
        },
        "requested": recorded,
        "by_provider": dict(Counter(p.provider for p in plan)),
        "statuses": {s.value: n for s, n in sorted(statuses.items())},
        "request_refusals": {k: n for k, n in refused.items() if not k.startswith("crashed")},
        "request_crashes": {k: n for k, n in refused.items() if k.startswith("crashed")},
        "gave_up": dispatched.gave_up,
        "lost_reasons": dict(tally.reasons),
        "lost_examples": tally.examples,
        "orphans_at_fakes": tally.orphans_at_fakes,
        "money_paid_minor": {
            "ours": tally.money_ours_minor,
            "at_fakes": tally.money_at_fakes_minor,
        },
        "wallet_mismatches": wallets[:20],
        "ledger_verify": violations[:50] or "clean",
        "phases_s": {
            "setup": round(setup_done - began, 2),
            "request": round(requested - setup_done, 2),
            "dispatch_until_settled": round(dispatched.settled_at - requested, 2),
            "check": round(checked - check_began, 2),
            "first_request_to_all_settled": round(wall, 2),
        },
        "pipeline": {
            **pipeline,
            "worker_rounds": dispatched.rounds,
            "worker_round_failures": dispatched.round_failures,
            "warnings_by_logger": dict(logs.warnings),
            "errors_logged": logs.error_count,
            "first_errors": logs.errors,
        },
        "fakes": records.figures,
        "cpu_s": {
            "this_process": round(
                cpu_after.ru_utime + cpu_after.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
                1,
            ),
            "children": round(
                children_after.ru_utime
                + children_after.ru_stime
                - children_before.ru_utime
                - children_before.ru_stime,
                1,
            ),
        },
        "cpu_ms_per_payout": {
            "request": round((cpu_requested - cpu_setup_done) * 1000 / max(1, recorded), 2),
            "dispatch": round((cpu_dispatched - cpu_requested) * 1000 / max(1, recorded), 2),
        },
        "load": {"before": load_before, "after": machine_load()},
    }


def process_cpu() -> float:
    """Seconds of CPU this process (every thread of it) has used so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def print_report(report: Mapping[str, Any], out: Path) -> None:
    config = report["config"]
    phases = report["phases_s"]
    fakes = report["fakes"]
    by_provider = ", ".join(f"{k} {v:,}" for k, v in sorted(report["by_provider"].items()))
    lines = [
        "",
        f"Payouts benchmark: {report['database']}, {report['payouts']:,} payouts ({by_provider}),"
        f" {config['workers']} workers, {config['fault_rate']:.0%} transient faults"
        + (f", {config['drop_rate']:.0%} dropped POSTs" if config["drop_rate"] else "")
        + ", fakes "
        f"{report['fakes_run']}",
        f"  {'payouts':<16}{report['payouts']:>10,}",
        f"  {'paid':<16}{report['paid']:>10,}",
        f"  {'failed':<16}{report['failed']:>10,}",
        f"  {'lost':<16}{report['lost']:>10,}",
        f"  {'doubled':<16}{report['doubled']:>10,}",
        f"  {'payouts/s':<16}{report['payouts_per_s']:>10,.1f}",
        f"  phases (s)      setup {phases['setup']}, request {phases['request']}, dispatch "
        f"{phases['dispatch_until_settled']}, check {phases['check']}",
    ]
    for name, seen in fakes.items():
        share = f"{seen['faulted_share']:.1%}" if seen["faulted_share"] is not None else "?"
        requests = f"{seen['requests']:,}" if seen["requests"] is not None else "?"
        lines.append(
            f"  fake {name:<10} {requests} requests, {seen['faulted']:,} faulted "
            f"({share}: {seen['faults']})"
        )
    pipeline = report["pipeline"]
    load = report["load"]
    lines += [
        f"  pipeline        {pipeline['dispatch_attempts']:,} dispatch attempts, "
        f"{pipeline['payouts_that_went_unknown']} went unknown, "
        f"{pipeline['worker_round_failures']} failed rounds, "
        f"{pipeline['errors_logged']} errors logged",
        f"  money paid      ours {report['money_paid_minor']['ours']:,}, at the fakes "
        f"{report['money_paid_minor']['at_fakes']:,} (minor units)",
        f"  ledger verify   {report['ledger_verify']}",
        "  wallets         "
        + ("seeded - paid, nothing held" if not report["wallet_mismatches"] else "MISMATCHES"),
        f"  load (uptime)   {load['before']['load_1m']} -> {load['after']['load_1m']} on "
        f"{load['after']['cores']} cores; "
        f"cpu {report['cpu_s']['this_process']}s here, {report['cpu_s']['children']}s children",
        f"  cpu per payout  request {report['cpu_ms_per_payout']['request']} ms, dispatch "
        f"{report['cpu_ms_per_payout']['dispatch']} ms (this process; CPU probe "
        f"{load['before']['cpu_probe_ms']} -> {load['after']['cpu_probe_ms']} ms)",
        f"  compliance      {report['compliance_gate']}",
    ]
    if report["gave_up"]:
        lines.append(f"  GAVE UP         {report['gave_up']}")
    if report["lost_reasons"]:
        lines.append(f"  lost because    {report['lost_reasons']}")
    if report["request_refusals"]:
        lines.append(f"  refused         {report['request_refusals']}")
    if report["request_crashes"]:
        lines.append(f"  CRASHED         {report['request_crashes']} (requests that raised)")
    for error in pipeline["first_errors"][:5]:
        lines.append(f"  error           {error}")
    lines.append(f"  {'OK' if report['ok'] else 'NOT OK'}; written to {out}")
    print("\n".join(lines))


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.payouts",
        description="Push payouts through the pipeline against the fake Stripe and PayPal "
        "servers with transient faults; count paid, lost and doubled payouts.",
    )
    parser.add_argument("--quick", action="store_true", help="500 payouts instead of 10,000")
    parser.add_argument("--payouts", type=int, help="how many payouts (overrides --quick)")
    parser.add_argument("--creators", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4, help="concurrent dispatchers")
    parser.add_argument("--request-concurrency", type=int, default=16)
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.05,
        help="share of API requests answered 500 or 429 (half each; default 0.05)",
    )
    parser.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        help="share of POSTs that take effect, then drop the connection (unknown outcomes; "
        "default 0)",
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After of the injected 429s, in seconds"
    )
    parser.add_argument(
        "--advance-seconds",
        type=float,
        default=0.25,
        help="the fakes move each payout one step on every that many seconds",
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="run on a scratch database on this PostgreSQL server"
    )
    parser.add_argument(
        "--lookup-after",
        type=float,
        default=0.0,
        help="the policy's lookup_after_seconds: how long a submitted payout waits between "
        "lookups (default 0: every worker round)",
    )
    parser.add_argument("--seed", type=int, default=20_240_601)
    parser.add_argument("--timeout", type=float, help="give up after this many seconds")
    parser.add_argument(
        "--stall", type=float, default=60.0, help="give up when nothing settles for this long"
    )
    parser.add_argument(
        "--fakes",
        choices=("subprocess", "in-process"),
        default="subprocess",
        help="run the fake servers in a child process (default) or in this one",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    count = args.payouts or (500 if args.quick else 10_000)
    if count < 1 or args.creators < 1 or args.workers < 1 or args.request_concurrency < 1:
        parser.error("--payouts, --creators, --workers and --request-concurrency must be >= 1")
    if not 0 <= args.fault_rate < 1 or not 0 <= args.drop_rate < 1:
        parser.error("--fault-rate and --drop-rate must be from 0 to below 1")
    return Options(
        payouts=count,
        creators=args.creators,
        workers=args.workers,
        request_concurrency=args.request_concurrency,
        fault_rate=args.fault_rate,
        drop_rate=args.drop_rate,
        retry_after=args.retry_after,
        advance_seconds=args.advance_seconds,
        postgres=args.postgres,
        seed=args.seed,
        timeout=args.timeout or (120.0 if count <= 1_000 else 1_800.0),
        stall=args.stall,
        out=args.out,
        quick=args.quick,
        fakes=args.fakes,
        lookup_after=args.lookup_after,
    )


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_options(argv)
    logs = LogTally()
    console = logging.StreamHandler()
    console.setLevel(logging.ERROR)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(console)
    root.addHandler(logs)
    began = time.perf_counter()
    kind = "postgres" if opts.postgres else "sqlite"
    with scratch_database(kind, admin_url=opts.postgres) as url:
        figures = asyncio.run(run(opts, url, logs, began))
    write_results("payouts", figures, opts.out)
    print_report(figures, opts.out)
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
