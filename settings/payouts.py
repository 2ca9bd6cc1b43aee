"""The payout rules that are configuration, not code: the minimum, the daily cap, the amount above
which a second person must approve, and how the dispatcher paces and leases its work.

Read and checked at start-up with every other setting (`settings.service.Settings.payouts`); this
module imports only the kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from kernel.env import EnvReader


@dataclass(frozen=True)
class PayoutPolicy:
    minimum_minor: int = 1_000
    """$10 (or 10 of any currency's major unit): smaller payouts are refused."""
    daily_cap_minor: int = 100_000
    """$1,000 a calendar day (UTC) per creator, in the payout's currency (TikTok's own cap)."""
    approval_threshold_minor: int = 50_000
    """Payouts above this wait for a FINANCE user other than the requester."""
    max_diamonds: int = 10**12
    lease_seconds: int = 300
    """How long a worker owns a payout it is dispatching; longer than any provider call with
    all its retries, so nobody cancels or re-dispatches a payout while it is in flight."""
    retry_base_seconds: float = 30.0
    """Backoff between dispatch attempts after transient faults or unknown outcomes."""
    retry_max_seconds: float = 3_600.0
    max_dispatch_attempts: int = 10
    """After this many attempts that only met transient faults, the payout fails."""
    lookup_after_seconds: float = 60.0
    """A submitted payout not settled by webhook is looked up this long after its last check."""
    reconcile_daily: bool = True
    """Workers reconcile every provider that can list its records, once a day."""
    reconcile_hour: int = 3
    """The UTC hour from which the day before is reconciled."""
    reconcile_settlement_hours: int = 72
    """A payout not final on both sides this long after it was sent is a status mismatch, not
    pending."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], problems: list[str]) -> PayoutPolicy:
        read = EnvReader(env, problems)
        return cls(
            minimum_minor=read.integer("DIAMONDS_PAYOUT_MINIMUM_MINOR", 1_000, 1, 10**9),
            daily_cap_minor=read.integer("DIAMONDS_PAYOUT_DAILY_CAP_MINOR", 100_000, 1, 10**12),
            approval_threshold_minor=read.integer(
                "DIAMONDS_PAYOUT_APPROVAL_THRESHOLD_MINOR", 50_000, 0, 10**12
            ),
            lease_seconds=read.integer("DIAMONDS_PAYOUT_LEASE_SECONDS", 300, 5, 86_400),
            retry_base_seconds=read.integer("DIAMONDS_PAYOUT_RETRY_BASE_SECONDS", 30, 0, 86_400),
            max_dispatch_attempts=read.integer("DIAMONDS_PAYOUT_MAX_ATTEMPTS", 10, 1, 1_000),
            lookup_after_seconds=read.integer(
                "DIAMONDS_PAYOUT_LOOKUP_AFTER_SECONDS", 60, 0, 86_400
            ),
            reconcile_daily=read.boolean("DIAMONDS_RECONCILE_DAILY", True),
            reconcile_hour=read.integer("DIAMONDS_RECONCILE_HOUR", 3, 0, 23),
            reconcile_settlement_hours=read.integer(
                "DIAMONDS_RECONCILE_SETTLEMENT_HOURS", 72, 1, 24 * 60
            ),
        )

    @property
    def settlement_window(self) -> timedelta:
        return timedelta(hours=self.reconcile_settlement_hours)

    def backoff_seconds(self, attempts: int) -> float:
        return min(
            self.retry_max_seconds, self.retry_base_seconds * float(2 ** max(0, attempts - 1))
        )
