"""Discrepancies: where a provider's outcome contradicted our records (paid after we called it
failed, paid under two attempts, a reversal the provider will not confirm), flagged for FINANCE.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import func

from kernel.tables import count_where
from payouts.tables import payout_discrepancies, payouts


class DiscrepancyKind(enum.StrEnum):
    PAID_AFTER_FAILED = "PAID_AFTER_FAILED"
    """The provider paid an attempt we had recorded as failed or canceled: booked as paid."""
    PAID_TWICE = "PAID_TWICE"
    """An earlier attempt paid while a later one was already on its way: both are booked."""
    PAID_UNEXPECTEDLY = "PAID_UNEXPECTEDLY"
    """Paid while our records said this attempt had not been sent: booked as a payment."""
    PAID_AFTER_RETURNED = "PAID_AFTER_RETURNED"
    """News of a payment after the payout had come back: recorded, nothing booked."""
    REVERSAL_UNCONFIRMED = "REVERSAL_UNCONFIRMED"
    """The provider's webhook says a paid payout failed, and a lookup does not confirm it (or
    the provider cannot be asked): nothing booked until FINANCE looks."""
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    """Reconciliation: the provider paid a different amount or currency than we sent."""
    RECONCILIATION_STATUS = "RECONCILIATION_STATUS"
    """Reconciliation: the provider's records settled a payout our records had not (a missed
    notice, long past the settlement window); booked as the provider's books say."""


@dataclass(frozen=True)
class Discrepancy:
    id: int
    payout_id: int
    attempt_number: int
    kind: DiscrepancyKind
    provider_state: str
    our_status: str
    message: str
    owed_diamonds: int
    source: str
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    note: str | None


def _discrepancy(row: RowMapping) -> Discrepancy:
    values = {name: row[name] for name in Discrepancy.__dataclass_fields__}
    values["kind"] = DiscrepancyKind(values["kind"])
    values["owed_diamonds"] = int(values["owed_diamonds"])
    return Discrepancy(**values)


async def flag_discrepancy(
    conn: AsyncConnection,
    payout_id: int,
    attempt_number: int,
    kind: DiscrepancyKind,
    *,
    provider_state: str,
    our_status: str,
    message: str,
    source: str,
    owed_diamonds: int = 0,
) -> int:
    """Record a discrepancy and count it open on the payout; returns its id."""
    found = await conn.scalar(
        insert(payout_discrepancies)
        .values(
            payout_id=payout_id,
            attempt_number=attempt_number,
            kind=kind.value,
            provider_state=provider_state[:16],
            our_status=our_status[:20],
            message=message[:500],
            owed_diamonds=owed_diamonds,
            source=source[:255],
        )
        .returning(payout_discrepancies.c.id)
    )
    await conn.execute(
        update(payouts)
        .where(payouts.c.id == payout_id)
        .values(open_discrepancies=payouts.c.open_discrepancies + 1)
    )
    assert found is not None
    return int(found)


async def discrepancies_of(conn: AsyncConnection, payout_id: int) -> list[Discrepancy]:
    rows = await conn.execute(
        select(payout_discrepancies)
        .where(payout_discrepancies.c.payout_id == payout_id)
        .order_by(payout_discrepancies.c.id)
    )
    return [_discrepancy(r._mapping) for r in rows]


async def list_discrepancies(
    conn: AsyncConnection, *, open_only: bool, after_id: int | None, limit: int
) -> list[Discrepancy]:
    """Newest first; `after_id` continues a page (ids below it)."""
    query = (
        select(payout_discrepancies)
        .where(*_listed(open_only))
        .order_by(payout_discrepancies.c.id.desc())
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(payout_discrepancies.c.id < after_id)
    return [_discrepancy(r._mapping) for r in await conn.execute(query)]


def _listed(open_only: bool) -> list[Any]:
    return [payout_discrepancies.c.acknowledged_at.is_(None)] if open_only else []


async def count_discrepancies(conn: AsyncConnection, *, open_only: bool) -> int:
    """How many discrepancies `list_discrepancies` lists (open ones only, or all), on every page."""
    return await count_where(conn, payout_discrepancies, _listed(open_only))


async def load_discrepancy(conn: AsyncConnection, discrepancy_id: int) -> Discrepancy | None:
    row = (
        await conn.execute(
            select(payout_discrepancies).where(payout_discrepancies.c.id == discrepancy_id)
        )
    ).first()
    return None if row is None else _discrepancy(row._mapping)


async def acknowledge_discrepancy(
    conn: AsyncConnection, discrepancy_id: int, *, by: str, note: str
) -> bool:
    """Close an open discrepancy once; False when it was already acknowledged."""
    found = await load_discrepancy(conn, discrepancy_id)
    if found is None:
        return False
    closed = await conn.execute(
        update(payout_discrepancies)
        .where(
            payout_discrepancies.c.id == discrepancy_id,
            payout_discrepancies.c.acknowledged_at.is_(None),
        )
        .values(acknowledged_by=by[:255], acknowledged_at=func.now(), note=note[:500])
    )
    if closed.rowcount != 1:
        return False
    await conn.execute(
        update(payouts)
        .where(payouts.c.id == found.payout_id)
        .values(open_discrepancies=payouts.c.open_discrepancies - 1)
    )
    return True
