"""Ledger accounts: who owns them, which asset they hold, whether they may go negative, and how
many balance shards spread their credits. An account's shape never changes once opened.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.database import insert_ignoring_conflicts
from ledger.errors import UnknownAccount
from ledger.tables import accounts, balances


class Asset(enum.StrEnum):
    """The two virtual assets; cash accounts use their ISO 4217 currency code as the asset."""

    COIN = "COIN"
    DIAMOND = "DIAMOND"


class BalancePolicy(enum.StrEnum):
    NON_NEGATIVE = "NON_NEGATIVE"
    """Available (balance minus holds) never below zero: checked on every debit and hold."""
    UNBOUNDED = "UNBOUNDED"
    """A platform account that issues an asset and so runs negative by design."""


PLATFORM = "platform"


def user_owner(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True)
class Account:
    id: int
    owner: str
    name: str
    asset: str
    policy: BalancePolicy
    shards: int


@dataclass(frozen=True)
class Balance:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


async def open_account(
    conn: AsyncConnection,
    owner: str,
    name: str,
    asset: str,
    *,
    policy: BalancePolicy = BalancePolicy.NON_NEGATIVE,
    shards: int = 1,
) -> Account:
    """The account (owner, name, asset), created with zeroed shards if it does not exist yet.

    Safe under concurrency: a racing opener waits on the unique key and then reads the winner's.
    """
    inserted = await conn.execute(
        insert_ignoring_conflicts(conn.dialect, accounts).values(
            owner=owner, name=name, asset=asset, policy=policy.value, shards=shards
        )
    )
    row = (
        await conn.execute(
            select(accounts).where(
                accounts.c.owner == owner, accounts.c.name == name, accounts.c.asset == asset
            )
        )
    ).one()
    account = account_from_row(row._mapping)
    if inserted.rowcount == 1:
        _opened_here(conn).add(account.id)
    have = await conn.scalar(
        select(func.count()).select_from(balances).where(balances.c.account_id == account.id)
    )
    if have != account.shards:
        await conn.execute(
            insert_ignoring_conflicts(conn.dialect, balances),
            [{"account_id": account.id, "shard": shard} for shard in range(account.shards)],
        )
    return account


AccountSpec = tuple[str, str, str, BalancePolicy, int]
"""(owner, name, asset, policy, shards) of an account to open."""


async def open_new_accounts(conn: AsyncConnection, wanted: Sequence[AccountSpec]) -> list[int]:
    """Open accounts that do not exist yet, with their zeroed shards, in two statements whatever
    their number (seeding many users at once); their ids, in order. Unlike `open_account`, an
    account that exists already is an error (the unique key refuses it)."""
    made = await conn.execute(
        insert(accounts).returning(accounts.c.id, sort_by_parameter_order=True),
        [
            {"owner": o, "name": n, "asset": a, "policy": p.value, "shards": s}
            for o, n, a, p, s in wanted
        ],
    )
    ids = [int(row[0]) for row in made]
    await conn.execute(
        insert(balances),
        [
            {"account_id": account_id, "shard": shard}
            for account_id, (_, _, _, _, shards) in zip(ids, wanted, strict=True)
            for shard in range(shards)
        ],
    )
    _opened_here(conn).update(ids)
    return ids


async def account_ids_of(conn: AsyncConnection, owner: str) -> list[int]:
    """The ids of every account of `owner`, in order."""
    rows = await conn.execute(
        select(accounts.c.id).where(accounts.c.owner == owner).order_by(accounts.c.id)
    )
    return [int(row[0]) for row in rows]


_OPENED = "ledger.accounts_opened"


def _opened_here(conn: AsyncConnection) -> set[int]:
    """The ids of the accounts `conn`'s current transaction created."""
    transaction = conn.sync_connection.get_transaction() if conn.sync_connection else None
    marker = conn.info.get(_OPENED)
    if marker is None or marker[0] is not transaction:
        marker = conn.info[_OPENED] = (transaction, set())
    opened: set[int] = marker[1]
    return opened


def opened_in_this_transaction(conn: AsyncConnection, account_id: int) -> bool:
    """Was the account created by `conn`'s current, uncommitted transaction? Then a rollback
    takes it away (and SQLite hands its id to the next account): it must not be cached."""
    return account_id in _opened_here(conn)


async def load_account(conn: AsyncConnection, account_id: int) -> Account:
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
    if row is None:
        raise UnknownAccount(account_id)
    return account_from_row(row._mapping)


async def find_account(conn: AsyncConnection, owner: str, name: str, asset: str) -> Account | None:
    row = (
        await conn.execute(
            select(accounts).where(
                accounts.c.owner == owner, accounts.c.name == name, accounts.c.asset == asset
            )
        )
    ).first()
    return None if row is None else account_from_row(row._mapping)


async def read_balance(conn: AsyncConnection, account_id: int) -> Balance:
    return (await read_balances(conn, [account_id]))[account_id]


async def read_balances(conn: AsyncConnection, account_ids: Sequence[int]) -> dict[int, Balance]:
    """Each account's balance and held amount, summed over its shards, in one query (an account
    with no rows reads as zero)."""
    rows = await conn.execute(
        select(
            balances.c.account_id,
            func.coalesce(func.sum(balances.c.balance), 0),
            func.coalesce(func.sum(balances.c.held), 0),
        )
        .where(balances.c.account_id.in_(list(account_ids)))
        .group_by(balances.c.account_id)
    )
    found = {int(a): Balance(balance=int(b), held=int(h)) for a, b, h in rows}
    return {i: found.get(i, Balance(0, 0)) for i in account_ids}


def account_from_row(m: Mapping[Any, Any]) -> Account:
    """An account from its `ledger_accounts` row (SQLAlchemy's or asyncpg's)."""
    return Account(
        id=int(m["id"]),
        owner=m["owner"],
        name=m["name"],
        asset=m["asset"],
        policy=BalancePolicy(m["policy"]),
        shards=int(m["shards"]),
    )
