"""The rules of a reconciliation, without a database: each of our attempts and each of the
provider's records ends in exactly one class (matched, or one kind of exception), with totals.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payouts.attempts import AttemptOutcome
from providers.base import PayoutState
from providers.records import ProviderRecord


class MatchClass(enum.StrEnum):
    MATCHED = "MATCHED"
    """Same reference, amount, currency and final status on both sides."""
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    """Both sides know the payout, for a different amount or currency."""
    STATUS_MISMATCH = "STATUS_MISMATCH"
    """Both sides know the payout, in different final states (or stuck past the window)."""
    MISSING_AT_PROVIDER = "MISSING_AT_PROVIDER"
    """We sent it; the provider's records for the period do not have it."""
    UNKNOWN_AT_PROVIDER = "UNKNOWN_AT_PROVIDER"
    """The provider moved money we have no payout for."""
    PENDING = "PENDING"
    """Not final yet on one side, and still within the provider's settlement window."""


EXCEPTIONS = frozenset(MatchClass) - {MatchClass.MATCHED, MatchClass.PENDING}
"""The classes FINANCE must look at; matched and pending ones need nobody."""

_SAME = {
    AttemptOutcome.PAID: PayoutState.PAID,
    AttemptOutcome.FAILED: PayoutState.FAILED,
    AttemptOutcome.RETURNED: PayoutState.RETURNED,
    AttemptOutcome.CANCELED: PayoutState.CANCELED,
}
FINAL_STATES = frozenset(_SAME.values())
MONEY_LEFT = frozenset({PayoutState.PAID})
"""The provider states under which money reached the creator."""


@dataclass(frozen=True)
class OurAttempt:
    """One attempt of one of our payouts, as our records have it."""

    payout_id: int
    attempt_number: int
    reference: str
    """Our idempotency key for the attempt (`diamonds-payout-<id>[-<n>]`)."""
    provider_reference: str | None
    amount_minor: int
    currency: str
    outcome: AttemptOutcome
    sent_at: datetime
    user_id: int

    def as_record(self) -> dict[str, Any]:
        return {
            "payoutId": self.payout_id,
            "attempt": self.attempt_number,
            "reference": self.reference,
            "providerReference": self.provider_reference,
            "amountMinor": self.amount_minor,
            "currency": self.currency,
            "outcome": self.outcome.value,
            "sentAt": self.sent_at.isoformat(),
        }


def their_json(record: ProviderRecord) -> dict[str, Any]:
    """The provider's record as stored beside a line of the run."""
    return {
        "providerReference": record.provider_reference,
        "reference": record.payout_id,
        "amountMinor": record.amount_minor,
        "currency": record.currency,
        "state": record.state.value,
        "status": record.raw_status,
        "feeMinor": record.fee_minor,
        "convertedAmountMinor": record.converted_amount_minor,
        "convertedCurrency": record.converted_currency,
        "exchangeRate": record.exchange_rate,
        "failureCode": record.failure_code,
        "source": record.source,
        "occurredAt": record.occurred_at.isoformat(),
        "raw": dict(record.raw),
    }


@dataclass(frozen=True)
class Match:
    """Where one payout (or one stray record of the provider's) ended the run."""

    klass: MatchClass
    ours: OurAttempt | None
    theirs: ProviderRecord | None
    reason: str

    @property
    def key(self) -> str:
        """Stable across re-runs of the same period: carries FINANCE's resolution over."""
        if self.ours is not None:
            return self.ours.reference
        assert self.theirs is not None
        return f"provider:{self.theirs.provider_reference}"

    @property
    def money_moved_against_us(self) -> bool:
        """A status mismatch where the provider paid and we do not say so, or we say paid and
        the provider says it came back: money moved that our books do not show."""
        if self.klass is not MatchClass.STATUS_MISMATCH or self.ours is None or not self.theirs:
            return False
        paid_there = self.theirs.state in MONEY_LEFT
        paid_here = self.ours.outcome is AttemptOutcome.PAID
        return paid_there != paid_here and self.theirs.state in FINAL_STATES


@dataclass
class ClassTotal:
    count: int = 0
    our_minor: int = 0
    their_minor: int = 0
    their_fee_minor: int = 0


@dataclass(frozen=True)
class Outcome:
    """Every match of a run, and its totals per (class, currency)."""

    matches: list[Match]

    def totals(self) -> dict[tuple[MatchClass, str], ClassTotal]:
        found: dict[tuple[MatchClass, str], ClassTotal] = {}
        for match in self.matches:
            side = match.ours or match.theirs
            assert side is not None
            total = found.setdefault((match.klass, side.currency), ClassTotal())
            total.count += 1
            total.our_minor += match.ours.amount_minor if match.ours else 0
            if match.theirs is not None:
                total.their_minor += match.theirs.amount_minor
                total.their_fee_minor += match.theirs.fee_minor or 0
        return found

    def count(self, klass: MatchClass) -> int:
        return sum(1 for match in self.matches if match.klass is klass)


def _find(
    theirs: Iterable[ProviderRecord],
) -> tuple[dict[str, ProviderRecord], dict[str, ProviderRecord]]:
    by_provider: dict[str, ProviderRecord] = {}
    by_ours: dict[str, ProviderRecord] = {}
    for record in theirs:
        by_provider.setdefault(record.provider_reference, record)
        if record.payout_id:
            by_ours.setdefault(record.payout_id, record)
    return by_provider, by_ours


def classify(
    ours: OurAttempt, theirs: ProviderRecord | None, *, now: datetime, window: timedelta
) -> Match:
    """One of our attempts against the provider's record of it (None: not in their records)."""
    within_window = now - ours.sent_at < window
    if theirs is None:
        if ours.outcome in (AttemptOutcome.PENDING, AttemptOutcome.UNKNOWN) and within_window:
            return Match(MatchClass.PENDING, ours, None, "not at the provider yet")
        return Match(
            MatchClass.MISSING_AT_PROVIDER,
            ours,
            None,
            f"we record it {ours.outcome.value}; the provider has no record of it",
        )
    if theirs.currency != ours.currency or theirs.amount_minor != ours.amount_minor:
        return Match(
            MatchClass.AMOUNT_MISMATCH,
            ours,
            theirs,
            f"we sent {ours.amount_minor} {ours.currency}; "
            f"the provider has {theirs.amount_minor} {theirs.currency}",
        )
    expected = _SAME.get(ours.outcome)
    if expected is theirs.state:
        return Match(MatchClass.MATCHED, ours, theirs, "")
    if expected is None or theirs.state not in FINAL_STATES:
        if within_window:
            return Match(
                MatchClass.PENDING,
                ours,
                theirs,
                f"not final yet: we record {ours.outcome.value}, the provider {theirs.raw_status}",
            )
        return Match(
            MatchClass.STATUS_MISMATCH,
            ours,
            theirs,
            f"still not final after {window}: we record {ours.outcome.value}, "
            f"the provider {theirs.raw_status}",
        )
    return Match(
        MatchClass.STATUS_MISMATCH,
        ours,
        theirs,
        f"we record {ours.outcome.value}; the provider says {theirs.raw_status} "
        f"({theirs.state.value})",
    )


def reconcile(
    ours: Iterable[OurAttempt],
    theirs: Iterable[ProviderRecord],
    *,
    now: datetime,
    window: timedelta,
    period: tuple[datetime, datetime],
    known_references: frozenset[str] = frozenset(),
) -> Outcome:
    """Match our attempts of the period with the provider's records (read with a margin either
    side, so a payout sent just before midnight and created at the provider just after still
    matches). A record no attempt of the period claims is unknown at the provider when it falls
    inside the period and its reference is not one of ours at all (`known_references`)."""
    their_list = list(theirs)
    by_provider, by_ours = _find(their_list)
    claimed: set[str] = set()
    matches: list[Match] = []
    for attempt in ours:
        record = by_ours.get(attempt.reference)
        if record is None and attempt.provider_reference:
            record = by_provider.get(attempt.provider_reference)
        if record is not None:
            claimed.add(record.provider_reference)
        matches.append(classify(attempt, record, now=now, window=window))
    seen: set[str] = set()
    for record in their_list:
        ref = record.provider_reference
        if ref in claimed or ref in seen or ref in known_references:
            continue
        if not period[0] <= record.listed_at < period[1]:
            continue
        if record.payout_id and record.payout_id in known_references:
            continue
        seen.add(ref)
        matches.append(
            Match(
                MatchClass.UNKNOWN_AT_PROVIDER,
                None,
                record,
                f"the provider moved {record.amount_minor} {record.currency} "
                f"({record.raw_status}) under a reference we never sent",
            )
        )
    return Outcome(matches)
