"""Identity verification (KYC) as plain data: the statuses providers report, which status may
follow which, what a record says on a given day (a verification can expire), and how Stripe
Identity's session statuses map onto ours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from kernel.errors import DomainError


class IdentityStatus(enum.StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PENDING = "PENDING"
    """Started: waiting for the person (Stripe) or for a FINANCE reviewer (manual)."""
    PROCESSING = "PROCESSING"
    """The provider is checking what the person submitted."""
    VERIFIED = "VERIFIED"
    REQUIRES_INPUT = "REQUIRES_INPUT"
    """The check failed or needs more; `reason` says what. The person may try again."""
    REJECTED = "REJECTED"
    """A reviewer refused the identity. Final."""
    EXPIRED = "EXPIRED"
    """Was verified, but the verification is too old (or the document expired)."""
    CANCELED = "CANCELED"


class IdentityMethod(enum.StrEnum):
    MANUAL = "MANUAL"
    """A FINANCE reviewer approves or rejects what the person submitted."""
    STRIPE_IDENTITY = "STRIPE_IDENTITY"


S = IdentityStatus

TRANSITIONS: dict[IdentityStatus, frozenset[IdentityStatus]] = {
    S.NOT_STARTED: frozenset({S.PENDING}),
    S.PENDING: frozenset(
        {S.PENDING, S.PROCESSING, S.VERIFIED, S.REQUIRES_INPUT, S.REJECTED, S.CANCELED}
    ),
    S.PROCESSING: frozenset({S.VERIFIED, S.REQUIRES_INPUT, S.REJECTED, S.CANCELED}),
    S.REQUIRES_INPUT: frozenset({S.PENDING, S.PROCESSING, S.VERIFIED, S.REJECTED, S.CANCELED}),
    S.VERIFIED: frozenset({S.EXPIRED, S.REJECTED}),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset({S.PENDING}),
    S.CANCELED: frozenset({S.PENDING}),
}
"""PENDING -> PENDING is a restart (a new Stripe session replaces one the person abandoned).
VERIFIED -> REJECTED is a reviewer revoking a verification later found to be false."""

STARTABLE = frozenset({S.NOT_STARTED, S.REQUIRES_INPUT, S.EXPIRED, S.CANCELED})
"""Statuses from which the person may start (again)."""


class IdentityTransitionRefused(DomainError):
    def __init__(self, current: IdentityStatus, new: IdentityStatus) -> None:
        super().__init__(
            "INVALID_TRANSITION",
            f"an identity verification cannot go from {current.value} to {new.value}",
        )
        self.current = current
        self.new = new


def may_move(current: IdentityStatus, new: IdentityStatus) -> bool:
    return new in TRANSITIONS[current]


def check_move(current: IdentityStatus, new: IdentityStatus) -> None:
    if not may_move(current, new):
        raise IdentityTransitionRefused(current, new)


@dataclass(frozen=True)
class Identity:
    """What we know of a person's identity."""

    status: IdentityStatus
    method: IdentityMethod | None = None
    reason: str | None = None
    legal_name: str | None = None
    birth_date: date | None = None
    birth_date_verified: bool = False
    """True when `birth_date` comes from a verification, not from the person's own word."""
    country: str | None = None
    """Country of residence, ISO 3166-1 alpha-2."""
    verified_at: datetime | None = None
    expires_on: date | None = None
    """The last day a verification counts; None for no limit."""

    def status_on(self, today: date) -> IdentityStatus:
        """The status on `today`: a verification past its last day has EXPIRED."""
        if self.status is S.VERIFIED and self.expires_on is not None and today > self.expires_on:
            return S.EXPIRED
        return self.status

    def verified_on(self, today: date) -> bool:
        return self.status_on(today) is S.VERIFIED


NOT_STARTED = Identity(status=S.NOT_STARTED)


def from_stripe(
    status: str, error_code: str | None, error_reason: str | None
) -> tuple[IdentityStatus, str | None]:
    """Our status (and reason) for a Stripe Identity verification session's status. A fresh
    session is `requires_input` without an error: it waits for the person, so it is PENDING."""
    if status == "verified":
        return S.VERIFIED, None
    if status == "processing":
        return S.PROCESSING, None
    if status == "canceled":
        return S.CANCELED, None
    if status == "requires_input":
        if error_code or error_reason:
            return S.REQUIRES_INPUT, (error_reason or error_code or "")[:500]
        return S.PENDING, None
    raise ValueError(f"unknown Stripe verification session status {status!r}")
