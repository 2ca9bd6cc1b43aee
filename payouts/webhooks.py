"""Provider webhooks applied to payouts: verified by the provider, applied once per event id, safe
out of order (older news is noted and ignored), and never moving money against our records on a
webhook's word alone: a reversal or a contradiction is looked up with the provider first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.clock import utcnow
from kernel.logs import bind_log, log_scope
from ledger.database import insert_ignoring_conflicts
from payouts.actors import STATEMENT_PREFIX, WEBHOOK_PREFIX
from payouts.asking import ask
from payouts.attempts import Attempt, attempt_by_reference, load_attempt
from payouts.outcomes import (
    NOT_PAID,
    ProviderNews,
    apply_news,
    flag_unconfirmed_reversal,
    needs_confirmation,
    note_ignored,
)
from payouts.service import PayoutService
from payouts.store import Payout, StaleStatus, load_payout, record_event
from payouts.tables import provider_events
from providers.base import (
    Capability,
    PayoutProvider,
    PayoutResult,
    PayoutState,
    StatusUpdate,
    unappliable_update,
)
from providers.errors import ProviderError, UnappliableWebhook
from providers.retry import RetryPolicy

log = logging.getLogger(__name__)

_REFERENCE = re.compile(r"^diamonds-payout-(\d{1,18})(?:-(\d{1,6}))?$")


@dataclass(frozen=True)
class Applied:
    event_id: str
    payout_id: int | None
    outcome: str
    """applied, flagged (a discrepancy), ignored (noted in the history), duplicate, unmatched,
    unappliable (recorded, and noted in the payout's history)."""


def payout_id_of(reference: str | None) -> tuple[int, int] | None:
    """(payout id, attempt number) from our reference `diamonds-payout-<id>[-<number>]`."""
    match = _REFERENCE.match(reference or "")
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 1)


async def receive_webhook(
    svc: PayoutService, provider: PayoutProvider, headers: Mapping[str, str], body: bytes
) -> list[Applied]:
    """Verify (raises `WebhookVerificationError`) and apply every update the delivery carries.
    A verified event that cannot be applied, whether the provider says so (`UnappliableWebhook`)
    or an update it read holds what we cannot (`unappliable_update`), is recorded, the same for
    every provider. Raises `ProviderError` when a confirming lookup fails: the provider should
    redeliver."""
    try:
        updates = await provider.parse_webhook(headers, body)
    except UnappliableWebhook as exc:
        return [await record_unappliable(svc, provider.slug, exc)]
    applied = []
    for update in updates:
        problem = unappliable_update(provider.slug, update)
        if problem is not None:
            applied.append(await record_unappliable(svc, provider.slug, problem))
        else:
            applied.append(await apply_update(svc, provider, update))
    return applied


async def record_unappliable(svc: PayoutService, slug: str, exc: UnappliableWebhook) -> Applied:
    """A verified event we cannot apply, recorded once (outcome `unappliable: <reason>`) so that
    answering it stops the provider's redeliveries, logged at WARNING, and noted in the history
    of the payout it names, where FINANCE sees it. Nothing else changes."""
    log.warning("%s webhook %s cannot be applied: %s", slug, exc.event_id, exc.reason)
    named = StatusUpdate(
        event_id=exc.event_id,
        state=PayoutState.PENDING,
        occurred_at=utcnow(),
        payout_id=exc.payout_reference,
        provider_reference=exc.provider_reference,
    )
    async with svc.writing() as conn:
        found = await _find(conn, slug, named)
        payout = found[0] if found is not None else None
        claimed = await conn.execute(
            insert_ignoring_conflicts(conn.dialect, provider_events).values(
                provider=slug,
                event_id=exc.event_id[:255],
                payout_id=payout.id if payout is not None else None,
                outcome=f"unappliable: {exc.reason}"[:64],
            )
        )
        if claimed.rowcount != 1:
            return Applied(exc.event_id, payout.id if payout else None, "duplicate")
        if payout is not None:
            await record_event(
                conn,
                payout.id,
                payout.status,
                payout.status,
                actor=f"{WEBHOOK_PREFIX}{slug}",
                reason=f"unappliable webhook {exc.event_id[:255]}: {exc.reason}",
                details={"note": True, "event_id": exc.event_id[:255], "unappliable": True},
            )
    return Applied(exc.event_id, payout.id if payout else None, "unappliable")


@dataclass(frozen=True)
class _Confirmation:
    said: PayoutResult | None
    """What the provider's lookup answered; None when it could not be asked or has no record."""
    why_not: str


async def apply_update(
    svc: PayoutService, provider: PayoutProvider, update: StatusUpdate
) -> Applied:
    """One webhook update: news pushed at us, confirmed with the provider where it would move
    money against our records."""
    return await _apply(svc, provider.slug, provider, update)


async def apply_statement(svc: PayoutService, slug: str, update: StatusUpdate) -> Applied:
    """One line of a statement we fetched or imported from the provider itself (a bank's status
    or return file): the provider's own word, applied without a lookup."""
    return await _apply(svc, slug, None, update)


async def _apply(
    svc: PayoutService, slug: str, provider: PayoutProvider | None, update: StatusUpdate
) -> Applied:
    try:
        with log_scope():  # the payout's id, once found, on the lines logged applying it
            return await _apply_once(svc, slug, provider, update)
    except StaleStatus as exc:
        raise ProviderError(slug, f"{exc}; redeliver") from None


async def _apply_once(
    svc: PayoutService, slug: str, provider: PayoutProvider | None, update: StatusUpdate
) -> Applied:
    news = ProviderNews(
        state=update.state,
        source=f"{WEBHOOK_PREFIX}{slug}" if provider is not None else f"{STATEMENT_PREFIX}{slug}",
        confirmed=provider is None,
        occurred_at=update.occurred_at,
        provider_reference=update.provider_reference,
        failure_code=update.failure_code,
        failure_message=update.failure_message,
        event_id=update.event_id,
        raw_type=update.raw_type,
    )
    async with svc.eco.db.read() as conn:
        found = await _find(conn, slug, update)
        if found is None:
            # Not recorded as seen: a redelivery after our side knows the payout can still apply.
            log.warning("%s webhook %s names no payout of ours", slug, update.event_id)
            return Applied(update.event_id, None, "unmatched")
        payout, number = found
        bind_log(payout_id=payout.id)
        if await _seen(conn, slug, update.event_id):
            return Applied(update.event_id, payout.id, "duplicate")
        attempt = await load_attempt(conn, payout.id, number)
        assert attempt is not None
    confirmation = None
    if provider is not None and needs_confirmation(payout, attempt, news):
        confirmation = await _confirm(provider, attempt, svc.asking)
    async with svc.writing() as conn:
        claimed = await conn.execute(
            insert_ignoring_conflicts(conn.dialect, provider_events).values(
                provider=slug,
                event_id=update.event_id[:255],
                payout_id=payout.id,
                outcome="received",
            )
        )
        if claimed.rowcount != 1:
            return Applied(update.event_id, payout.id, "duplicate")
        current = await load_payout(conn, payout.id)
        attempt = await load_attempt(conn, payout.id, number)
        assert current is not None
        assert attempt is not None
        if not needs_confirmation(current, attempt, news):
            done = await apply_news(svc, conn, current, number, news)
            return Applied(update.event_id, payout.id, done.result.value)
        if confirmation is None:
            # It changed meanwhile into something that needs a lookup: let the provider redeliver.
            raise ProviderError(slug, f"payout {payout.id} changed while the webhook was read")
        said = confirmation.said
        if said is None:
            if news.state is PayoutState.PAID:
                # Money that moved is booked: a signed payment notice stands when the provider
                # cannot be asked about it.
                done = await apply_news(svc, conn, current, number, _trusted(news))
            else:
                done = await flag_unconfirmed_reversal(
                    svc, conn, current, number, news, confirmation.why_not
                )
            return Applied(update.event_id, payout.id, done.result.value)
        agrees = said.state is news.state or (said.state in NOT_PAID and news.state in NOT_PAID)
        if agrees:
            done = await apply_news(svc, conn, current, number, _trusted(news, said))
            return Applied(update.event_id, payout.id, done.result.value)
        # The provider's own books contradict its webhook (an old event, a failure it took
        # back): what it says now stands, and the webhook is noted.
        done = await note_ignored(
            svc, conn, current, news, f"the provider's lookup says {said.state}"
        )
        return Applied(update.event_id, payout.id, done.result.value)


def _trusted(news: ProviderNews, said: PayoutResult | None = None) -> ProviderNews:
    """The webhook's news once the provider confirmed it (or it is a payment that stands)."""
    return ProviderNews(
        state=said.state if said is not None else news.state,
        source=news.source,
        confirmed=True,
        occurred_at=news.occurred_at,
        provider_reference=news.provider_reference
        or (said.provider_reference if said is not None else None),
        failure_code=news.failure_code or (said.failure_code if said is not None else None),
        failure_message=news.failure_message
        or (said.failure_message if said is not None else None),
        event_id=news.event_id,
        raw_type=news.raw_type,
    )


async def _confirm(
    provider: PayoutProvider, attempt: Attempt, policy: RetryPolicy
) -> _Confirmation:
    """Ask the provider what became of the attempt. A lookup that keeps failing raises (the
    webhook is answered 503 and redelivered); a provider that cannot look up says so."""
    answer = await ask(provider, attempt, provider.slug, policy)
    if answer.said is not None:
        return _Confirmation(answer.said, "")
    if answer.missing:
        return _Confirmation(None, f"{provider.slug} has no record of it")
    if Capability.LOOKUP not in provider.capabilities:
        return _Confirmation(None, answer.unreachable or "it cannot be asked")
    raise ProviderError(provider.slug, f"{answer.unreachable}; redeliver")


async def _seen(conn: AsyncConnection, slug: str, event_id: str) -> bool:
    found = await conn.scalar(
        select(provider_events.c.event_id).where(
            provider_events.c.provider == slug, provider_events.c.event_id == event_id[:255]
        )
    )
    return found is not None


async def _find(conn: AsyncConnection, slug: str, news: StatusUpdate) -> tuple[Payout, int] | None:
    """The payout and attempt number the news is about: by our reference, else by the
    provider's own reference for any attempt."""
    ours = payout_id_of(news.payout_id)
    if ours is not None:
        payout = await load_payout(conn, ours[0])
        if (
            payout is not None
            and payout.provider == slug
            and await load_attempt(conn, payout.id, ours[1]) is not None
        ):
            return payout, ours[1]
    if news.provider_reference:
        attempt = await attempt_by_reference(conn, slug, news.provider_reference)
        if attempt is not None:
            payout = await load_payout(conn, attempt.payout_id)
            if payout is not None:
                return payout, attempt.number
    return None
