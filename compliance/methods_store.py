"""The payout methods: one current method per person and provider (a new one removes the old),
its account number sealed with the configured keys; FINANCE's review queue and decisions; and
the re-encryption of account numbers sealed with an older key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.crypto import Sealed
from compliance.payout_methods import Method, PayoutMethodStatus, describe
from compliance.tables import payout_methods


@dataclass(frozen=True)
class StoredMethod:
    id: int
    user_id: int
    provider: str
    status: PayoutMethodStatus
    holder_name: str | None
    country: str | None
    email: str | None
    stripe_account: str | None
    bic: str | None
    routing_number: str | None
    account_type: str | None
    secret_last4: str | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime

    @property
    def display(self) -> str:
        return describe(
            self.provider,
            email=self.email,
            stripe_account=self.stripe_account,
            bic=self.bic,
            routing_number=self.routing_number,
            account_type=self.account_type,
            secret_last4=self.secret_last4,
        )


_COLUMNS = [c for c in payout_methods.c if c.name != "secret_ciphertext"]


def _stored(row: RowMapping) -> StoredMethod:
    return StoredMethod(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        provider=row["provider"],
        status=PayoutMethodStatus(row["status"]),
        holder_name=row["holder_name"],
        country=row["country"],
        email=row["email"],
        stripe_account=row["stripe_account"],
        bic=row["bic"],
        routing_number=row["routing_number"],
        account_type=row["account_type"],
        secret_last4=row["secret_last4"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        note=row["note"],
        created_at=row["created_at"],
    )


_CURRENT = payout_methods.c.status != PayoutMethodStatus.REMOVED.value


async def current(conn: AsyncConnection, user_id: int, provider: str) -> StoredMethod | None:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(
                payout_methods.c.user_id == user_id,
                payout_methods.c.provider == provider,
                _CURRENT,
            )
        )
    ).first()
    return None if row is None else _stored(row._mapping)


async def of_user(conn: AsyncConnection, user_id: int) -> list[StoredMethod]:
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(payout_methods.c.user_id == user_id, _CURRENT)
        .order_by(payout_methods.c.provider)
    )
    return [_stored(r._mapping) for r in rows]


async def by_id(
    conn: AsyncConnection, method_id: int, *, lock: bool = False
) -> StoredMethod | None:
    query = select(*_COLUMNS).where(payout_methods.c.id == method_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return None if row is None else _stored(row._mapping)


async def sealed_secret(conn: AsyncConnection, method_id: int) -> str | None:
    token = await conn.scalar(
        select(payout_methods.c.secret_ciphertext).where(payout_methods.c.id == method_id)
    )
    return None if token is None else str(token)


async def replace(
    conn: AsyncConnection,
    user_id: int,
    method: Method,
    sealed: Sealed | None,
    status: PayoutMethodStatus = PayoutMethodStatus.PENDING,
) -> int:
    """Store `method` as the person's current one for its provider, removing the one before."""
    await conn.execute(
        update(payout_methods)
        .where(
            payout_methods.c.user_id == user_id,
            payout_methods.c.provider == method.provider,
            _CURRENT,
        )
        .values(status=PayoutMethodStatus.REMOVED.value, removed_at=func.now())
    )
    method_id = await conn.scalar(
        insert(payout_methods)
        .values(
            user_id=user_id,
            provider=method.provider,
            status=status.value,
            holder_name=method.holder_name,
            country=method.country,
            email=method.email,
            stripe_account=method.stripe_account,
            bic=method.bic,
            routing_number=method.routing_number,
            account_type=method.account_type,
            secret_ciphertext=None if sealed is None else sealed.token,
            secret_key_id=None if sealed is None else sealed.key_id,
            secret_last4=method.secret_last4,
        )
        .returning(payout_methods.c.id)
    )
    assert method_id is not None
    return int(method_id)


async def decide(
    conn: AsyncConnection,
    method_id: int,
    status: PayoutMethodStatus,
    *,
    actor: str,
    note: str,
) -> bool:
    """Move a PENDING method to `status`; False when it is no longer pending."""
    result = await conn.execute(
        update(payout_methods)
        .where(
            payout_methods.c.id == method_id,
            payout_methods.c.status == PayoutMethodStatus.PENDING.value,
        )
        .values(status=status.value, decided_by=actor, decided_at=func.now(), note=note)
    )
    return result.rowcount == 1


async def review_queue(
    conn: AsyncConnection, *, after: int | None, limit: int
) -> list[StoredMethod]:
    query = (
        select(*_COLUMNS)
        .where(payout_methods.c.status == PayoutMethodStatus.PENDING.value)
        .order_by(payout_methods.c.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(payout_methods.c.id > after)
    return [_stored(r._mapping) for r in await conn.execute(query)]


async def sealed_with_other_keys(
    conn: AsyncConnection, primary_key_id: str, limit: int
) -> list[tuple[int, str]]:
    rows = await conn.execute(
        select(payout_methods.c.id, payout_methods.c.secret_ciphertext)
        .where(
            payout_methods.c.secret_ciphertext.is_not(None),
            payout_methods.c.secret_key_id != primary_key_id,
        )
        .order_by(payout_methods.c.id)
        .limit(limit)
        .with_for_update()
    )
    return [(int(r.id), str(r.secret_ciphertext)) for r in rows]


async def reseal(conn: AsyncConnection, method_id: int, sealed: Sealed) -> None:
    await conn.execute(
        update(payout_methods)
        .where(payout_methods.c.id == method_id)
        .values(secret_ciphertext=sealed.token, secret_key_id=sealed.key_id)
    )
