"""The durable outbox's worker: claims approved payouts (SKIP LOCKED, with a lease), re-checks the
gate, calls the provider with no database lock held, records what it answered, and looks up the
payouts whose outcome is unknown or still pending. Killed anywhere, a restart resumes safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import func, or_, select, update

from economy.users import by_id
from kernel.clock import as_utc, utcnow
from kernel.logs import log_scope
from ledger.debts import creators_in_debt
from payouts.actors import WORKER_PREFIX
from payouts.attempts import AttemptOutcome, record_attempt
from payouts.outcomes import ProviderNews, apply_news
from payouts.reconciliation.daily import run_daily
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import (
    Payout,
    PayoutTransitionRefused,
    StaleStatus,
    load_payout,
    load_payouts,
)
from payouts.tables import payout_attempts, payouts
from providers.base import (
    Capability,
    Payee,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
)
from providers.errors import (
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    ProviderError,
    TransientProviderError,
    UnknownOutcome,
)
from providers.retry import submit_with_retries

log = logging.getLogger(__name__)

T = TypeVar("T")

Submit = Callable[[PayoutProvider, PayoutInstruction], Awaitable[PayoutResult]]

AMBIGUOUS_REFUSALS = frozenset({"IDEMPOTENCY_CONFLICT", "IDEMPOTENCY_ERROR"})
"""Refusals that do not mean "not paid": the provider already has this payout in another form."""

PARKED = datetime(9999, 1, 1, tzinfo=UTC)
"""`next_attempt_at` of a payout no worker may take again (it waits for an operator)."""


class OutsideIdempotencyWindow(Exception):
    def __init__(self, payout_id: int, provider: str) -> None:
        super().__init__(
            f"payout {payout_id}: outcome unknown and {provider} no longer remembers its "
            "idempotency key; resubmitting could pay twice, so it waits for FINANCE "
            "(resolvePayout)"
        )


async def _all(work: Iterable[Awaitable[T]]) -> list[T]:
    """Run every awaitable concurrently and wait for all of them, even when one fails; then
    raise the first failure, if any, so a round fails as a whole but leaves nothing running."""
    results = await asyncio.gather(*work, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


async def submit_retrying(provider: PayoutProvider, instruction: PayoutInstruction) -> PayoutResult:
    return await submit_with_retries(provider, instruction)


@dataclass
class Dispatcher:
    svc: PayoutService
    name: str = ""
    submit: Submit = submit_retrying
    batch: int = 10
    debt_sweep: timedelta = timedelta(seconds=10)
    _swept_at: datetime | None = None

    def __post_init__(self) -> None:
        self.name = self.name or worker_name()

    async def run_once(self) -> int:
        """Dispatch what is due now; returns how many payouts it handled."""
        claimed = await self.claim()
        await _all(self.dispatch(payout) for payout in claimed)
        if claimed:
            await self.flush_batch_files({p.provider for p in claimed})
        looked = await self.poll_pending()
        await self.settle_debts()
        return len(claimed) + looked

    async def settle_debts(self) -> int:
        """Pay down what creators owe (payments booked after their diamonds had gone back to
        them) from the diamonds they have earned since; at most every `debt_sweep_seconds`."""
        moment = utcnow()
        if self._swept_at is not None and moment < self._swept_at + self.debt_sweep:
            return 0
        self._swept_at = moment
        async with self.svc.eco.db.read() as conn:
            debtors = await creators_in_debt(conn, self.batch)
        settled = 0
        for user_id in debtors:
            async with self.svc.eco.db.write() as conn:
                creator = await by_id(conn, user_id)
                if creator is not None:
                    settled += await self.svc.book.settle_owed(
                        conn, user_id, creator.diamond_account_id
                    )
        return settled

    async def flush_batch_files(self, slugs: set[str]) -> None:
        """Providers that pay through files write the batch they queued this round."""
        for slug in sorted(slugs):
            provider = self.svc.find_provider(slug)
            flush = getattr(provider, "flush", None)
            if provider is None or Capability.BATCH_FILES not in provider.capabilities:
                continue
            if callable(flush):
                try:
                    await flush()
                except Exception:
                    log.exception("%s: writing the batch file failed; the next round retries", slug)

    async def run_forever(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Dispatch until `stop` is set; the daily reconciliation runs beside it."""
        daily = asyncio.create_task(run_daily(self.svc, stop))
        try:
            await self._dispatch_until(stop, idle_seconds)
        finally:
            stop.set()
            await daily

    async def _dispatch_until(self, stop: asyncio.Event, idle_seconds: float) -> None:
        log.info("payout worker %s started", self.name)
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("payout worker %s: a round failed; trying again", self.name)
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
        log.info("payout worker %s stopped", self.name)

    async def claim(self) -> list[Payout]:
        """Take a lease on up to `batch` due payouts. Rows another worker is claiming are
        skipped (PostgreSQL SKIP LOCKED); on SQLite writes are serialized anyway."""
        moment = utcnow()
        async with self.svc.eco.db.write() as conn:
            due = (
                select(payouts.c.id)
                .where(
                    payouts.c.status.in_(
                        [s.value for s in (PayoutStatus.APPROVED, PayoutStatus.UNKNOWN)]
                    ),
                    payouts.c.next_attempt_at <= moment,
                    or_(payouts.c.lease_until.is_(None), payouts.c.lease_until < moment),
                )
                .order_by(payouts.c.next_attempt_at, payouts.c.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            ids = [int(i) for i in (await conn.scalars(due)).all()]
            if not ids:
                return []
            await conn.execute(
                update(payouts)
                .where(payouts.c.id.in_(ids))
                .values(
                    lease_owner=self.name,
                    lease_until=moment + timedelta(seconds=self.svc.policy.lease_seconds),
                    attempts=payouts.c.attempts + 1,
                    first_sent_at=func.coalesce(payouts.c.first_sent_at, moment),
                )
            )
            found = await load_payouts(conn, ids)
            for payout in found:
                await conn.execute(
                    update(payout_attempts)
                    .where(
                        payout_attempts.c.payout_id == payout.id,
                        payout_attempts.c.number == payout.generation,
                    )
                    .values(first_sent_at=func.coalesce(payout_attempts.c.first_sent_at, moment))
                )
        return found

    async def dispatch(self, payout: Payout) -> None:
        """One payout through its provider. No database lock is held during the call."""
        with log_scope(payout_id=payout.id):
            await self._dispatch(payout)

    async def _dispatch(self, payout: Payout) -> None:
        provider = self.svc.find_provider(payout.provider)
        if provider is None:
            await self._record(
                payout,
                PayoutStatus.FAILED,
                code="UNKNOWN_PROVIDER",
                message=f"no provider {payout.provider!r} is configured",
            )
            return
        async with self.svc.eco.db.read() as conn:
            eligibility = await self.svc.gate.check(
                conn,
                user_id=payout.user_id,
                provider=payout.provider,
                currency=payout.currency,
                amount_minor=payout.gross_minor,
                today=utcnow().date(),
            )
            payee = await self.svc.gate.payee(
                conn, user_id=payout.user_id, provider=payout.provider
            )
        if payout.status is PayoutStatus.APPROVED and (not eligibility.eligible or payee is None):
            if payout.attempts > 1 and await self._taken_before(provider, payout):
                return
            codes = [r.code for r in eligibility.requirements] or ["PAYOUT_METHOD_UNVERIFIED"]
            await self._record(
                payout,
                PayoutStatus.ON_HOLD,
                code=",".join(codes)[:64],
                message="blocked by the compliance gate before dispatch",
            )
            return
        try:
            if payout.status is PayoutStatus.UNKNOWN and Capability.LOOKUP in provider.capabilities:
                result = await self._lookup_or_resubmit(provider, payout, payee)
            else:
                result = await self._submit(provider, payout, payee)
        except PermanentProviderError as exc:
            if exc.code.upper() in AMBIGUOUS_REFUSALS:
                # The provider holds an earlier, different instruction under this payout: it
                # may still pay it. Nothing is voided without a person looking.
                await self._park(payout, f"{exc.code}: {exc.detail}")
                return
            await self._heard(
                payout,
                PayoutResult(
                    payout.reference,
                    PayoutState.FAILED,
                    failure_code=exc.code,
                    failure_message=exc.detail,
                ),
            )
            return
        except ProviderConfigError as exc:
            log.error("payout %s: %s is misconfigured: %s", payout.id, provider.slug, exc)
            await self._retry_later(payout, str(exc))
            return
        except UnknownOutcome as exc:
            await self._heard(
                payout,
                PayoutResult(payout.reference, PayoutState.UNKNOWN, failure_message=str(exc)),
                retry=True,
            )
            return
        except OutsideIdempotencyWindow as exc:
            log.error("%s", exc)
            await self._park(payout, str(exc))
            return
        except TransientProviderError as exc:
            if payout.attempts >= self.svc.policy.max_dispatch_attempts:
                await self._record(
                    payout, PayoutStatus.FAILED, code="PROVIDER_UNAVAILABLE", message=str(exc)
                )
            else:
                await self._retry_later(payout, str(exc))
            return
        await self._heard(payout, result, retry=result.state is PayoutState.UNKNOWN)

    async def _submit(
        self, provider: PayoutProvider, payout: Payout, payee: Payee | None
    ) -> PayoutResult:
        if payee is None:
            raise PermanentProviderError(
                provider.slug,
                "PAYOUT_METHOD_UNVERIFIED",
                "the creator has no verified payout method here",
            )
        instruction = PayoutInstruction(
            payout_id=payout.reference,
            idempotency_key=payout.idempotency_key,
            amount_minor=payout.net_minor,
            currency=payout.currency,
            payee=payee,
            description=f"Diamonds payout {payout.id}",
            metadata={"payout_id": str(payout.id), "user_id": str(payout.user_id)},
        )
        return await self.submit(provider, instruction)

    async def _lookup_or_resubmit(
        self, provider: PayoutProvider, payout: Payout, payee: Payee | None
    ) -> PayoutResult:
        """After an unknown outcome: ask the provider. If it has no record, or cannot tell,
        submit again under the same idempotency key, which cannot pay twice, but only while the
        provider still remembers that key; past its window the payout waits for an operator."""
        try:
            found = await provider.lookup(payout.reference, payout.provider_reference)
        except (PayoutNotFound, PermanentProviderError) as exc:
            log.info("payout %s: %s has no record of it (%s)", payout.id, provider.slug, exc)
        else:
            if found.state is not PayoutState.UNKNOWN:
                return found
        if not self._inside_window(provider, payout):
            raise OutsideIdempotencyWindow(payout.id, provider.slug)
        return await self._submit(provider, payout, payee)

    async def _taken_before(self, provider: PayoutProvider, payout: Payout) -> bool:
        """Before the gate holds a payout that an earlier claim may have sent (a worker that
        died mid-call, a round that failed after the request left): does the provider have it?
        Then its news is applied (the gate can no longer stop money the provider holds), or, if
        it cannot say, the payout waits for the next round; False only when it has no record."""
        if Capability.LOOKUP not in provider.capabilities:
            return False
        try:
            found = await provider.lookup(payout.reference, payout.provider_reference)
        except (PayoutNotFound, PermanentProviderError):
            return False
        except ProviderError as exc:
            await self._retry_later(payout, f"blocked by the gate; the lookup failed: {exc}")
            return True
        if found.state is PayoutState.UNKNOWN:
            await self._retry_later(payout, "blocked by the gate; the provider cannot tell yet")
            return True
        await self._heard(payout, found)
        return True

    @staticmethod
    def _inside_window(provider: PayoutProvider, payout: Payout) -> bool:
        window = provider.idempotency_window
        if window is None or payout.first_sent_at is None:
            return True
        # A margin: never resubmit in the last tenth of the window.
        return utcnow() < as_utc(payout.first_sent_at) + window * 0.9

    async def poll_pending(self) -> int:
        """Look up submitted payouts that no webhook settled for a while, concurrently. The
        payouts looked up are leased first (their `next_attempt_at` moved a lease ahead), so
        that concurrent workers never ask the provider about the same payout twice at once; a
        worker killed meanwhile leaves them to be looked up once the lease has passed."""
        moment = utcnow()
        cutoff = moment - timedelta(seconds=self.svc.policy.lookup_after_seconds)
        async with self.svc.eco.db.write() as conn:
            due = (
                select(payouts.c.id)
                .where(
                    payouts.c.status == PayoutStatus.SUBMITTED.value,
                    payouts.c.updated_at <= cutoff,
                    payouts.c.next_attempt_at <= moment,
                )
                .order_by(payouts.c.updated_at)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            ids = [int(i) for i in (await conn.scalars(due)).all()]
            if not ids:
                return 0
            await conn.execute(
                update(payouts)
                .where(payouts.c.id.in_(ids))
                .values(next_attempt_at=moment + timedelta(seconds=self.svc.policy.lease_seconds))
            )
            pending = await load_payouts(conn, ids)
        asked = await _all(self._polled(payout) for payout in pending)
        return sum(asked)

    async def _polled(self, payout: Payout) -> int:
        with log_scope(payout_id=payout.id):
            return await self._poll(payout)

    async def _poll(self, payout: Payout) -> int:
        """Look one submitted payout up; 1 when the provider was asked."""
        provider = self.svc.find_provider(payout.provider)
        if provider is None or Capability.LOOKUP not in provider.capabilities:
            await self._touch(payout, updated=False)
            return 0
        try:
            result = await provider.lookup(payout.reference, payout.provider_reference)
        except ProviderError as exc:
            log.warning("payout %s: lookup failed: %s", payout.id, exc)
            await self._touch(payout)
            return 0
        if result.state in (PayoutState.PENDING, PayoutState.UNKNOWN):
            await self._touch(payout)
        else:
            await self._heard(payout, result, lease=False)
        return 1

    async def _heard(
        self, payout: Payout, result: PayoutResult, *, retry: bool = False, lease: bool = True
    ) -> None:
        """Apply what the provider answered about the current attempt (through the one place
        that applies provider outcomes), then release the lease."""
        news = ProviderNews.answered(result, f"{WORKER_PREFIX}{self.name}")
        changes: dict[str, object] = {}
        if lease:
            changes.update(lease_owner=None, lease_until=None)
        else:  # a lookup: release its lease (poll_pending)
            changes["next_attempt_at"] = utcnow()
        if retry:
            changes["next_attempt_at"] = utcnow() + timedelta(
                seconds=self.svc.policy.backoff_seconds(payout.attempts)
            )
        async with self.svc.writing() as conn:
            current = await load_payout(conn, payout.id)
            assert current is not None
            # A FINANCE retry may have started a newer attempt meanwhile: the news is still
            # about the attempt that was sent, and is applied as such.
            await apply_news(self.svc, conn, current, payout.generation, news)
            if changes:
                await conn.execute(
                    update(payouts).where(payouts.c.id == payout.id).values(**changes)
                )

    async def _touch(self, payout: Payout, *, updated: bool = True) -> None:
        """Release a lookup's lease; `updated` also restarts its wait of `lookup_after_seconds`."""
        moment = utcnow()
        changes: dict[str, object] = {"next_attempt_at": moment}
        if updated:
            changes["updated_at"] = moment
        async with self.svc.eco.db.write() as conn:
            await conn.execute(
                update(payouts)
                .where(payouts.c.id == payout.id, payouts.c.status == payout.status.value)
                .values(**changes)
            )

    async def _park(self, payout: Payout, message: str) -> None:
        """Leave the payout UNKNOWN for FINANCE (resolvePayout); no worker takes it again."""
        await self._record(
            payout, PayoutStatus.UNKNOWN, code="NEEDS_OPERATOR", message=message, park=True
        )

    async def _retry_later(self, payout: Payout, message: str) -> None:
        delay = self.svc.policy.backoff_seconds(payout.attempts)
        log.warning(
            "payout %s: provider busy (%s); next attempt in %.0f s", payout.id, message, delay
        )
        async with self.svc.eco.db.write() as conn:
            await conn.execute(
                update(payouts)
                .where(payouts.c.id == payout.id, payouts.c.status == payout.status.value)
                .values(
                    lease_owner=None,
                    lease_until=None,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    failure_message=message[:500],
                )
            )

    async def _record(
        self,
        payout: Payout,
        status: PayoutStatus,
        *,
        code: str | None = None,
        message: str | None = None,
        reference: str | None = None,
        retry: bool = False,
        park: bool = False,
    ) -> None:
        """Move the payout to what the provider said, releasing the lease. Another writer (a
        webhook, say) may have settled it meanwhile: then the newer truth stands."""
        changes: dict[str, object] = {"lease_owner": None, "lease_until": None}
        if reference:
            changes["provider_reference"] = reference[:255]
        if code:
            changes["failure_code"] = code[:64]
        if message:
            changes["failure_message"] = message[:500]
        if park:
            changes["next_attempt_at"] = PARKED
        elif retry:
            changes["next_attempt_at"] = utcnow() + timedelta(
                seconds=self.svc.policy.backoff_seconds(payout.attempts)
            )
        async with self.svc.writing() as conn:
            current = await load_payout(conn, payout.id)
            assert current is not None
            if code or message:
                await record_attempt(
                    conn,
                    payout.id,
                    payout.generation,
                    outcome=AttemptOutcome.UNKNOWN if status is PayoutStatus.UNKNOWN else None,
                    failure_code=code,
                    failure_message=message,
                )
            if current.status is status:
                await conn.execute(
                    update(payouts).where(payouts.c.id == payout.id).values(**changes)
                )
                return
            try:
                await self.svc.move(
                    conn,
                    current,
                    status,
                    actor=f"{WORKER_PREFIX}{self.name}",
                    reason=message,
                    details={"code": code} if code else None,
                    changes=changes,
                )
            except (PayoutTransitionRefused, StaleStatus) as exc:
                log.info(
                    "payout %s: not moved to %s (%s); keeping %s",
                    payout.id,
                    status,
                    exc,
                    current.status,
                )
                await conn.execute(
                    update(payouts)
                    .where(payouts.c.id == payout.id)
                    .values(lease_owner=None, lease_until=None)
                )
