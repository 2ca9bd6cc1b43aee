"""Provider webhooks applied to payouts: verified by the provider, applied once per event id, and
safe out of order (an update that the payout has moved past is recorded and ignored).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.payouts.dispatch import status_for
from economy.payouts.service import PayoutService
from ledger.database import insert_ignoring_conflicts
from ledger.payouts.states import allowed
from ledger.payouts.store import InvalidTransition, Payout, StaleStatus, load_payout
from ledger.payouts.tables import payouts, provider_events
from providers.base import PayoutProvider, StatusUpdate

log = logging.getLogger(__name__)

_REFERENCE = re.compile(r"^diamonds-payout-(\d{1,18})(?:-(\d{1,6}))?$")


@dataclass(frozen=True)
class Applied:
    event_id: str
    payout_id: int | None
    outcome: str
    """applied, duplicate, ignored (the payout moved past it), unmatched (no such payout)."""


def payout_id_of(reference: str | None) -> tuple[int, int] | None:
    """(payout id, generation) from our reference `diamonds-payout-<id>[-<generation>]`."""
    match = _REFERENCE.match(reference or "")
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 1)


async def receive_webhook(
    svc: PayoutService, provider: PayoutProvider, headers: Mapping[str, str], body: bytes
) -> list[Applied]:
    """Verify (raises `WebhookVerificationError`) and apply every update the delivery carries."""
    updates = await provider.parse_webhook(headers, body)
    return [await apply_update(svc, provider.slug, update) for update in updates]


async def apply_update(svc: PayoutService, slug: str, news: StatusUpdate) -> Applied:
    async with svc.writing() as conn:
        payout = await _find(conn, slug, news)
        if payout is None:
            # Not recorded as seen: a redelivery after our side knows the payout can still apply.
            log.warning("%s webhook %s names no payout of ours", slug, news.event_id)
            return Applied(news.event_id, None, "unmatched")
        claimed = await conn.execute(
            insert_ignoring_conflicts(conn.dialect, provider_events).values(
                provider=slug,
                event_id=news.event_id[:255],
                payout_id=payout.id,
                outcome="received",
            )
        )
        if claimed.rowcount != 1:
            return Applied(news.event_id, payout.id, "duplicate")
        target = status_for(payout.status, news.state)
        if target is payout.status or not allowed(payout.status, target):
            return Applied(news.event_id, payout.id, "ignored")
        changes: dict[str, object] = {}
        if news.provider_reference and not payout.provider_reference:
            changes["provider_reference"] = news.provider_reference[:255]
        if news.failure_code:
            changes["failure_code"] = news.failure_code[:64]
        if news.failure_message:
            changes["failure_message"] = news.failure_message[:500]
        try:
            await svc.move(
                conn,
                payout,
                target,
                actor=f"webhook:{slug}",
                reason=news.raw_type,
                details={"event_id": news.event_id},
                changes=changes,
            )
        except (InvalidTransition, StaleStatus):
            return Applied(news.event_id, payout.id, "ignored")
        return Applied(news.event_id, payout.id, "applied")


async def _find(conn: AsyncConnection, slug: str, news: StatusUpdate) -> Payout | None:
    ours = payout_id_of(news.payout_id)
    if ours is not None:
        payout = await load_payout(conn, ours[0])
        if payout is not None and payout.provider == slug and payout.generation == ours[1]:
            return payout
        if payout is not None and payout.generation != ours[1]:
            return None  # news about an earlier attempt, already failed and retried
    if news.provider_reference:
        payout_id = await conn.scalar(
            select(payouts.c.id).where(
                payouts.c.provider == slug,
                payouts.c.provider_reference == news.provider_reference,
            )
        )
        if payout_id is not None:
            return await load_payout(conn, int(payout_id))
    return None
