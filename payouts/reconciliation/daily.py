"""The daily reconciliation inside the payout worker: from the configured UTC hour, yesterday is
reconciled once for every provider that can list its records, whichever worker gets there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from kernel.clock import utcnow
from payouts.reconciliation.run import Period, reconcile_period
from payouts.service import PayoutService
from providers.base import Capability

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(minutes=5)
DAILY_ACTOR = "system:daily-reconciliation"


def due_day(now: datetime, hour: int) -> Period | None:
    """The day to reconcile at `now`: yesterday once the hour has come, else none yet."""
    if now.hour < hour:
        return None
    return Period.day(now.date() - timedelta(days=1))


def reconcilable_slugs(svc: PayoutService) -> list[str]:
    found = []
    for slug in svc.providers.slugs():
        provider = svc.find_provider(slug)
        if provider is not None and Capability.RECONCILE in provider.capabilities:
            found.append(slug)
    return found


async def reconcile_due(svc: PayoutService, now: datetime) -> int:
    """Run every provider's due day that has not run yet; returns how many runs this worker did.
    A provider that fails is logged and tried again at the next check."""
    period = due_day(now, svc.policy.reconcile_hour)
    if period is None or not svc.policy.reconcile_daily:
        return 0
    done = 0
    for slug in reconcilable_slugs(svc):
        try:
            run = await reconcile_period(svc, slug, period, actor=DAILY_ACTOR, rerun=False)
        except Exception:
            log.exception("daily reconciliation of %s for %s failed", slug, period.start)
            continue
        done += run is not None
    return done


async def run_daily(svc: PayoutService, stop: asyncio.Event) -> None:
    """Check every few minutes until `stop` is set."""
    while not stop.is_set():
        try:
            await reconcile_due(svc, utcnow())
        except Exception:
            log.exception("the daily reconciliation check failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=CHECK_EVERY.total_seconds())
