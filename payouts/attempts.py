"""A payout's attempts at its provider: each under its own idempotency key, with the provider's
reference, outcome and times, kept for good when a later attempt starts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import func

from payouts.tables import payout_attempts, payouts


class AttemptOutcome(enum.StrEnum):
    """Where one attempt stands at the provider, as far as we know."""

    NOT_SENT = "NOT_SENT"
    """Nothing the provider accepted yet (or it refused before accepting anything)."""
    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"
    """Sent, and the answer was lost: it may or may not exist at the provider."""
    PAID = "PAID"
    FAILED = "FAILED"
    RETURNED = "RETURNED"
    CANCELED = "CANCELED"


UNSETTLED = frozenset({AttemptOutcome.PENDING, AttemptOutcome.UNKNOWN})
"""Outcomes under which the attempt could still pay."""


class SettledBy(enum.StrEnum):
    PROVIDER = "PROVIDER"
    """The provider said so (an answer, a lookup, a verified webhook)."""
    MANUAL = "MANUAL"
    """FINANCE stated it where the provider could not be asked."""


def attempt_key(payout_id: int, number: int) -> str:
    """Our name for attempt `number` of a payout at the provider, and its idempotency key:
    `diamonds-payout-<id>` for the first attempt, `diamonds-payout-<id>-<n>` after."""
    return f"diamonds-payout-{payout_id}" + (f"-{number}" if number > 1 else "")


@dataclass(frozen=True)
class Attempt:
    id: int
    payout_id: int
    number: int
    idempotency_key: str
    provider_reference: str | None
    outcome: AttemptOutcome
    settled_by: SettledBy | None
    failure_code: str | None
    failure_message: str | None
    outcome_at: datetime | None
    """The provider's time for the news that set `outcome` (a webhook's event time)."""
    first_sent_at: datetime | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def unsettled(self) -> bool:
        return self.outcome in UNSETTLED


def _attempt(row: RowMapping) -> Attempt:
    values = {name: row[name] for name in Attempt.__dataclass_fields__}
    values["outcome"] = AttemptOutcome(values["outcome"])
    values["settled_by"] = SettledBy(values["settled_by"]) if values["settled_by"] else None
    return Attempt(**values)


async def start_attempt(conn: AsyncConnection, payout_id: int, number: int) -> Attempt:
    """Record attempt `number` of a payout, not sent yet."""
    row = (
        await conn.execute(
            insert(payout_attempts)
            .values(
                payout_id=payout_id,
                number=number,
                idempotency_key=attempt_key(payout_id, number),
                outcome=AttemptOutcome.NOT_SENT.value,
            )
            .returning(payout_attempts)
        )
    ).one()
    return _attempt(row._mapping)


async def attempts_of(conn: AsyncConnection, payout_id: int) -> list[Attempt]:
    rows = await conn.execute(
        select(payout_attempts)
        .where(payout_attempts.c.payout_id == payout_id)
        .order_by(payout_attempts.c.number)
    )
    return [_attempt(r._mapping) for r in rows]


async def load_attempt(conn: AsyncConnection, payout_id: int, number: int) -> Attempt | None:
    row = (
        await conn.execute(
            select(payout_attempts).where(
                payout_attempts.c.payout_id == payout_id, payout_attempts.c.number == number
            )
        )
    ).first()
    return None if row is None else _attempt(row._mapping)


async def attempt_by_reference(
    conn: AsyncConnection, provider: str, provider_reference: str
) -> Attempt | None:
    """The attempt the provider knows as `provider_reference`, whichever attempt it was."""
    row = (
        await conn.execute(
            select(payout_attempts)
            .join(payouts, payouts.c.id == payout_attempts.c.payout_id)
            .where(
                payouts.c.provider == provider,
                payout_attempts.c.provider_reference == provider_reference,
            )
            .order_by(payout_attempts.c.id)
            .limit(1)
        )
    ).first()
    return None if row is None else _attempt(row._mapping)


async def record_attempt(
    conn: AsyncConnection,
    payout_id: int,
    number: int,
    *,
    outcome: AttemptOutcome | None = None,
    settled_by: SettledBy | None = None,
    provider_reference: str | None = None,
    failure_code: str | None = None,
    failure_message: str | None = None,
    outcome_at: datetime | None = None,
    first_sent_at: datetime | None = None,
) -> None:
    """Write what became of an attempt; a reference once known is never replaced."""
    values: dict[str, Any] = {"updated_at": func.now()}
    if outcome is not None:
        values["outcome"] = outcome.value
        values["settled_by"] = settled_by.value if settled_by else None
        if outcome is AttemptOutcome.PAID:
            values["paid_at"] = func.coalesce(payout_attempts.c.paid_at, func.now())
    if provider_reference:
        values["provider_reference"] = func.coalesce(
            payout_attempts.c.provider_reference, provider_reference[:255]
        )
    if failure_code:
        values["failure_code"] = failure_code[:64]
    if failure_message:
        values["failure_message"] = failure_message[:500]
    if outcome_at is not None:
        values["outcome_at"] = outcome_at
    if first_sent_at is not None:
        values["first_sent_at"] = func.coalesce(payout_attempts.c.first_sent_at, first_sent_at)
    await conn.execute(
        update(payout_attempts)
        .where(payout_attempts.c.payout_id == payout_id, payout_attempts.c.number == number)
        .values(**values)
    )
