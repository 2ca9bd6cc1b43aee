"""What creators owe in diamonds: a payment booked after its diamonds had gone back to them is
recorded on their `diamonds_owed` account (minus the debt, never above zero) until repaid.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.accounts import Asset, find_account, read_balance, user_owner
from ledger.tables import accounts, balances

OWED = "diamonds_owed"
"""The name of a creator's debt account (DIAMOND, unbounded, never above zero)."""


async def diamonds_owed(conn: AsyncConnection, user_id: int) -> int:
    """What the creator owes in diamonds (0 when nothing)."""
    found = await find_account(conn, user_owner(user_id), OWED, Asset.DIAMOND)
    return 0 if found is None else max(0, -(await read_balance(conn, found.id)).balance)


async def creators_in_debt(conn: AsyncConnection, limit: int) -> list[int]:
    """Users whose debt account is below zero, oldest account first."""
    balance = func.sum(balances.c.balance)
    rows = await conn.scalars(
        select(accounts.c.owner)
        .join(balances, balances.c.account_id == accounts.c.id)
        .where(accounts.c.name == OWED, accounts.c.asset == Asset.DIAMOND.value)
        .group_by(accounts.c.id, accounts.c.owner)
        .having(balance < 0)
        .order_by(accounts.c.id)
        .limit(limit)
    )
    return [int(owner.removeprefix("user:")) for owner in rows]
