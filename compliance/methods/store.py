"""The payout methods: one current method per person and provider (a new one removes the old),
its fields stored one row each (secret ones sealed with the configured keys); FINANCE's review
queue and decisions; and the re-encryption of fields sealed with an older key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.crypto import Sealed
from compliance.methods.rules import Method, PayoutMethodStatus, describe, masked
from compliance.tables import payout_method_fields, payout_methods
from kernel.tables import count_where


@dataclass(frozen=True)
class StoredField:
    """A stored field as anyone may see it: a plain value, or a secret's last four."""

    name: str
    secret: bool
    value: str | None
    """The value of a plain field; None for a secret one."""
    last4: str | None

    @property
    def shown(self) -> str:
        return masked(self.last4) if self.secret else self.value or ""


@dataclass(frozen=True)
class StoredMethod:
    id: int
    user_id: int
    provider: str
    status: PayoutMethodStatus
    holder_name: str | None
    country: str | None
    fields: tuple[StoredField, ...]
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime

    @property
    def display(self) -> str:
        return describe(self.provider, [f.shown for f in self.fields])


def _stored(row: RowMapping, fields: Sequence[StoredField]) -> StoredMethod:
    return StoredMethod(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        provider=row["provider"],
        status=PayoutMethodStatus(row["status"]),
        holder_name=row["holder_name"],
        country=row["country"],
        fields=tuple(fields),
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        note=row["note"],
        created_at=row["created_at"],
    )


async def _with_fields(conn: AsyncConnection, rows: Sequence[RowMapping]) -> list[StoredMethod]:
    ids = [int(r["id"]) for r in rows]
    by_method: dict[int, list[StoredField]] = {i: [] for i in ids}
    if ids:
        t = payout_method_fields.c
        found = await conn.execute(
            select(t.method_id, t.name, t.value, t.last4, t.ciphertext.is_not(None).label("secret"))
            .where(t.method_id.in_(ids))
            .order_by(t.method_id, t.position, t.name)
        )
        for f in found:
            by_method[int(f.method_id)].append(
                StoredField(f.name, bool(f.secret), f.value, f.last4)
            )
    return [_stored(r, by_method[int(r["id"])]) for r in rows]


async def _one(conn: AsyncConnection, row: RowMapping | None) -> StoredMethod | None:
    return None if row is None else (await _with_fields(conn, [row]))[0]


_CURRENT = payout_methods.c.status != PayoutMethodStatus.REMOVED.value


async def current(conn: AsyncConnection, user_id: int, provider: str) -> StoredMethod | None:
    row = (
        await conn.execute(
            select(payout_methods).where(
                payout_methods.c.user_id == user_id,
                payout_methods.c.provider == provider,
                _CURRENT,
            )
        )
    ).first()
    return await _one(conn, None if row is None else row._mapping)


async def of_user(conn: AsyncConnection, user_id: int) -> list[StoredMethod]:
    rows = await conn.execute(
        select(payout_methods)
        .where(payout_methods.c.user_id == user_id, _CURRENT)
        .order_by(payout_methods.c.provider)
    )
    return await _with_fields(conn, [r._mapping for r in rows])


async def by_id(
    conn: AsyncConnection, method_id: int, *, lock: bool = False
) -> StoredMethod | None:
    query = select(payout_methods).where(payout_methods.c.id == method_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return await _one(conn, None if row is None else row._mapping)


async def field_values(
    conn: AsyncConnection, method_id: int
) -> tuple[dict[str, str], dict[str, str]]:
    """The method's plain values and its secret fields' sealed tokens, by field name."""
    t = payout_method_fields.c
    rows = await conn.execute(select(t.name, t.value, t.ciphertext).where(t.method_id == method_id))
    plain: dict[str, str] = {}
    sealed: dict[str, str] = {}
    for row in rows:
        if row.ciphertext is not None:
            sealed[row.name] = str(row.ciphertext)
        else:
            plain[row.name] = str(row.value)
    return plain, sealed


async def replace(
    conn: AsyncConnection,
    user_id: int,
    method: Method,
    sealed: Mapping[str, Sealed],
    status: PayoutMethodStatus = PayoutMethodStatus.PENDING,
) -> int:
    """Store `method` as the person's current one for its provider, removing the one before.
    `sealed` holds each secret field's ciphertext, by name."""
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
        )
        .returning(payout_methods.c.id)
    )
    assert method_id is not None
    rows = []
    for f in method.fields:
        token = sealed[f.name] if f.secret else None
        rows.append(
            {
                "method_id": int(method_id),
                "name": f.name,
                "position": f.position,
                "value": None if f.secret else f.value,
                "ciphertext": None if token is None else token.token,
                "key_id": None if token is None else token.key_id,
                "last4": f.last4,
            }
        )
    if rows:
        await conn.execute(insert(payout_method_fields), rows)
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


def _waiting_review() -> list[Any]:
    return [payout_methods.c.status == PayoutMethodStatus.PENDING.value]


async def review_queue(
    conn: AsyncConnection, *, after: int | None, limit: int
) -> list[StoredMethod]:
    """Payout methods waiting for verification, by id."""
    query = (
        select(payout_methods).where(*_waiting_review()).order_by(payout_methods.c.id).limit(limit)
    )
    if after is not None:
        query = query.where(payout_methods.c.id > after)
    return await _with_fields(conn, [r._mapping for r in await conn.execute(query)])


async def count_review_queue(conn: AsyncConnection) -> int:
    """How many payout methods wait for verification (every page of `review_queue`)."""
    return await count_where(conn, payout_methods, _waiting_review())


@dataclass(frozen=True)
class SealedField:
    method_id: int
    name: str
    token: str


async def sealed_with_other_keys(
    conn: AsyncConnection, primary_key_id: str, limit: int
) -> list[SealedField]:
    """Secret fields sealed with a key other than the primary one, a batch at a time."""
    t = payout_method_fields.c
    rows = await conn.execute(
        select(t.method_id, t.name, t.ciphertext)
        .where(t.ciphertext.is_not(None), t.key_id != primary_key_id)
        .order_by(t.method_id, t.name)
        .limit(limit)
        .with_for_update()
    )
    return [SealedField(int(r.method_id), r.name, str(r.ciphertext)) for r in rows]


async def reseal(conn: AsyncConnection, found: SealedField, sealed: Sealed) -> None:
    t = payout_method_fields.c
    await conn.execute(
        update(payout_method_fields)
        .where(t.method_id == found.method_id, t.name == found.name)
        .values(ciphertext=sealed.token, key_id=sealed.key_id)
    )
