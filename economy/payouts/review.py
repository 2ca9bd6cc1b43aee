"""What people do to a payout after it is requested: FINANCE approves (never their own), rejects,
retries a failed one or resolves a stuck unknown one; a creator cancels their own before dispatch.
Every decision is in the payout's history and the audit log.
"""

from __future__ import annotations

from sqlalchemy import or_

from economy.errors import DomainError
from economy.payouts.service import (
    PayoutService,
    audit,
    now,
    payout_for_update,
    transition_refused,
)
from economy.users import User
from economy.validation import text_field
from economy.wallets import diamonds_available
from ledger import InsufficientFunds
from ledger.clock import as_utc
from ledger.payouts.states import CANCELABLE_BY_CREATOR, PayoutStatus
from ledger.payouts.store import InvalidTransition, Payout, StaleStatus
from ledger.payouts.tables import payouts

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
        if payout.status not in (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.ON_HOLD):
            raise DomainError(
                "INVALID_STATUS",
                f"only payouts awaiting approval or on hold can be approved; "
                f"this one is {payout.status.value}",
                "payoutId",
            )
        try:
            moved = await svc.move(
                conn,
                payout,
                PayoutStatus.APPROVED,
                actor=approver.subject,
                reason="approved",
                changes={"approved_by": approver.subject, "next_attempt_at": now()},
            )
        except (InvalidTransition, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await audit(conn, approver.subject, "PAYOUT_APPROVED", payout.id, {})
        return moved


async def reject_payout(svc: PayoutService, reviewer: User, payout_id: int, reason: str) -> Payout:
    """AWAITING_APPROVAL or ON_HOLD -> REJECTED; the diamonds are released."""
    why = _reason(reason)
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        if payout.status not in (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.ON_HOLD):
            raise DomainError(
                "INVALID_STATUS",
                f"only payouts awaiting approval or on hold can be rejected; "
                f"this one is {payout.status.value}",
                "payoutId",
            )
        try:
            moved = await svc.move(
                conn, payout, PayoutStatus.REJECTED, actor=reviewer.subject, reason=why
            )
        except (InvalidTransition, StaleStatus) as exc:
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
        if payout.lease_until is not None and as_utc(payout.lease_until) > now():
            raise _in_flight()
        try:
            moved = await svc.move(
                conn,
                payout,
                PayoutStatus.CANCELED,
                actor=actor.subject,
                reason="canceled by FINANCE" if on_behalf else "canceled by the creator",
                guard=or_(payouts.c.lease_until.is_(None), payouts.c.lease_until < now()),
            )
        except StaleStatus:
            raise _in_flight() from None
        except InvalidTransition as exc:
            raise transition_refused(exc) from None
        await audit(conn, actor.subject, "PAYOUT_CANCELED", payout.id, {"on_behalf": on_behalf})
        return moved


async def retry_payout(svc: PayoutService, finance: User, payout_id: int) -> Payout:
    """FAILED -> APPROVED: hold the diamonds again and dispatch as a new attempt."""
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        if payout.status is not PayoutStatus.FAILED:
            raise DomainError(
                "INVALID_STATUS",
                f"only failed payouts can be retried; this one is {payout.status.value}",
                "payoutId",
            )
        try:
            moved = await svc.move(
                conn,
                payout,
                PayoutStatus.APPROVED,
                actor=finance.subject,
                reason="retried",
                changes={
                    "attempts": 0,
                    "next_attempt_at": now(),
                    "failure_code": None,
                    "failure_message": None,
                    "provider_reference": None,
                    "first_sent_at": None,
                },
            )
        except InsufficientFunds:
            raise DomainError(
                "INSUFFICIENT_DIAMONDS",
                f"the creator has only {await diamonds_available(conn, payout.user_id):,} "
                f"diamonds available, fewer than the payout's {payout.diamonds:,}",
                "payoutId",
            ) from None
        except (InvalidTransition, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await audit(
            conn, finance.subject, "PAYOUT_RETRIED", payout.id, {"generation": moved.generation}
        )
        return moved


RESOLUTIONS = (PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.CANCELED)


async def resolve_payout(
    svc: PayoutService, finance: User, payout_id: int, outcome: PayoutStatus, reason: str
) -> Payout:
    """The operator's path for a payout stuck UNKNOWN (or SUBMITTED) that no lookup settles:
    FINANCE states the outcome they confirmed with the provider, with a reason; audited."""
    why = _reason(reason)
    if outcome not in RESOLUTIONS:
        raise DomainError("INVALID_OUTCOME", "resolve to PAID, FAILED or CANCELED", "outcome")
    async with svc.writing() as conn:
        payout = await payout_for_update(conn, payout_id)
        if payout.status not in (PayoutStatus.UNKNOWN, PayoutStatus.SUBMITTED):
            raise DomainError(
                "INVALID_STATUS",
                f"only unknown or submitted payouts are resolved by hand; "
                f"this one is {payout.status.value}",
                "payoutId",
            )
        try:
            moved = await svc.move(
                conn, payout, outcome, actor=finance.subject, reason=why, details={"manual": True}
            )
        except (InvalidTransition, StaleStatus) as exc:
            raise transition_refused(exc) from None
        await audit(
            conn,
            finance.subject,
            "PAYOUT_RESOLVED",
            payout.id,
            {"outcome": outcome.value, "reason": why},
        )
        return moved


def _in_flight() -> DomainError:
    return DomainError(
        "PAYOUT_IN_FLIGHT",
        "the payout is being dispatched right now; it cannot be canceled",
        "payoutId",
    )
