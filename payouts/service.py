"""The payout pipeline's shared parts: the economy, the compliance gate, the providers by slug, the
policy and the book, plus the helpers every payout operation uses.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.events import PayoutStatusChanged, publish_payout_status
from economy.users import by_id
from kernel.audit import write_audit_entry
from kernel.clock import as_utc
from kernel.errors import DomainError, NotFound
from payouts.asking import ASKING
from payouts.eligibility import PayoutGate
from payouts.states import PayoutStatus
from payouts.store import (
    Payout,
    PayoutBook,
    PayoutTransitionRefused,
    StaleStatus,
    load_payout,
)
from providers.base import PayoutProvider
from providers.errors import ProviderConfigError
from providers.registry import ProviderRegistry, UnknownProvider
from providers.retry import RetryPolicy
from settings.payouts import PayoutPolicy

log = logging.getLogger(__name__)


_MOVED: ContextVar[list[Payout] | None] = ContextVar("payouts_moved", default=None)


class ProviderNotConfigured(DomainError):
    """The provider is registered but not configured here (or cannot start). The message names
    what is missing, for FINANCE and the logs; `public_message` is what a creator is told."""

    def __init__(self, slug: str, exc: ProviderConfigError) -> None:
        self.missing = exc.missing
        what = f"set {', '.join(exc.missing)}" if exc.missing else exc.detail
        self.public_message = f"payouts through {slug} are not available now"
        super().__init__(
            "PROVIDER_NOT_CONFIGURED", f"{slug} is not configured here: {what}", "provider"
        )


@dataclass
class PayoutService:
    eco: Economy
    gate: PayoutGate
    providers: ProviderRegistry
    policy: PayoutPolicy = field(default_factory=PayoutPolicy)
    asking: RetryPolicy = ASKING
    """Retries of the lookups and cancels a person or a webhook delivery waits for."""
    book: PayoutBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = PayoutBook(self.eco.ledger)

    def provider(self, slug: str) -> PayoutProvider:
        """The provider a creator asked for. Raises UNKNOWN_PROVIDER when none is registered by
        that name, and `ProviderNotConfigured` when it is registered but cannot be used here."""
        try:
            return self.providers.get(slug)
        except UnknownProvider:
            known = ", ".join(self.providers.slugs()) or "none"
            raise DomainError(
                "UNKNOWN_PROVIDER",
                f"no payout provider {slug[:40]!r} is registered (known: {known})",
                "provider",
            ) from None
        except ProviderConfigError as exc:
            log.error("payout provider %r is not available: %s", slug, exc.detail)
            raise ProviderNotConfigured(slug, exc) from None

    def find_provider(self, slug: str) -> PayoutProvider | None:
        try:
            return self.providers.get(slug)
        except ProviderConfigError:
            log.exception("payout provider %r cannot be used", slug)
            return None

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction whose payout status changes are announced to `payoutStatusChanged`
        subscribers once it has committed (never for one that rolled back)."""
        moved: list[Payout] = []
        token = _MOVED.set(moved)
        try:
            async with self.eco.db.write() as conn:
                yield conn
        finally:
            _MOVED.reset(token)
        for payout in moved:
            self.announce(payout)

    def announce(self, payout: Payout, *, passed: Sequence[PayoutStatus] = ()) -> None:
        """Tell `payoutStatusChanged` subscribers where `payout` stands, after the statuses it
        `passed` through in the same transaction (a new payout: REQUESTED). Call it only after
        that transaction has committed."""
        publish_payout_status(
            self.eco.events,
            *(status_changed(payout, status, payout.created_at) for status in passed),
            status_changed(payout, payout.status, payout.updated_at),
        )

    async def move(
        self,
        conn: AsyncConnection,
        payout: Payout,
        new: PayoutStatus,
        *,
        actor: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        guard: ColumnElement[bool] | None = None,
        correcting: bool = False,
        receipt: dict[str, int] | None = None,
    ) -> Payout:
        creator = await by_id(conn, payout.user_id)
        assert creator is not None
        moved = await self.book.move(
            conn,
            payout,
            new,
            diamond_account_id=creator.diamond_account_id,
            actor=actor,
            reason=reason,
            details=details,
            changes=changes,
            guard=guard,
            correcting=correcting,
            receipt=receipt,
        )
        self.changed(moved)
        return moved

    def changed(self, payout: Payout) -> None:
        """Announce `payout` to `payoutStatusChanged` once the current `writing()` block commits
        (a status change, or a discrepancy flagged on it)."""
        pending = _MOVED.get()
        if pending is not None:
            pending.append(payout)


def status_changed(payout: Payout, status: PayoutStatus, at: datetime) -> PayoutStatusChanged:
    """The live event of `payout` reaching `status` at `at`."""
    return PayoutStatusChanged(
        payout_id=payout.id,
        user_id=payout.user_id,
        status=status.value,
        at=as_utc(at),
        provider=payout.provider,
        diamonds=payout.diamonds,
        currency=payout.currency,
        gross_minor=payout.gross_minor,
        fee_minor=payout.fee_minor,
        withholding_minor=payout.withholding_minor,
        net_minor=payout.net_minor,
    )


async def payout_for_update(conn: AsyncConnection, payout_id: int) -> Payout:
    payout = await load_payout(conn, payout_id)
    if payout is None:
        raise NotFound("PAYOUT_NOT_FOUND", "no such payout", "payoutId")
    return payout


def transition_refused(exc: PayoutTransitionRefused | StaleStatus) -> DomainError:
    if isinstance(exc, PayoutTransitionRefused):
        return DomainError(
            "INVALID_STATUS",
            f"a {exc.current.value.lower()} payout cannot become {exc.new.value.lower()}",
            "payoutId",
        )
    return DomainError("INVALID_STATUS", "the payout changed meanwhile; read it again", "payoutId")


async def audit(
    conn: AsyncConnection, actor: str, action: str, payout_id: int, details: Mapping[str, Any]
) -> None:
    await write_audit_entry(conn, actor, action, f"payout:{payout_id}", details)
