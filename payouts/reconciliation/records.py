"""Reading a provider's own records for a run: every page of `settled_records` for the period
(with our references, for providers that cannot list by date), retried on transient faults.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from payouts.reconciliation.matching import OurAttempt
from providers.base import PayoutProvider
from providers.records import ProviderRecord
from providers.retry import RetryPolicy, call_with_retries

READING = RetryPolicy(
    max_attempts=4,
    max_total_seconds=120.0,
    initial_backoff_seconds=1.0,
    max_backoff_seconds=15.0,
    jitter_seconds=0.5,
)
"""Nobody waits on a run: a few patient tries, then the run fails and can be run again."""


async def read_their_records(
    provider: PayoutProvider,
    since: datetime,
    until: datetime,
    ours: Sequence[OurAttempt],
    policy: RetryPolicy = READING,
) -> list[ProviderRecord]:
    """All of the provider's records from `since` to `until`. A transient fault mid-way starts
    the listing again from the first page (a listing is not resumable across providers)."""
    references = sorted({o.provider_reference for o in ours if o.provider_reference})

    async def listing() -> list[ProviderRecord]:
        return [r async for r in provider.settled_records(since, until, references=references)]

    return await call_with_retries(
        listing, policy, what=f"{provider.slug} records", labels=(provider.slug, "records")
    )
