"""Wallets as the API shows them: a user's coin or diamond account with its balance, what is
available after holds, and its history of transfers, newest first, keyset-paged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from economy.users import by_id
from ledger import Balance
from ledger.accounts import read_balance, read_balances
from ledger.debts import diamonds_owed
from ledger.history import account_history


@dataclass(frozen=True)
class WalletEntry:
    """One transfer seen from one wallet: positive when it came in, negative when it went out."""

    transfer_id: int
    transaction_id: int
    kind: str
    amount: int
    created_at: datetime


__all__ = [
    "Balance",
    "WalletEntry",
    "diamonds_owed",
    "wallet_balance",
    "wallet_balances",
    "wallet_entries",
]


async def wallet_balance(conn: AsyncConnection, account_id: int) -> Balance:
    return await read_balance(conn, account_id)


async def wallet_balances(conn: AsyncConnection, account_ids: Sequence[int]) -> dict[int, Balance]:
    """Several wallets' balances in one query (the API's DataLoader)."""
    return await read_balances(conn, account_ids)


async def wallet_entries(
    conn: AsyncConnection, account_id: int, *, before_id: int | None, limit: int
) -> list[WalletEntry]:
    """Up to `limit` transfers touching the account, newest first, older than `before_id`."""
    rows = await account_history(conn, account_id, before_id=before_id, limit=limit)
    return [WalletEntry(*row) for row in rows]


async def diamonds_available(conn: AsyncConnection, user_id: int) -> int:
    """The diamonds a user can cash out now: their diamond balance less what payouts hold."""
    user = await by_id(conn, user_id)
    if user is None:
        return 0
    return (await wallet_balance(conn, user.diamond_account_id)).available
