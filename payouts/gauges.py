"""The payout gauges `/metrics` reads at scrape time: payouts by status and provider, the unknown
outcomes waiting, the oldest one's age and how long one may wait, and each bank rail's outbox
depth and oldest entry.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select

from kernel.clock import as_utc, utcnow
from kernel.metrics import (
    BANK_OUTBOX_DEPTH,
    BANK_OUTBOX_OLDEST_SECONDS,
    PAYOUTS,
    UNKNOWN_OLDEST_SECONDS,
    UNKNOWN_WAITING,
    UNKNOWN_WINDOW_SECONDS,
)
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.tables import payouts
from providers.bank.outbox import QueuedEntry
from providers.bank.provider import BankProvider
from providers.errors import ProviderConfigError
from settings.payouts import PayoutPolicy

_counted: set[tuple[str, str]] = set()
"""The (status, provider) pairs this process has set (`clear()` does not work across processes)."""


async def refresh_payout_gauges(svc: PayoutService) -> None:
    """Set the payout gauges from the database and the bank outboxes, as they are now."""
    async with svc.eco.db.read() as conn:
        counts = (
            await conn.execute(
                select(payouts.c.status, payouts.c.provider, func.count()).group_by(
                    payouts.c.status, payouts.c.provider
                )
            )
        ).all()
        oldest_unknown: datetime | None = await conn.scalar(
            select(func.min(payouts.c.updated_at)).where(
                payouts.c.status == PayoutStatus.UNKNOWN.value
            )
        )
    moment = utcnow()
    now_counted = {(status, provider): count for status, provider, count in counts}
    for labels in _counted - now_counted.keys():  # none left: 0, not the last count
        PAYOUTS.labels(*labels).set(0)
    for labels, count in now_counted.items():
        PAYOUTS.labels(*labels).set(count)
    _counted.update(now_counted)
    UNKNOWN_WAITING.set(sum(n for s, _p, n in counts if s == PayoutStatus.UNKNOWN.value))
    UNKNOWN_OLDEST_SECONDS.set(_age(oldest_unknown, moment))
    UNKNOWN_WINDOW_SECONDS.set(unknown_window_seconds(svc.policy))
    for provider in _bank_rails(svc):
        waiting: list[QueuedEntry] = await asyncio.to_thread(provider.outbox.open_batch)
        oldest = min((e.queued_at for e in waiting), default=None)
        BANK_OUTBOX_DEPTH.labels(provider.slug).set(len(waiting))
        BANK_OUTBOX_OLDEST_SECONDS.labels(provider.slug).set(_age(oldest, moment))


def unknown_window_seconds(policy: PayoutPolicy) -> float:
    """How long an UNKNOWN payout may wait before an operator should look: the worker tries it
    again at least this often (the longest backoff, plus a lease for a try in flight and the
    lookup delay), so one past it is one the provider could not tell about on several tries, a
    worker that is not running, or one parked for FINANCE (`NEEDS_OPERATOR`)."""
    return policy.retry_max_seconds + policy.lease_seconds + policy.lookup_after_seconds


def _bank_rails(svc: PayoutService) -> list[BankProvider]:
    """The bank providers configured here (built if they were not yet: their outbox is shared
    with the processes that queue into it)."""
    rails: list[BankProvider] = []
    for slug in svc.providers.slugs():
        try:
            if issubclass(svc.providers.contract(slug), BankProvider):
                provider = svc.providers.get(slug)
                if isinstance(provider, BankProvider):
                    rails.append(provider)
        except ProviderConfigError:
            continue
    return rails


def _age(since: datetime | None, moment: datetime) -> float:
    return 0.0 if since is None else max(0.0, (moment - as_utc(since)).total_seconds())
