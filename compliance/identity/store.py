"""The identity verification records: one per person, read as `Identity`, locked for a change,
updated, listed for FINANCE's manual review; and the Stripe webhook events already applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.identity.rules import Identity, IdentityMethod, IdentityStatus
from compliance.tables import identities, identity_events
from kernel.tables import count_where
from ledger.database import insert_ignoring_conflicts


@dataclass(frozen=True)
class IdentityRecord:
    user_id: int
    identity: Identity
    provider_session_id: str | None
    submitted_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    updated_at: datetime | None


def _record(user_id: int, row: RowMapping | None) -> IdentityRecord:
    if row is None:
        return IdentityRecord(
            user_id, Identity(IdentityStatus.NOT_STARTED), None, None, None, None, None, None
        )
    return IdentityRecord(
        user_id=user_id,
        identity=Identity(
            status=IdentityStatus(row["status"]),
            method=IdentityMethod(row["method"]) if row["method"] else None,
            reason=row["reason"],
            legal_name=row["legal_name"],
            birth_date=row["birth_date"],
            birth_date_verified=bool(row["birth_date_verified"]),
            country=row["country"],
            verified_at=row["verified_at"],
            expires_on=row["expires_on"],
        ),
        provider_session_id=row["provider_session_id"],
        submitted_at=row["submitted_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        note=row["note"],
        updated_at=row["updated_at"],
    )


async def load(conn: AsyncConnection, user_id: int) -> IdentityRecord:
    """The person's record; NOT_STARTED when they never began."""
    row = (await conn.execute(select(identities).where(identities.c.user_id == user_id))).first()
    return _record(user_id, None if row is None else row._mapping)


async def load_many(conn: AsyncConnection, user_ids: list[int]) -> dict[int, IdentityRecord]:
    rows = await conn.execute(select(identities).where(identities.c.user_id.in_(user_ids)))
    found = {int(r.user_id): _record(int(r.user_id), r._mapping) for r in rows}
    return {i: found.get(i) or _record(i, None) for i in user_ids}


async def lock(conn: AsyncConnection, user_id: int) -> IdentityRecord:
    """The record, created NOT_STARTED if missing, locked until the transaction ends."""
    await conn.execute(insert_ignoring_conflicts(conn.dialect, identities).values(user_id=user_id))
    row = (
        await conn.execute(
            select(identities).where(identities.c.user_id == user_id).with_for_update()
        )
    ).one()
    return _record(user_id, row._mapping)


async def save(conn: AsyncConnection, user_id: int, **values: Any) -> None:
    """Change the locked record."""
    await conn.execute(
        update(identities)
        .where(identities.c.user_id == user_id)
        .values(updated_at=func.now(), **values)
    )


async def user_of_session(conn: AsyncConnection, session_id: str) -> int | None:
    found = await conn.scalar(
        select(identities.c.user_id).where(identities.c.provider_session_id == session_id)
    )
    return None if found is None else int(found)


def _waiting_review() -> list[Any]:
    return [
        identities.c.status == IdentityStatus.PENDING.value,
        identities.c.method == IdentityMethod.MANUAL.value,
    ]


async def review_queue(
    conn: AsyncConnection, *, after: int | None, limit: int
) -> list[IdentityRecord]:
    """Manual verifications waiting for a FINANCE decision, by user id."""
    query = select(identities).where(*_waiting_review()).order_by(identities.c.user_id).limit(limit)
    if after is not None:
        query = query.where(identities.c.user_id > after)
    rows = await conn.execute(query)
    return [_record(int(r.user_id), r._mapping) for r in rows]


async def count_review_queue(conn: AsyncConnection) -> int:
    """How many manual verifications wait for a decision (every page of `review_queue`)."""
    return await count_where(conn, identities, _waiting_review())


async def expire_due(conn: AsyncConnection, today: date) -> list[int]:
    """Users whose verification passed its last day; their records are set EXPIRED."""
    ids = [
        int(i)
        for i in (
            await conn.scalars(
                select(identities.c.user_id)
                .where(
                    identities.c.status == IdentityStatus.VERIFIED.value,
                    identities.c.expires_on < today,
                )
                .with_for_update()
            )
        )
    ]
    if ids:
        await conn.execute(
            update(identities)
            .where(
                identities.c.user_id.in_(ids),
                identities.c.status == IdentityStatus.VERIFIED.value,
            )
            .values(status=IdentityStatus.EXPIRED.value, updated_at=func.now())
        )
    return ids


async def claim_event(
    conn: AsyncConnection, event_id: str, event_type: str, session_id: str | None
) -> bool:
    """Claim a webhook event for this transaction; False when it was handled before (a racing
    redelivery waits on the key, then sees it taken)."""
    result = await conn.execute(
        insert_ignoring_conflicts(conn.dialect, identity_events).values(
            event_id=event_id[:255],
            type=event_type[:100],
            session_id=session_id,
            outcome="RECEIVED",
        )
    )
    return result.rowcount == 1


async def settle_event(conn: AsyncConnection, event_id: str, outcome: str) -> None:
    await conn.execute(
        update(identity_events)
        .where(identity_events.c.event_id == event_id[:255])
        .values(outcome=outcome[:32])
    )
