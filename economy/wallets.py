"""Wallets as the API shows them: a user's coin or diamond account with its balance, what is
available after holds, and its history (the ledger transactions that moved its balance or its
holds), newest first, keyset-paged and counted, each saying what it was (a gift received in a
stream from someone, a payout requested, paid, released or returned...) and what it is about.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import gift_sends
from economy.users import by_id
from ledger import Balance
from ledger.accounts import read_balance, read_balances
from ledger.debts import diamonds_owed
from ledger.history import Booked, balance_moves, count_moves, hold_moves, transactions_by_id


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
    "count_wallet_entries",
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
    moved = await balance_moves(conn, account_id, before_id=before_id, limit=limit)
    held = await hold_moves(conn, account_id, before_id=before_id, limit=limit)
    chosen = sorted(set(moved) | set(held), reverse=True)[:limit]
    if not chosen:
        return []
    booked = await transactions_by_id(conn, chosen)
    gifts = {
        int(row.transaction_id): (int(row.stream_id), int(row.sender_id))
        for row in await conn.execute(
            select(
                gift_sends.c.transaction_id, gift_sends.c.stream_id, gift_sends.c.sender_id
            ).where(gift_sends.c.transaction_id.in_(chosen))
        )
    }
    return [_entry(booked[t], gifts.get(t), moved.get(t, 0), held.get(t, 0)) for t in chosen]


async def count_wallet_entries(conn: AsyncConnection, account_id: int) -> int:
    """How many ledger transactions moved the account's balance or its holds (every page of
    `wallet_entries`)."""
    return await count_moves(conn, account_id)


def _entry(booked: Booked, gift: tuple[int, int] | None, amount: int, held: int) -> WalletEntry:
    details: Mapping[str, Any] = booked.details
    payout_id = details.get("payout_id")
    purchase_id = details.get("purchase")
    return WalletEntry(
        transaction_id=booked.id,
        kind=entry_kind(booked.kind, amount, details),
        amount=amount,
        held=held,
        created_at=booked.created_at,
        stream_id=gift[0] if gift is not None else None,
        sender_id=gift[1] if gift is not None else None,
        payout_id=int(payout_id) if isinstance(payout_id, int) else None,
        purchase_id=int(purchase_id) if isinstance(purchase_id, int) else None,
    )


async def diamonds_available(conn: AsyncConnection, user_id: int) -> int:
    """The diamonds a user can cash out now: their diamond balance less what payouts hold."""
    user = await by_id(conn, user_id)
    if user is None:
        return 0
    return (await wallet_balance(conn, user.diamond_account_id)).available
