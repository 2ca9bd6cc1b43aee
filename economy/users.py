"""Users: a record per token subject, created the first time the subject is seen, with its coin
and diamond wallets opened in the same transaction; marked staff for good once seen as staff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import users
from kernel import validation
from kernel.bounded import BoundedCache
from ledger import Asset, BalancePolicy, open_account, user_owner
from ledger.database import Database, insert_ignoring_conflicts


@dataclass(frozen=True)
class User:
    id: int
    subject: str
    display_name: str
    coin_account_id: int
    diamond_account_id: int
    created_at: datetime
    is_staff: bool = False
    """Has called with the FINANCE or ADMIN role (once staff, always staff)."""

    @property
    def public_name(self) -> str:
        """The name shown to everyone watching a stream: a staff account's is `STAFF_NAME`."""
        return STAFF_NAME if self.is_staff else self.display_name


STAFF_NAME = "Staff"
"""What a stream's live feed calls a gift's sender who is staff, instead of their name."""


USERS_KEPT = 10_000
"""Users remembered per process by subject (least recently used forgotten first)."""


class UserDirectory:
    """Finds users by subject or id, creating them on first sight. A user's id and wallets
    never change, so found users are cached (the `USERS_KEPT` most recently used)."""

    def __init__(self, db: Database, diamond_shards: int) -> None:
        self._db = db
        self._shards = diamond_shards
        self._by_subject: BoundedCache[str, User] = BoundedCache(USERS_KEPT)

    async def ensure(self, subject: str, *, staff: bool = False) -> User:
        """The user with this subject, created on first sight; with `staff` (the subject is
        calling as FINANCE or ADMIN) marked staff, which is never undone. Raises `DomainError`
        INVALID_SUBJECT (before anything is read or written) for a subject that is not valid."""
        validation.subject(subject, field="subject")
        cached = self._by_subject.get(subject)
        if cached is not None and (cached.is_staff or not staff):
            return cached
        found = cached
        if found is None:
            async with self._db.read() as conn:
                found = await by_subject(conn, subject)
        if found is None or (staff and not found.is_staff):
            async with self._db.write() as conn:
                if found is None:
                    found = await self._create(conn, subject)
                if staff and not found.is_staff:
                    found = await _mark_staff(conn, found.id)
        self._by_subject.put(subject, found)
        return found

    async def mark_staff(self, subject: str) -> None:
        """Mark this subject's user staff, if the user exists (nothing is created): called for
        every operation of a FINANCE or ADMIN caller, so a user is staff from the first time
        they act as staff whatever the operation reads."""
        cached = self._by_subject.get(subject)
        if cached is not None and cached.is_staff:
            return
        async with self._db.read() as conn:
            found = await by_subject(conn, subject)
        if found is None:
            return
        if not found.is_staff:
            async with self._db.write() as conn:
                found = await _mark_staff(conn, found.id)
        self._by_subject.put(subject, found)

    async def _create(self, conn: AsyncConnection, subject: str) -> User:
        await conn.execute(
            insert_ignoring_conflicts(conn.dialect, users).values(
                subject=subject, display_name=default_display_name(subject)
            )
        )
        row = (await conn.execute(select(users).where(users.c.subject == subject))).one()._mapping
        if row["coin_account_id"] is not None:
            return user_from_row(row)
        owner = user_owner(int(row["id"]))
        coins = await open_account(
            conn, owner, "coins", Asset.COIN, policy=BalancePolicy.NON_NEGATIVE
        )
        diamonds = await open_account(
            conn,
            owner,
            "diamonds",
            Asset.DIAMOND,
            policy=BalancePolicy.NON_NEGATIVE,
            shards=self._shards,
        )
        await conn.execute(
            update(users)
            .where(users.c.id == row["id"])
            .values(coin_account_id=coins.id, diamond_account_id=diamonds.id)
        )
        row = (await conn.execute(select(users).where(users.c.id == row["id"]))).one()._mapping
        return user_from_row(row)


async def _mark_staff(conn: AsyncConnection, user_id: int) -> User:
    await conn.execute(update(users).where(users.c.id == user_id).values(is_staff=True))
    row = (await conn.execute(select(users).where(users.c.id == user_id))).one()._mapping
    return user_from_row(row)


def default_display_name(subject: str) -> str:
    return subject[:64]


async def by_subject(conn: AsyncConnection, subject: str) -> User | None:
    row = (await conn.execute(select(users).where(users.c.subject == subject))).first()
    if row is None or row.coin_account_id is None:
        return None
    return user_from_row(row._mapping)


async def by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, User]:
    """The users with these ids that have their wallets (as `by_id`)."""
    rows = await conn.execute(select(users).where(users.c.id.in_(list(ids))))
    return {int(r.id): user_from_row(r._mapping) for r in rows if r.coin_account_id is not None}


async def by_id(conn: AsyncConnection, user_id: int) -> User | None:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
    if row is None or row.coin_account_id is None:
        return None
    return user_from_row(row._mapping)


async def owner_of_account(conn: AsyncConnection, account_id: int) -> User | None:
    row = (
        await conn.execute(
            select(users).where(
                (users.c.coin_account_id == account_id) | (users.c.diamond_account_id == account_id)
            )
        )
    ).first()
    return None if row is None else user_from_row(row._mapping)


def user_from_row(row: Mapping[Any, Any]) -> User:
    return User(
        id=int(row["id"]),
        subject=row["subject"],
        display_name=row["display_name"],
        coin_account_id=int(row["coin_account_id"]),
        diamond_account_id=int(row["diamond_account_id"]),
        created_at=row["created_at"],
        is_staff=bool(row["is_staff"]),
    )
