"""What people do to a payout after it is requested: FINANCE approves (never their own), rejects,
retries a failed one, resolves a stuck one (asking the provider first) or acknowledges a
discrepancy; a creator cancels their own before dispatch. Every decision is audited.
"""

from __future__ import annotations

from sqlalchemy import or_

from economy.users import User
from economy.wallets import diamonds_available
from kernel.clock import as_utc, utcnow
from kernel.errors import DomainError, NotFound
from kernel.validation import text_field
from ledger import InsufficientFunds
from payouts.actors import LOOKUP_PREFIX
from payouts.asking import Answer, ask, cancel
from payouts.attempts import (
    Attempt,
    AttemptOutcome,
    SettledBy,
    load_attempt,
    record_attempt,
    start_attempt,
)
from payouts.discrepancies import Discrepancy, load_discrepancy
from payouts.discrepancies import acknowledge_discrepancy as acknowledge
from payouts.outcomes import ProviderNews, apply_news
from payouts.service import (
    PayoutService,
    audit,
    payout_for_update,
    transition_refused,
)
from payouts.states import CANCELABLE_BY_CREATOR, PayoutStatus
from payouts.store import Payout, PayoutTransitionRefused, StaleStatus, load_payout
from payouts.tables import payouts
from providers.base import Capability, PayoutProvider, PayoutState

MAX_REASON = 500


def _reason(reason: str) -> str:
    return text_field(
        reason, field="reason", code="INVALID_REASON", max_length=MAX_REASON, what="the reason"
    )


async def approve_payout(svc: PayoutService, approver: User, payout_id: int) -> Payout:
    """AWAITING_APPROVAL or ON_HOLD -> APPROVED, by FINANCE other than the requester."""
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        if payout.user_id == approver.id or payout.requested_by == approver.subject:
            raise DomainError(
                "SELF_APPROVAL",
                "a payout must be approved by someone other than its requester",
                "payoutId",
            )
        _must_be(payout, REVIEWABLE, "only payouts awaiting approval or on hold can be approved")
        try:
            moved = await svc.move(
                conn,
                payout,
                PayoutStatus.APPROVED,
                actor=approver.subject,
                reason="approved",
                changes={"approved_by": approver.subject, "next_attempt_at": utcnow()},
            )
        except (PayoutTransitionRefused, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await audit(conn, approver.subject, "PAYOUT_APPROVED", payout.id, {})
        return moved


async def reject_payout(svc: PayoutService, reviewer: User, payout_id: int, reason: str) -> Payout:
    """AWAITING_APPROVAL or ON_HOLD -> REJECTED; the diamonds are released."""
    why = _reason(reason)
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        _must_be(payout, REVIEWABLE, "only payouts awaiting approval or on hold can be rejected")
        try:
            moved = await svc.move(
                conn, payout, PayoutStatus.REJECTED, actor=reviewer.subject, reason=why
            )
        except (PayoutTransitionRefused, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await audit(conn, reviewer.subject, "PAYOUT_REJECTED", payout.id, {"reason": why})
        return moved


async def cancel_payout(
    svc: PayoutService, actor: User, payout_id: int, *, on_behalf: bool = False
) -> Payout:
    """Cancel before dispatch: the creator their own, FINANCE (`on_behalf`) anyone's. A payout a
    worker is dispatching right now cannot be canceled (PAYOUT_IN_FLIGHT)."""
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        if payout.user_id != actor.id and not on_behalf:
            raise DomainError("PAYOUT_NOT_FOUND", "no such payout of yours", "payoutId")
        if payout.status not in CANCELABLE_BY_CREATOR:
            raise DomainError(
                "INVALID_STATUS",
                f"a {payout.status.value.lower()} payout can no longer be canceled",
                "payoutId",
            )
        if payout.lease_until is not None and as_utc(payout.lease_until) > utcnow():
            raise _in_flight()
        try:
            moved = await svc.move(
                conn,
                payout,
                PayoutStatus.CANCELED,
                actor=actor.subject,
                reason="canceled by FINANCE" if on_behalf else "canceled by the creator",
                guard=or_(payouts.c.lease_until.is_(None), payouts.c.lease_until < utcnow()),
            )
        except StaleStatus:
            raise _in_flight() from None
        except PayoutTransitionRefused as exc:
            raise transition_refused(exc) from None
        await audit(conn, actor.subject, "PAYOUT_CANCELED", payout.id, {"on_behalf": on_behalf})
        return moved


async def retry_payout(svc: PayoutService, finance: User, payout_id: int, reason: str) -> Payout:
    """FAILED -> APPROVED: hold the diamonds again and dispatch as a new attempt, under a new
    idempotency key. Refused while the last attempt could still pay: it is looked up first where
    the provider can be asked (and a payment found there is booked, not retried)."""
    why = _reason(reason)
    async with svc.eco.db.read() as conn:
        payout = await payout_for_update(conn, payout_id)
        _must_be(payout, (PayoutStatus.FAILED,), "only failed payouts can be retried")
        attempt = await load_attempt(conn, payout.id, payout.generation)
    assert attempt is not None
    if _may_still_pay(attempt):
        await _settle_last_attempt(svc, finance, payout, attempt)
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        _must_be(payout, (PayoutStatus.FAILED,), "only failed payouts can be retried")
        attempt = await load_attempt(conn, payout.id, payout.generation)
        assert attempt is not None
        if attempt.unsettled:
            raise _unsettled(attempt, f"the provider says it is {attempt.outcome.value}")
        try:
            moved = await svc.move(
                conn,
                payout,
                PayoutStatus.APPROVED,
                actor=finance.subject,
                reason=f"retried: {why}",
                details={"attempt": payout.generation + 1},
                changes={
                    "attempts": 0,
                    "next_attempt_at": utcnow(),
                    "failure_code": None,
                    "failure_message": None,
                    "provider_reference": None,
                    "first_sent_at": None,
                    "resolved_by_hand": False,
                },
            )
        except InsufficientFunds:
            raise DomainError(
                "INSUFFICIENT_DIAMONDS",
                f"the creator has only {await diamonds_available(conn, payout.user_id):,} "
                f"diamonds available, fewer than the payout's {payout.diamonds:,}",
                "payoutId",
            ) from None
        except (PayoutTransitionRefused, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await start_attempt(conn, payout.id, moved.generation)
        await audit(
            conn,
            finance.subject,
            "PAYOUT_RETRIED",
            payout.id,
            {"generation": moved.generation, "reason": why},
        )
        return moved


def _may_still_pay(attempt: Attempt) -> bool:
    """Is the attempt's final state at the provider not known from the provider itself?"""
    if attempt.unsettled or attempt.settled_by is SettledBy.MANUAL:
        return True
    return attempt.outcome is AttemptOutcome.NOT_SENT and attempt.first_sent_at is not None


async def _settle_last_attempt(
    svc: PayoutService, finance: User, payout: Payout, attempt: Attempt
) -> None:
    """Before a retry: learn what became of the last attempt. A payment is booked (the payout is
    PAID after all, and flagged) and the retry refused; a pending one refuses the retry."""
    provider = svc.find_provider(payout.provider)
    answer = await ask(provider, attempt, payout.provider, svc.asking)
    if answer.unreachable is not None:
        can_look_up = provider is not None and Capability.LOOKUP in provider.capabilities
        if attempt.unsettled or can_look_up:
            raise _unsettled(
                attempt, f"its outcome cannot be confirmed now ({answer.unreachable}); try again"
            )
        # A provider that cannot be asked at all: FINANCE's statement (resolved by hand) or
        # "nothing was accepted" is all anyone can know.
        return
    state = PayoutState.FAILED if answer.missing else answer.state
    assert state is not None
    await _apply_answer(
        svc, payout, attempt, answer, state, actor=f"{LOOKUP_PREFIX}{finance.subject}"
    )
    if state is PayoutState.PAID:
        raise DomainError(
            "EARLIER_ATTEMPT_PAID",
            f"attempt {attempt.number} was paid by {payout.provider} after all; the payout is "
            "booked as paid and flagged, so it is not retried",
            "payoutId",
        )
    if state in (PayoutState.PENDING, PayoutState.UNKNOWN):
        raise _unsettled(attempt, f"{payout.provider} says it is still {state.value}")


async def _apply_answer(
    svc: PayoutService,
    payout: Payout,
    attempt: Attempt,
    answer: Answer,
    state: PayoutState,
    *,
    actor: str,
) -> Payout:
    """Apply what the provider answered (through the one place provider outcomes go)."""
    if answer.said is not None:
        news = ProviderNews.answered(answer.said, actor)
    else:  # no record of it at the provider: nothing was paid
        news = ProviderNews(
            state=state,
            source=actor,
            confirmed=True,
            failure_code="not_found",
            failure_message=f"{payout.provider} has no record of it",
        )
    async with svc.writing() as conn:
        current = await payout_for_update(conn, payout.id)
        try:
            done = await apply_news(svc, conn, current, attempt.number, news)
        except (PayoutTransitionRefused, StaleStatus) as exc:
            raise transition_refused(exc) from None
        return done.payout


def _unsettled(attempt: Attempt, why: str) -> DomainError:
    return DomainError(
        "EARLIER_ATTEMPT_UNSETTLED",
        f"attempt {attempt.number} ({attempt.idempotency_key}) could still pay: {why}",
        "payoutId",
    )


def _must_be(payout: Payout, statuses: tuple[PayoutStatus, ...], what: str) -> None:
    if payout.status not in statuses:
        raise DomainError(
            "INVALID_STATUS", f"{what}; this one is {payout.status.value}", "payoutId"
        )


REVIEWABLE = (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.ON_HOLD)
"""What FINANCE approves or rejects."""

RESOLUTIONS = (PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.CANCELED)


async def resolve_payout(
    svc: PayoutService, finance: User, payout_id: int, outcome: PayoutStatus, reason: str
) -> Payout:
    """The operator's path for a payout stuck UNKNOWN (or SUBMITTED) that no lookup settled.
    The provider is asked first: what it says wins (and a resolution it contradicts is refused,
    saying what it says); where it can cancel a pending payout, it cancels first. Only where it
    cannot be asked is FINANCE's stated outcome taken, marked as resolved by hand (PAID only
    where the provider has no lookup at all: a payment is never booked on a word that the
    provider could check). Audited."""
    why = _reason(reason)
    if outcome not in RESOLUTIONS:
        raise DomainError("INVALID_OUTCOME", "resolve to PAID, FAILED or CANCELED", "outcome")
    stuck = (PayoutStatus.UNKNOWN, PayoutStatus.SUBMITTED)
    what = "only unknown or submitted payouts are resolved by hand"
    async with svc.eco.db.read() as conn:
        payout = await payout_for_update(conn, payout_id)
        _must_be(payout, stuck, what)
        attempt = await load_attempt(conn, payout.id, payout.generation)
    assert attempt is not None
    provider = svc.find_provider(payout.provider)
    answer = await ask(provider, attempt, payout.provider, svc.asking)
    actor = f"{LOOKUP_PREFIX}{finance.subject}"
    if answer.unreachable is None:
        state = PayoutState.FAILED if answer.missing else answer.state
        assert state is not None
        if state is PayoutState.PENDING and outcome is not PayoutStatus.PAID:
            assert provider is not None
            state, answer = await _cancel_first(svc, provider, attempt)
        if state is PayoutState.PENDING:
            raise DomainError(
                "PROVIDER_SAYS_PENDING",
                f"{payout.provider} says attempt {attempt.number} is still pending"
                + (f" ({answer.said.raw_status})" if answer.said and answer.said.raw_status else "")
                + ("" if outcome is PayoutStatus.PAID else "; it cannot be canceled there"),
                "outcome",
            )
        paid = state is PayoutState.PAID
        moved = await _apply_answer(svc, payout, attempt, answer, state, actor=actor)
        if paid != (outcome is PayoutStatus.PAID):
            code = "PROVIDER_SAYS_PAID" if paid else "PROVIDER_SAYS_NOT_PAID"
            said = (
                "paid it"
                if paid
                else ("has no record of it" if answer.missing else f"says it is {state.value}")
            )
            raise DomainError(
                code,
                f"{payout.provider} {said}: the payout is now {moved.status.value}, not "
                f"{outcome.value}",
                "outcome",
            )
        async with svc.writing() as conn:
            await audit(
                conn,
                finance.subject,
                "PAYOUT_RESOLVED",
                payout.id,
                {"outcome": moved.status.value, "reason": why, "by": "provider"},
            )
        return moved
    if (
        outcome is PayoutStatus.PAID
        and provider is not None
        and (Capability.LOOKUP in provider.capabilities)
    ):
        # Booking a payment on FINANCE's word alone could take diamonds for money that never
        # left; a provider that can be asked will be, once it answers again.
        raise DomainError(
            "PROVIDER_UNREACHABLE",
            f"{payout.provider} cannot confirm the payment now ({answer.unreachable}); "
            "try again once it answers",
            "outcome",
        )
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        _must_be(payout, stuck, what)
        try:
            moved = await svc.move(
                conn,
                payout,
                outcome,
                actor=finance.subject,
                reason=why,
                details={"manual": True, "provider": answer.unreachable},
                changes={"resolved_by_hand": True},
            )
        except (PayoutTransitionRefused, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await record_attempt(
            conn,
            payout.id,
            payout.generation,
            outcome=AttemptOutcome(outcome.value),
            settled_by=SettledBy.MANUAL,
            failure_message=f"resolved by hand: {why}",
        )
        await audit(
            conn,
            finance.subject,
            "PAYOUT_RESOLVED",
            payout.id,
            {"outcome": outcome.value, "reason": why, "by": "hand"},
        )
        return moved


async def _cancel_first(
    svc: PayoutService, provider: PayoutProvider, attempt: Attempt
) -> tuple[PayoutState, Answer]:
    """A pending payout FINANCE wants failed: cancel it at the provider where it can be, and
    go on only once the provider confirms the cancel."""
    canceled = await cancel(provider, attempt, svc.asking)
    if canceled.said is not None and canceled.said.state in (
        PayoutState.CANCELED,
        PayoutState.FAILED,
        PayoutState.RETURNED,
    ):
        return canceled.said.state, canceled
    if canceled.said is not None and canceled.said.state is PayoutState.PAID:
        return PayoutState.PAID, canceled
    if canceled.unreachable is not None and Capability.CANCEL in provider.capabilities:
        raise DomainError(
            "PROVIDER_SAYS_PENDING",
            f"{provider.slug} says attempt {attempt.number} is still pending, and it did not "
            f"cancel it: {canceled.unreachable}",
            "outcome",
        )
    if canceled.said is not None:
        raise DomainError(
            "CANCEL_NOT_CONFIRMED",
            f"{provider.slug} has not confirmed the cancel of attempt {attempt.number} yet "
            f"(it says {canceled.said.state.value}); resolve again once it has",
            "outcome",
        )
    return PayoutState.PENDING, canceled


def _in_flight() -> DomainError:
    return DomainError(
        "PAYOUT_IN_FLIGHT",
        "the payout is being dispatched right now; it cannot be canceled",
        "payoutId",
    )


async def acknowledge_discrepancy(
    svc: PayoutService, finance: User, discrepancy_id: int, note: str
) -> Discrepancy:
    """FINANCE closes a discrepancy once they have dealt with it, saying how; audited."""
    said = text_field(
        note, field="note", code="INVALID_NOTE", max_length=MAX_REASON, what="the note"
    )
    async with svc.writing() as conn:
        found = await load_discrepancy(conn, discrepancy_id)
        if found is None:
            raise NotFound("DISCREPANCY_NOT_FOUND", "no such discrepancy", "discrepancyId")
        if not await acknowledge(conn, discrepancy_id, by=finance.subject, note=said):
            raise DomainError(
                "ALREADY_ACKNOWLEDGED",
                f"this discrepancy was acknowledged by {found.acknowledged_by} already",
                "discrepancyId",
            )
        await audit(
            conn,
            finance.subject,
            "PAYOUT_DISCREPANCY_ACKNOWLEDGED",
            found.payout_id,
            {"discrepancy": discrepancy_id, "note": said},
        )
        payout = await load_payout(conn, found.payout_id)
        assert payout is not None
        svc.changed(payout)
        done = await load_discrepancy(conn, discrepancy_id)
        assert done is not None
        return done
