"""The payout status machine as plain data: which status may follow which, and what each change
does to the money (post the hold, void it, or reverse a payment that came back).
"""

from __future__ import annotations

import enum


class PayoutStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    APPROVED = "APPROVED"
    """Ready for the worker to dispatch."""
    ON_HOLD = "ON_HOLD"
    """Stopped before dispatch by the compliance gate; FINANCE releases or rejects it."""
    SUBMITTED = "SUBMITTED"
    """Accepted by the provider, not settled."""
    UNKNOWN = "UNKNOWN"
    """The provider call timed out or dropped: resolved by lookup, never assumed."""
    PAID = "PAID"
    FAILED = "FAILED"
    RETURNED = "RETURNED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"


class MoneyEffect(enum.Enum):
    NONE = "NONE"
    POST = "POST"
    """Paid: the held diamonds are spent and the cash side is booked."""
    VOID = "VOID"
    """Never paid: the hold is released, the diamonds are available again."""
    REVERSE = "REVERSE"
    """Paid, then came back: correcting entries return the diamonds and undo the cash side."""
    HOLD = "HOLD"
    """A failed payout retried: its diamonds are held again (the creator must still have them)."""
    LATE_POST = "LATE_POST"
    """Paid after we had released the hold (a provider outcome that contradicts a FAILED or
    CANCELED): the diamonds are taken back from what the creator has, and what they no longer
    have is booked as owed by them, so no wallet goes negative."""


S = PayoutStatus

TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    S.REQUESTED: frozenset({S.AWAITING_APPROVAL, S.APPROVED, S.CANCELED, S.REJECTED}),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.CANCELED}),
    S.APPROVED: frozenset({S.SUBMITTED, S.UNKNOWN, S.PAID, S.FAILED, S.ON_HOLD, S.CANCELED}),
    S.ON_HOLD: frozenset({S.APPROVED, S.REJECTED, S.CANCELED}),
    S.SUBMITTED: frozenset({S.PAID, S.FAILED, S.RETURNED, S.CANCELED, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.SUBMITTED, S.PAID, S.FAILED, S.RETURNED, S.CANCELED, S.APPROVED}),
    S.PAID: frozenset({S.RETURNED}),
    S.FAILED: frozenset({S.APPROVED}),
    S.RETURNED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
}
"""FAILED -> APPROVED is FINANCE's retry of a failed payout: its diamonds are held again."""

CORRECTIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    S.FAILED: frozenset({S.PAID}),
    S.CANCELED: frozenset({S.PAID}),
}
"""Moves only a provider's outcome makes, against our records: money that moved is booked even
after we had called the payout failed or canceled (and the payout is flagged for FINANCE)."""

FINAL = frozenset({S.RETURNED, S.CANCELED, S.REJECTED})
CANCELABLE_BY_CREATOR = frozenset({S.REQUESTED, S.AWAITING_APPROVAL, S.APPROVED, S.ON_HOLD})
DISPATCHABLE = frozenset({S.APPROVED, S.UNKNOWN})
HOLDING = frozenset(
    {S.REQUESTED, S.AWAITING_APPROVAL, S.APPROVED, S.ON_HOLD, S.SUBMITTED, S.UNKNOWN}
)
"""Statuses in which the payout's diamonds are held."""


def allowed(current: PayoutStatus, new: PayoutStatus, *, correcting: bool = False) -> bool:
    """May `current` become `new`? `correcting` admits the moves of `CORRECTIONS` too."""
    return new in TRANSITIONS[current] or (
        correcting and new in CORRECTIONS.get(current, frozenset())
    )


def effect(current: PayoutStatus, new: PayoutStatus) -> MoneyEffect:
    """What moving from `current` to `new` does to the money."""
    if current is S.FAILED and new is S.APPROVED:
        return MoneyEffect.HOLD
    if new is S.PAID and current in HOLDING:
        return MoneyEffect.POST
    if new is S.PAID and current in CORRECTIONS:
        return MoneyEffect.LATE_POST
    if new is S.RETURNED and current is S.PAID:
        return MoneyEffect.REVERSE
    if new in {S.FAILED, S.RETURNED, S.CANCELED, S.REJECTED} and current in HOLDING:
        return MoneyEffect.VOID
    return MoneyEffect.NONE
