"""What a provider says about one attempt of a payout, applied as the money says, in one place:
the usual moves, stale news noted and ignored, reversals confirmed first, and contradictions
(paid after we called it failed, paid under two attempts) booked with correcting entries and
flagged as discrepancies for FINANCE. Webhooks, the worker, lookups and FINANCE's actions use it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from economy.users import by_id
from kernel.clock import as_utc
from kernel.logs import log_scope
from payouts.attempts import (
    Attempt,
    AttemptOutcome,
    SettledBy,
    load_attempt,
    record_attempt,
)
from payouts.discrepancies import DiscrepancyKind, flag_discrepancy
from payouts.service import PayoutService
from payouts.states import HOLDING, PayoutStatus, allowed
from payouts.store import Payout, load_payout, record_event
from providers.base import PayoutResult, PayoutState

log = logging.getLogger(__name__)

S = PayoutStatus

STATE_TO_STATUS = {
    PayoutState.PENDING: S.SUBMITTED,
    PayoutState.PAID: S.PAID,
    PayoutState.FAILED: S.FAILED,
    PayoutState.RETURNED: S.RETURNED,
    PayoutState.CANCELED: S.CANCELED,
    PayoutState.UNKNOWN: S.UNKNOWN,
}

STATE_TO_OUTCOME = {
    PayoutState.PENDING: AttemptOutcome.PENDING,
    PayoutState.PAID: AttemptOutcome.PAID,
    PayoutState.FAILED: AttemptOutcome.FAILED,
    PayoutState.RETURNED: AttemptOutcome.RETURNED,
    PayoutState.CANCELED: AttemptOutcome.CANCELED,
    PayoutState.UNKNOWN: AttemptOutcome.UNKNOWN,
}

NOT_PAID = frozenset({PayoutState.FAILED, PayoutState.RETURNED, PayoutState.CANCELED})


@dataclass(frozen=True)
class ProviderNews:
    """One thing a provider said about one attempt."""

    state: PayoutState
    source: str
    """Who brought it: `webhook:<slug>`, `worker:<name>`, `lookup:<subject>`."""
    confirmed: bool
    """An answer to our own call (submit, lookup, cancel), not news pushed at us."""
    occurred_at: datetime | None = None
    """The provider's time for it (a webhook's event time); None for answers to our calls."""
    provider_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    event_id: str | None = None
    raw_type: str | None = None

    @classmethod
    def answered(cls, result: PayoutResult, source: str) -> ProviderNews:
        """The provider's answer to our own call (a submit, a lookup, a cancel)."""
        return cls(
            state=result.state,
            source=source,
            confirmed=True,
            provider_reference=result.provider_reference,
            failure_code=result.failure_code,
            failure_message=result.failure_message,
        )

    @property
    def label(self) -> str:
        return self.raw_type or self.state.value


class Result(enum.StrEnum):
    APPLIED = "applied"
    """The payout moved as the provider said."""
    IGNORED = "ignored"
    """Nothing to change (already known, or older than what set the current status); noted."""
    FLAGGED = "flagged"
    """It contradicted our records: booked as the money says (or held back) and flagged."""
    NEEDS_CONFIRMATION = "needs confirmation"
    """A reversal or contradiction pushed at us: look it up before booking anything."""


@dataclass(frozen=True)
class Heard:
    """What became of one piece of news, and the payout as it now stands."""

    result: Result
    payout: Payout


def needs_confirmation(payout: Payout, attempt: Attempt, news: ProviderNews) -> bool:
    """Would this news move money against our records? Then a webhook's word is not enough:
    the provider is asked first (where it can be)."""
    if news.confirmed:
        return False
    if attempt.number == payout.generation and _older_than_current(attempt, news):
        return False  # noted and ignored without asking anyone
    if attempt.number != payout.generation:
        return news.state is PayoutState.PAID and attempt.outcome is not AttemptOutcome.PAID
    if payout.status is S.PAID:
        return news.state in NOT_PAID
    if payout.status in (S.FAILED, S.CANCELED):
        return news.state is PayoutState.PAID
    return False


async def apply_news(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, number: int, news: ProviderNews
) -> Heard:
    """Apply `news` about attempt `number` of `payout` (as read in this write transaction).
    Returns NEEDS_CONFIRMATION without writing anything when the caller must look it up first;
    every other result has left a history entry, an attempt update or a status change."""
    with log_scope(payout_id=payout.id):
        return await _apply_news(svc, conn, payout, number, news)


async def _apply_news(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, number: int, news: ProviderNews
) -> Heard:
    attempt = await load_attempt(conn, payout.id, number)
    if attempt is None:
        raise LookupError(f"payout {payout.id} has no attempt {number}")
    if needs_confirmation(payout, attempt, news):
        return Heard(Result.NEEDS_CONFIRMATION, payout)
    if number != payout.generation:
        return await _earlier_attempt(svc, conn, payout, attempt, news)
    if _older_than_current(attempt, news):
        await _note(
            svc,
            conn,
            payout,
            news,
            f"ignored {news.label}: older than the news that set {payout.status.value}",
        )
        return Heard(Result.IGNORED, payout)
    target = STATE_TO_STATUS[news.state]
    if payout.status in HOLDING and target is not payout.status and allowed(payout.status, target):
        return await _move(svc, conn, payout, attempt, news, target)
    if payout.status is S.PAID and news.state in NOT_PAID:
        # Confirmed by the provider: the money came back.
        return await _move(svc, conn, payout, attempt, news, S.RETURNED)
    if payout.status in (S.FAILED, S.CANCELED) and news.state is PayoutState.PAID:
        return await _paid_after_all(svc, conn, payout, attempt, news)
    if payout.status is S.RETURNED and news.state is PayoutState.PAID:
        await _record(conn, payout, attempt, news)
        await _flag(
            svc,
            conn,
            payout,
            attempt,
            news,
            DiscrepancyKind.PAID_AFTER_RETURNED,
            "the provider reports a payment after the payout came back; nothing was booked",
        )
        return Heard(Result.FLAGGED, payout)
    if news.state is PayoutState.PAID and attempt.outcome is not AttemptOutcome.PAID:
        # Paid while we thought it was never sent (awaiting approval, on hold): still booked.
        return await _paid_unexpectedly(svc, conn, payout, attempt, news)
    return await _settle_attempt_only(svc, conn, payout, attempt, news)


async def _paid_unexpectedly(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, attempt: Attempt, news: ProviderNews
) -> Heard:
    await _record(conn, payout, attempt, news)
    return await _book_another_payment(
        svc,
        conn,
        payout,
        attempt,
        news,
        DiscrepancyKind.PAID_UNEXPECTEDLY,
        f"attempt {attempt.number} was paid while the payout was {payout.status.value}",
    )


async def _book_another_payment(
    svc: PayoutService,
    conn: AsyncConnection,
    payout: Payout,
    attempt: Attempt,
    news: ProviderNews,
    kind: DiscrepancyKind,
    what: str,
) -> Heard:
    """Book a payment the payout's hold does not cover (the diamonds from what the creator has
    available, the rest owed) and flag it; the payout keeps its status."""
    creator = await by_id(conn, payout.user_id)
    assert creator is not None
    owed = await svc.book.book_payment_again(
        conn, payout, creator.diamond_account_id, f"PAYOUT_{kind.value}"
    )
    await _flag(
        svc,
        conn,
        payout,
        attempt,
        news,
        kind,
        f"{what}; booked as a payment"
        + (f", {owed:,} diamonds owed by the creator" if owed else ""),
        owed=owed,
    )
    reloaded = await load_payout(conn, payout.id)
    assert reloaded is not None
    return Heard(Result.FLAGGED, reloaded)


def _older_than_current(attempt: Attempt, news: ProviderNews) -> bool:
    return (
        news.occurred_at is not None
        and attempt.outcome_at is not None
        and as_utc(news.occurred_at) < as_utc(attempt.outcome_at)
    )


async def _move(
    svc: PayoutService,
    conn: AsyncConnection,
    payout: Payout,
    attempt: Attempt,
    news: ProviderNews,
    target: PayoutStatus,
    *,
    correcting: bool = False,
    receipt: dict[str, int] | None = None,
) -> Heard:
    changes: dict[str, object] = {}
    if news.provider_reference and not payout.provider_reference:
        changes["provider_reference"] = news.provider_reference[:255]
    if news.failure_code:
        changes["failure_code"] = news.failure_code[:64]
    if news.failure_message:
        changes["failure_message"] = news.failure_message[:500]
    details: dict[str, object] = {"attempt": attempt.number}
    if news.event_id:
        details["event_id"] = news.event_id
    if news.failure_code:
        details["code"] = news.failure_code
    moved = await svc.move(
        conn,
        payout,
        target,
        actor=news.source,
        reason=news.failure_message or news.label,
        details=details,
        changes=changes,
        correcting=correcting,
        receipt=receipt,
    )
    await _record(conn, payout, attempt, news)
    return Heard(Result.APPLIED, moved)


async def _record(
    conn: AsyncConnection, payout: Payout, attempt: Attempt, news: ProviderNews
) -> None:
    outcome = STATE_TO_OUTCOME[news.state]
    known = outcome is not AttemptOutcome.UNKNOWN or attempt.outcome is AttemptOutcome.NOT_SENT
    # Only the provider's own times order its news (our clock and its whole-second stamps
    # do not compare): an answer to our call leaves the time of the news it replaced.
    await record_attempt(
        conn,
        payout.id,
        attempt.number,
        outcome=outcome if known else None,
        settled_by=SettledBy.PROVIDER if known else None,
        provider_reference=news.provider_reference,
        failure_code=news.failure_code,
        failure_message=news.failure_message,
        outcome_at=news.occurred_at,
    )


async def _settle_attempt_only(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, attempt: Attempt, news: ProviderNews
) -> Heard:
    """News that moves no money: the attempt learns it, the history notes it if it is new."""
    outcome = STATE_TO_OUTCOME[news.state]
    if attempt.outcome is outcome and attempt.settled_by is not SettledBy.MANUAL:
        if news.provider_reference and not attempt.provider_reference:
            await _record(conn, payout, attempt, news)
        return Heard(Result.IGNORED, payout)
    if attempt.outcome is AttemptOutcome.PAID and outcome is AttemptOutcome.PENDING:
        await _note(svc, conn, payout, news, f"ignored {news.label}: the attempt is already paid")
        return Heard(Result.IGNORED, payout)
    await _record(conn, payout, attempt, news)
    if payout.status in (S.FAILED, S.CANCELED) and outcome in (
        AttemptOutcome.PENDING,
        AttemptOutcome.UNKNOWN,
    ):
        log.warning(
            "payout %s is %s but %s says attempt %s is %s: it may still pay",
            payout.id,
            payout.status.value,
            news.source,
            attempt.number,
            outcome.value,
        )
    await _note(svc, conn, payout, news, f"{news.label}: attempt {attempt.number} is {outcome}")
    return Heard(Result.IGNORED, payout)


async def _paid_after_all(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, attempt: Attempt, news: ProviderNews
) -> Heard:
    """The provider paid the current attempt after we had released its hold: book the payment
    (diamonds back from the creator, the rest owed), move to PAID, flag it."""
    before = payout.status
    receipt: dict[str, int] = {}
    moved = await _move(svc, conn, payout, attempt, news, S.PAID, correcting=True, receipt=receipt)
    owed = receipt.get("owed", 0)
    await _flag(
        svc,
        conn,
        moved.payout,
        attempt,
        news,
        DiscrepancyKind.PAID_AFTER_FAILED,
        f"paid by the provider after we had recorded it {before.value}; booked as paid"
        + (f", {owed:,} diamonds owed by the creator" if owed else ""),
        our_status=before,
        owed=owed,
    )
    reloaded = await load_payout(conn, payout.id)
    assert reloaded is not None
    return Heard(Result.FLAGGED, reloaded)


async def _earlier_attempt(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, attempt: Attempt, news: ProviderNews
) -> Heard:
    """News about an attempt a retry has superseded. A payment is money that moved: when the
    current attempt has not left yet, the earlier payment is the payout's (and the current
    attempt is dropped); otherwise it is booked as a second payment. Both are flagged."""
    if news.state is not PayoutState.PAID or attempt.outcome is AttemptOutcome.PAID:
        return await _settle_attempt_only(svc, conn, payout, attempt, news)
    await _record(conn, payout, attempt, news)
    current = await load_attempt(conn, payout.id, payout.generation)
    assert current is not None
    unsent = (
        payout.status is S.APPROVED
        and current.outcome is AttemptOutcome.NOT_SENT
        and payout.first_sent_at is None
        and payout.lease_owner is None
    )
    if unsent:
        moved = await svc.move(
            conn,
            payout,
            S.PAID,
            actor=news.source,
            reason=f"attempt {attempt.number} was paid after all; attempt {current.number} "
            "is not sent",
            details={"attempt": attempt.number, "event_id": news.event_id},
        )
        await record_attempt(
            conn,
            payout.id,
            current.number,
            outcome=AttemptOutcome.CANCELED,
            failure_message=f"not sent: attempt {attempt.number} was paid",
        )
        await _flag(
            svc,
            conn,
            moved,
            attempt,
            news,
            DiscrepancyKind.PAID_AFTER_FAILED,
            f"attempt {attempt.number}, recorded {attempt.outcome.value}, was paid; it is "
            f"this payout's payment and attempt {current.number} was not sent",
            our_status=payout.status,
        )
        reloaded = await load_payout(conn, payout.id)
        assert reloaded is not None
        return Heard(Result.FLAGGED, reloaded)
    return await _book_another_payment(
        svc,
        conn,
        payout,
        attempt,
        news,
        DiscrepancyKind.PAID_TWICE,
        f"attempt {attempt.number}, recorded {attempt.outcome.value}, was paid besides "
        f"attempt {current.number} ({payout.status.value})",
    )


async def flag_unconfirmed_reversal(
    svc: PayoutService,
    conn: AsyncConnection,
    payout: Payout,
    number: int,
    news: ProviderNews,
    why: str,
) -> Heard:
    """A webhook says a paid payout failed and the provider does not (or cannot) confirm it:
    nothing is booked; it is noted and flagged for FINANCE."""
    attempt = await load_attempt(conn, payout.id, number)
    assert attempt is not None
    await _flag(
        svc,
        conn,
        payout,
        attempt,
        news,
        DiscrepancyKind.REVERSAL_UNCONFIRMED,
        f"{news.label} after {payout.status.value} not booked: {why}",
    )
    return Heard(Result.FLAGGED, payout)


async def note_ignored(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, news: ProviderNews, why: str
) -> Heard:
    await _note(svc, conn, payout, news, f"ignored {news.label}: {why}")
    return Heard(Result.IGNORED, payout)


async def _note(
    svc: PayoutService, conn: AsyncConnection, payout: Payout, news: ProviderNews, reason: str
) -> None:
    """A history entry that changes no status (from = to)."""
    log.info("payout %s: %s (%s)", payout.id, reason, news.source)
    details: dict[str, object] = {"note": True, "provider_state": news.state.value}
    if news.event_id:
        details["event_id"] = news.event_id
    if news.occurred_at is not None:
        details["occurred_at"] = as_utc(news.occurred_at).isoformat()
    await record_event(
        conn,
        payout.id,
        payout.status,
        payout.status,
        actor=news.source,
        reason=reason,
        details=details,
    )


async def _flag(
    svc: PayoutService,
    conn: AsyncConnection,
    payout: Payout,
    attempt: Attempt,
    news: ProviderNews,
    kind: DiscrepancyKind,
    message: str,
    *,
    our_status: PayoutStatus | None = None,
    owed: int = 0,
) -> None:
    log.warning("payout %s: discrepancy %s: %s (%s)", payout.id, kind.value, message, news.source)
    await flag_discrepancy(
        conn,
        payout.id,
        attempt.number,
        kind,
        provider_state=news.state.value,
        our_status=(our_status or payout.status).value,
        message=message,
        source=news.source,
        owed_diamonds=owed,
    )
    await record_event(
        conn,
        payout.id,
        payout.status,
        payout.status,
        actor=news.source,
        reason=f"discrepancy {kind.value}: {message}",
        details={"discrepancy": kind.value, "attempt": attempt.number, "owed": owed},
    )
    reloaded = await load_payout(conn, payout.id)
    assert reloaded is not None
    svc.changed(reloaded)
