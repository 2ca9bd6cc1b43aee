"""Idempotency keys: a (scope, key) pair names one ledger transaction, forever.

The same key with the same request replays the first result; with another request it conflicts.
The primary key on (scope, key) is what enforces it, also between racing transactions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.errors import DomainError
from ledger.database import Database
from ledger.errors import IdempotencyConflict
from ledger.tables import idempotency_keys

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentRequest:
    scope: str
    key: str
    request_hash: str

    @classmethod
    def of(cls, scope: str, key: str, request: Mapping[str, Any]) -> IdempotentRequest:
        """A request fingerprinted by its canonical JSON, so equal inputs hash equal."""
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return cls(scope=scope, key=key, request_hash=digest)


@dataclass(frozen=True)
class Outcome:
    transaction_id: int
    replayed: bool


async def find(conn: AsyncConnection, request: IdempotentRequest) -> int | None:
    """The transaction an earlier identical request made, None if the key is new.
    Raises `IdempotencyConflict` when the key was used for a different request."""
    row = (
        await conn.execute(
            select(idempotency_keys.c.request_hash, idempotency_keys.c.transaction_id).where(
                idempotency_keys.c.scope == request.scope, idempotency_keys.c.key == request.key
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request.request_hash:
        raise IdempotencyConflict(request.scope, request.key)
    return int(row.transaction_id)


async def remember(conn: AsyncConnection, request: IdempotentRequest, transaction_id: int) -> None:
    await conn.execute(
        insert(idempotency_keys).values(
            scope=request.scope,
            key=request.key,
            request_hash=request.request_hash,
            transaction_id=transaction_id,
        )
    )


async def run_once(
    db: Database,
    request: IdempotentRequest,
    work: Callable[[AsyncConnection], Awaitable[int]],
) -> Outcome:
    """Run `work` (which books a transaction carrying `request`) at most once per key.

    A replay returns the first transaction. When two identical requests race, the loser's insert
    of the key fails on the primary key, its transaction rolls back, and it replays the winner's.
    """
    try:
        async with db.write() as conn:
            existing = await find(conn, request)
            if existing is not None:
                return Outcome(existing, replayed=True)
            return Outcome(await work(conn), replayed=False)
    except IntegrityError:
        async with db.read() as conn:
            existing = await find(conn, request)
        if existing is None:
            raise
        return Outcome(existing, replayed=True)


def idempotency_key(value: str, field: str = "idempotencyKey") -> str:
    """A client's idempotency key as given, or INVALID_IDEMPOTENCY_KEY: what a key may be is the
    ledger's rule (its column holds MAX_KEY_LENGTH characters)."""
    if (
        not value
        or len(value) > MAX_KEY_LENGTH
        or not value.isprintable()
        or value != value.strip()
    ):
        raise DomainError(
            "INVALID_IDEMPOTENCY_KEY",
            f"the idempotency key must be 1 to {MAX_KEY_LENGTH} printable characters "
            "without surrounding spaces",
            field,
        )
    return value
