"""Wallets as the API shows them: a user's coin or diamond account with its balance, what is
available after holds, and its history (the ledger transactions that moved its balance or its
holds), newest first, keyset-paged, each saying what it was (a gift received in a stream from
someone, a payout requested, paid, released or returned...) and what it is about.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import gift_sends
from economy.users import by_id
from ledger import Balance
from ledger.accounts import read_balance, read_balances
from ledger.debts import diamonds_owed
from ledger.tables import holds, transactions, transfers


class EntryKind(enum.Enum):
    """What a movement of a wallet was, in a person's words."""

    GIFT_RECEIVED = "GIFT_RECEIVED"
    GIFT_SENT = "GIFT_SENT"
    PURCHASE = "PURCHASE"
    GRANT = "GRANT"
    PAYOUT_REQUESTED = "PAYOUT_REQUESTED"
    PAYOUT_RELEASED = "PAYOUT_RELEASED"
    PAYOUT_PAID = "PAYOUT_PAID"
    PAYOUT_RETURNED = "PAYOUT_RETURNED"
    DEBT_SETTLED = "DEBT_SETTLED"
    CORRECTION = "CORRECTION"
    OTHER = "OTHER"


PAYOUT_LEDGER_KINDS = {
    "PAYOUT_HOLD": EntryKind.PAYOUT_REQUESTED,
    "HOLD_POSTED": EntryKind.PAYOUT_PAID,
    "HOLD_VOIDED": EntryKind.PAYOUT_RELEASED,
    "PAYOUT_PAID": EntryKind.PAYOUT_PAID,
    "PAYOUT_PAID_LATE": EntryKind.PAYOUT_PAID,
    "PAYOUT_RETURNED": EntryKind.PAYOUT_RETURNED,
    "PAYOUT_DEBT_SETTLED": EntryKind.DEBT_SETTLED,
}
"""How the payouts' ledger transactions read; any other `PAYOUT_*` (a payment booked on a
discrepancy) is a correction."""


def entry_kind(ledger_kind: str, amount: int, details: Mapping[str, Any]) -> EntryKind:
    """What a transfer of `ledger_kind` was for the wallet it moved by `amount`."""
    if ledger_kind == "GIFT":
        return EntryKind.GIFT_RECEIVED if amount > 0 else EntryKind.GIFT_SENT
    if ledger_kind in ("GRANT", "PURCHASE"):
        return EntryKind(ledger_kind)
    if ledger_kind in ("HOLD_POSTED", "HOLD_VOIDED") and "payout_id" not in details:
        return EntryKind.OTHER
    if ledger_kind in PAYOUT_LEDGER_KINDS:
        return PAYOUT_LEDGER_KINDS[ledger_kind]
    if ledger_kind.startswith("PAYOUT_"):
        return EntryKind.CORRECTION
    return EntryKind.OTHER


@dataclass(frozen=True)
class WalletEntry:
    """One ledger transaction seen from one wallet: `amount` positive when it came in, negative
    when it went out; `held` positive when diamonds were reserved, negative when let go; what it
    was, and the stream, sender, payout or purchase it is about (when it has one)."""

    transaction_id: int
    kind: EntryKind
    amount: int
    held: int
    created_at: datetime
    stream_id: int | None = None
    sender_id: int | None = None
    payout_id: int | None = None
    purchase_id: int | None = None


__all__ = [
    "Balance",
    "EntryKind",
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
    """Up to `limit` ledger transactions that moved the account's balance or its holds, newest
    first, older than the transaction `before_id`: each with what came in or went out and what
    was held (a payout's hold placed) or let go (posted or released)."""
    moved = await _balance_moves(conn, account_id, before_id, limit)
    held = await _hold_moves(conn, account_id, before_id, limit)
    chosen = sorted(set(moved) | set(held), reverse=True)[:limit]
    if not chosen:
        return []
    rows = await conn.execute(
        select(
            transactions.c.id,
            transactions.c.kind,
            transactions.c.details,
            transactions.c.created_at,
            gift_sends.c.stream_id,
            gift_sends.c.sender_id,
        )
        .outerjoin(gift_sends, gift_sends.c.transaction_id == transactions.c.id)
        .where(transactions.c.id.in_(chosen))
    )
    found = {int(row.id): row._mapping for row in rows}
    return [_entry(found[t], moved.get(t, 0), held.get(t, 0)) for t in chosen]


async def _balance_moves(
    conn: AsyncConnection, account_id: int, before_id: int | None, limit: int
) -> dict[int, int]:
    """The newest `limit` transactions' net change to the account's balance."""
    signed = case(
        (transfers.c.credit_account_id == account_id, transfers.c.amount),
        else_=-transfers.c.amount,
    )
    query = select(transfers.c.transaction_id, func.sum(signed)).where(
        (transfers.c.debit_account_id == account_id) | (transfers.c.credit_account_id == account_id)
    )
    if before_id is not None:
        query = query.where(transfers.c.transaction_id < before_id)
    rows = await conn.execute(
        query.group_by(transfers.c.transaction_id)
        .order_by(transfers.c.transaction_id.desc())
        .limit(limit)
    )
    return {int(t): int(amount) for t, amount in rows}


async def _hold_moves(
    conn: AsyncConnection, account_id: int, before_id: int | None, limit: int
) -> dict[int, int]:
    """The newest `limit` transactions' change to what the account holds: a hold placed adds to
    it, a hold posted or voided takes it away."""
    changes: dict[int, int] = {}
    for column, sign in ((holds.c.transaction_id, 1), (holds.c.resolved_transaction_id, -1)):
        query = select(column, holds.c.amount).where(
            holds.c.debit_account_id == account_id, column.is_not(None)
        )
        if before_id is not None:
            query = query.where(column < before_id)
        for t, amount in await conn.execute(query.order_by(column.desc()).limit(limit)):
            changes[int(t)] = changes.get(int(t), 0) + sign * int(amount)
    return changes


def _entry(row: RowMapping, amount: int, held: int) -> WalletEntry:
    details: Mapping[str, Any] = row["details"] or {}
    payout_id = details.get("payout_id")
    purchase_id = details.get("purchase")
    return WalletEntry(
        transaction_id=int(row["id"]),
        kind=entry_kind(str(row["kind"]), amount, details),
        amount=amount,
        held=held,
        created_at=row["created_at"],
        stream_id=int(row["stream_id"]) if row["stream_id"] is not None else None,
        sender_id=int(row["sender_id"]) if row["sender_id"] is not None else None,
        payout_id=int(payout_id) if isinstance(payout_id, int) else None,
        purchase_id=int(purchase_id) if isinstance(purchase_id, int) else None,
    )


async def diamonds_available(conn: AsyncConnection, user_id: int) -> int:
    """The diamonds a user can cash out now: their diamond balance less what payouts hold."""
    user = await by_id(conn, user_id)
    if user is None:
        return 0
    return (await wallet_balance(conn, user.diamond_account_id)).available
