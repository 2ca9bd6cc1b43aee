"""One reconciliation run: claim the provider-period, read our attempts of the period and the
provider's own records, match them, book what money moved against our records (as the provider's
own word, flagged for FINANCE), and store the results in place of any earlier run's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.clock import as_utc, utcnow
from kernel.errors import DomainError
from payouts.attempts import UNSETTLED, AttemptOutcome
from payouts.discrepancies import DiscrepancyKind, discrepancies_of, flag_discrepancy
from payouts.reconciliation.matching import (
    FINAL_STATES,
    Match,
    MatchClass,
    OurAttempt,
    Outcome,
    reconcile,
)
from payouts.reconciliation.records import read_their_records
from payouts.reconciliation.store import (
    Item,
    Run,
    claim_run,
    fail_run,
    items_of,
    load_run,
    save_results,
)
from payouts.service import PayoutService
from payouts.store import load_payout
from payouts.tables import payout_attempts, payouts
from payouts.webhooks import apply_statement
from providers.base import Capability, PayoutProvider, PayoutState, StatusUpdate
from providers.records import ProviderRecord

log = logging.getLogger(__name__)

MARGIN = timedelta(days=1)
"""The provider's records are read this far either side of the period: a payout sent at 23:59
may be created at the provider after midnight."""
STALE_RUN = timedelta(minutes=30)
"""A RUNNING run older than this is taken to have died with its worker, and may be taken over."""
MAX_DAYS = 31
"""The longest period one run covers."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    """Exclusive: one day is [D, D + 1)."""

    @classmethod
    def day(cls, day: date) -> Period:
        return cls(day, day + timedelta(days=1))

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)


def checked_period(start: date, end: date | None = None) -> Period:
    """The days from `start` to `end` (exclusive; by default the day after `start`), refused
    with INVALID_PERIOD when empty, too long or not started (the last day of the calendar has
    no day after it: an empty period, not an OverflowError)."""
    if end is None:
        end = start + timedelta(days=1) if start < date.max else start
    if end <= start:
        raise DomainError("INVALID_PERIOD", "the period must end after it starts", "until")
    if (end - start).days > MAX_DAYS:
        raise DomainError(
            "INVALID_PERIOD",
            f"one run covers at most {MAX_DAYS} days; run days one by one",
            "until",
        )
    if start > utcnow().date():
        raise DomainError("INVALID_PERIOD", "the period has not started yet", "since")
    return Period(start, end)


def reconcilable(svc: PayoutService, slug: str) -> PayoutProvider:
    """The provider, refused when it cannot list its own records (or is not configured here)."""
    provider = svc.provider(slug)
    if Capability.RECONCILE not in provider.capabilities:
        raise DomainError(
            "RECONCILE_UNSUPPORTED",
            f"{slug} cannot list its settled payouts, so it cannot be reconciled",
            "provider",
        )
    return provider


async def our_attempts(conn: AsyncConnection, slug: str, period: Period) -> list[OurAttempt]:
    """Our attempts at `slug` first sent in the period that the provider's books should show:
    every one with a provider reference, and every one that may have reached it."""
    a, p = payout_attempts.c, payouts.c
    rows = await conn.execute(
        select(
            a.payout_id,
            a.number,
            a.idempotency_key,
            a.provider_reference,
            a.outcome,
            a.first_sent_at,
            p.net_minor,
            p.currency,
            p.user_id,
        )
        .join(payouts, p.id == a.payout_id)
        .where(
            p.provider == slug,
            a.first_sent_at >= period.since,
            a.first_sent_at < period.until,
            or_(
                a.provider_reference.is_not(None),
                a.outcome.in_(
                    [
                        AttemptOutcome.PENDING.value,
                        AttemptOutcome.UNKNOWN.value,
                        AttemptOutcome.PAID.value,
                        AttemptOutcome.RETURNED.value,
                    ]
                ),
            ),
        )
        .order_by(a.payout_id, a.number)
    )
    return [
        OurAttempt(
            payout_id=int(r.payout_id),
            attempt_number=int(r.number),
            reference=r.idempotency_key,
            provider_reference=r.provider_reference,
            amount_minor=int(r.net_minor),
            currency=r.currency,
            outcome=AttemptOutcome(r.outcome),
            sent_at=as_utc(r.first_sent_at),
            user_id=int(r.user_id),
        )
        for r in rows
    ]


async def _ours_anywhere(
    conn: AsyncConnection, slug: str, records: list[ProviderRecord]
) -> frozenset[str]:
    """Which of these provider references (or echoed keys of ours) belong to any attempt of
    ours at `slug`, whatever its period."""
    refs = {r.provider_reference for r in records}
    keys = {r.payout_id for r in records if r.payout_id}
    found: set[str] = set()
    a, p = payout_attempts.c, payouts.c
    for chunk in _chunks(sorted(refs), 500):
        rows = await conn.execute(
            select(a.provider_reference)
            .join(payouts, p.id == a.payout_id)
            .where(p.provider == slug, a.provider_reference.in_(chunk))
        )
        found.update(r[0] for r in rows)
    for chunk in _chunks(sorted(keys), 500):
        rows = await conn.execute(
            select(a.idempotency_key)
            .join(payouts, p.id == a.payout_id)
            .where(p.provider == slug, a.idempotency_key.in_(chunk))
        )
        found.update(r[0] for r in rows)
    return frozenset(found)


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


async def reconcile_period(
    svc: PayoutService,
    slug: str,
    period: Period,
    *,
    actor: str,
    rerun: bool = True,
    window: timedelta | None = None,
) -> Run | None:
    """Reconcile `slug` over `period`. Returns the finished run, or None when another worker is
    running it (or, without `rerun`, it has run already). A provider that cannot be read leaves
    the run FAILED with the reason, and raises."""
    provider = reconcilable(svc, slug)
    settle = window if window is not None else svc.policy.settlement_window
    async with svc.eco.db.write() as conn:
        run_id = await claim_run(
            conn, slug, period.start, period.end, actor=actor, rerun=rerun, stale_after=STALE_RUN
        )
    if run_id is None:
        return None
    try:
        async with svc.eco.db.read() as conn:
            ours = await our_attempts(conn, slug, period)
        theirs = await read_their_records(
            provider, period.since - MARGIN, period.until + MARGIN, ours
        )
        async with svc.eco.db.read() as conn:
            known = await _ours_anywhere(conn, slug, theirs)
            earlier = await items_of(conn, run_id)

        def matched(attempts: list[OurAttempt]) -> Outcome:
            return reconcile(
                attempts,
                theirs,
                now=utcnow(),
                window=settle,
                period=(period.since, period.until),
                known_references=known,
            )

        outcome = matched(ours)
        if await _catch_up(svc, slug, run_id, outcome):
            async with svc.eco.db.read() as conn:
                ours = await our_attempts(conn, slug, period)
            outcome = matched(ours)
        flagged = await _feed_discrepancies(svc, slug, run_id, outcome, earlier)
        kept = _still_exceptions(outcome, earlier)
        async with svc.eco.db.write() as conn:
            await save_results(
                conn,
                run_id,
                outcome,
                their_count=sum(1 for r in theirs if period.since <= r.listed_at < period.until),
                discrepancies=flagged,
                kept=kept,
            )
            run = await load_run(conn, run_id)
    except Exception as exc:
        async with svc.eco.db.write() as conn:
            await fail_run(conn, run_id, f"{type(exc).__name__}: {exc}")
        log.exception("reconciliation of %s %s..%s failed", slug, period.start, period.end)
        raise
    assert run is not None
    log.info(
        "reconciled %s %s..%s: %d of ours, %d of theirs, %d exceptions",
        slug,
        period.start,
        period.end,
        run.our_count,
        run.their_count,
        run.exception_count,
    )
    return run


async def _catch_up(svc: PayoutService, slug: str, run_id: int, outcome: Outcome) -> int:
    """Where our records still wait (PENDING, UNKNOWN) and the provider's books are final for
    the same amount, the provider's word is applied as a lookup's would be: a missed webhook
    or a statement nobody imported yet. Returns how many were applied."""
    applied = 0
    for match in outcome.matches:
        ours, theirs = match.ours, match.theirs
        if (
            ours is None
            or theirs is None
            or ours.outcome not in UNSETTLED
            or theirs.state not in FINAL_STATES
            or (theirs.amount_minor, theirs.currency) != (ours.amount_minor, ours.currency)
        ):
            continue
        await apply_statement(svc, slug, _statement(run_id, ours, theirs))
        applied += 1
    return applied


def _statement(run_id: int, ours: OurAttempt, theirs: ProviderRecord) -> StatusUpdate:
    """The provider's record as a statement line, applied once per attempt and state."""
    return StatusUpdate(
        event_id=f"reconciliation:{ours.reference}:{theirs.state.value}",
        state=theirs.state,
        occurred_at=theirs.occurred_at,
        payout_id=ours.reference,
        provider_reference=theirs.provider_reference,
        raw_type=f"reconciliation run {run_id}: {theirs.raw_status}",
        failure_code=theirs.failure_code,
    )


def _still_exceptions(outcome: Outcome, earlier: dict[str, Item]) -> dict[str, Item]:
    """Earlier exceptions our own booking has since cured (the payout now agrees with the
    provider because this reconciliation booked it): they stand until FINANCE resolves them."""
    kept: dict[str, Item] = {}
    for match in outcome.matches:
        before = earlier.get(match.key)
        if (
            before is not None
            and before.is_exception
            and before.discrepancy_id is not None
            and match.klass is MatchClass.MATCHED
        ):
            kept[match.key] = before
    return kept


async def _feed_discrepancies(
    svc: PayoutService, slug: str, run_id: int, outcome: Outcome, earlier: dict[str, Item]
) -> dict[str, int]:
    """Money that moved against our records is booked as the provider's books say (a status
    mismatch) or flagged (an amount mismatch), once per payout and key; returns the discrepancy
    each such match opened."""
    opened: dict[str, int] = {}
    for match in outcome.matches:
        before = earlier.get(match.key)
        if before is not None and before.discrepancy_id is not None:
            continue
        if match.money_moved_against_us:
            found = await _book_provider_word(svc, slug, run_id, match)
        elif match.klass is MatchClass.AMOUNT_MISMATCH and match.ours and match.theirs:
            found = await _flag_amount(svc, slug, run_id, match)
        else:
            continue
        if found is not None:
            opened[match.key] = found
    return opened


async def _book_provider_word(
    svc: PayoutService, slug: str, run_id: int, match: Match
) -> int | None:
    assert match.ours is not None
    assert match.theirs is not None
    async with svc.eco.db.read() as conn:
        before = {d.id for d in await discrepancies_of(conn, match.ours.payout_id)}
    await apply_statement(svc, slug, _statement(run_id, match.ours, match.theirs))
    async with svc.eco.db.read() as conn:
        after = [
            d for d in await discrepancies_of(conn, match.ours.payout_id) if d.id not in before
        ]
        if after:
            return after[-1].id
    # The statement moved the payout without a contradiction of its own (a payment we had not
    # heard of yet, long past the window): still one for FINANCE to see.
    return await _flag(svc, slug, run_id, match, DiscrepancyKind.RECONCILIATION_STATUS)


async def _flag_amount(svc: PayoutService, slug: str, run_id: int, match: Match) -> int | None:
    """A paid payout for another amount: flagged, nothing booked (FINANCE decides)."""
    assert match.theirs is not None
    if match.theirs.state is not PayoutState.PAID:
        return None
    return await _flag(svc, slug, run_id, match, DiscrepancyKind.AMOUNT_MISMATCH)


async def _flag(
    svc: PayoutService, slug: str, run_id: int, match: Match, kind: DiscrepancyKind
) -> int:
    """Open a discrepancy of `kind` on the match's payout, named after this run."""
    assert match.ours is not None
    assert match.theirs is not None
    async with svc.writing() as conn:
        payout = await load_payout(conn, match.ours.payout_id)
        assert payout is not None
        found = await flag_discrepancy(
            conn,
            payout.id,
            match.ours.attempt_number,
            kind,
            provider_state=match.theirs.state.value,
            our_status=match.ours.outcome.value,
            message=match.reason,
            source=f"reconciliation:{run_id}",
        )
        svc.changed(payout)
    log.warning("reconciliation of %s: payout %d: %s", slug, payout.id, match.reason)
    return found
