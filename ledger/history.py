"""What was booked, read back: the ledger transactions that moved an account's balance or what
it holds, newest first and keyset-paged by transaction, how many they are, where each hold
stands, and the entries (transfers, holds placed and voided) of given transactions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, union
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.tables import count_where
from ledger.tables import accounts, holds, transactions, transfers


@dataclass(frozen=True)
class Booked:
    """One ledger transaction as booked: its kind, details and time."""

    id: int
    kind: str
    details: Mapping[str, Any]
    created_at: datetime


def _moved(account_id: int) -> Any:
    """The transfers that moved the account's balance."""
    return (transfers.c.debit_account_id == account_id) | (
        transfers.c.credit_account_id == account_id
    )


def _held(account_id: int, column: Any) -> list[Any]:
    """The holds on the account that `column` (placing or resolving) ties to a transaction."""
    return [holds.c.debit_account_id == account_id, column.is_not(None)]


async def count_moves(conn: AsyncConnection, account_id: int) -> int:
    """How many transactions moved the account's balance or what it holds: every page of
    `balance_moves` and `hold_moves` together, each transaction once."""
    moves = union(
        select(transfers.c.transaction_id.label("id")).where(_moved(account_id)),
        *(
            select(column.label("id")).where(*_held(account_id, column))
            for column in (holds.c.transaction_id, holds.c.resolved_transaction_id)
        ),
    ).subquery()
    return await count_where(conn, moves, [])


async def balance_moves(
    conn: AsyncConnection, account_id: int, *, before_id: int | None, limit: int
) -> dict[int, int]:
    """The newest `limit` transactions (older than `before_id`) that moved the account's
    balance, each with its net change to it (positive in, negative out)."""
    signed = case(
        (transfers.c.credit_account_id == account_id, transfers.c.amount),
        else_=-transfers.c.amount,
    )
    query = select(transfers.c.transaction_id, func.sum(signed)).where(_moved(account_id))
    if before_id is not None:
        query = query.where(transfers.c.transaction_id < before_id)
    rows = await conn.execute(
        query.group_by(transfers.c.transaction_id)
        .order_by(transfers.c.transaction_id.desc())
        .limit(limit)
    )
    return {int(t): int(amount) for t, amount in rows}


async def hold_moves(
    conn: AsyncConnection, account_id: int, *, before_id: int | None, limit: int
) -> dict[int, int]:
    """The newest `limit` transactions' change to what the account holds: a hold placed adds to
    it, a hold posted or voided takes it away."""
    changes: dict[int, int] = {}
    for column, sign in ((holds.c.transaction_id, 1), (holds.c.resolved_transaction_id, -1)):
        query = select(column, holds.c.amount).where(*_held(account_id, column))
        if before_id is not None:
            query = query.where(column < before_id)
        for t, amount in await conn.execute(query.order_by(column.desc()).limit(limit)):
            changes[int(t)] = changes.get(int(t), 0) + sign * int(amount)
    return changes


async def transactions_by_id(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Booked]:
    """The transactions with these ids, by id (an unknown id is left out)."""
    rows = await conn.execute(
        select(
            transactions.c.id,
            transactions.c.kind,
            transactions.c.details,
            transactions.c.created_at,
        ).where(transactions.c.id.in_(list(ids)))
    )
    return {int(r.id): Booked(int(r.id), str(r.kind), r.details or {}, r.created_at) for r in rows}


async def hold_statuses(conn: AsyncConnection) -> dict[int, str]:
    """Every hold's status (PENDING, POSTED or VOIDED), by hold id."""
    rows = await conn.execute(select(holds.c.id, holds.c.status))
    return {int(i): str(status) for i, status in rows}


class EntryEffect(enum.StrEnum):
    """What one entry of a transaction did: moved money, or reserved it (a hold) or let it go."""

    TRANSFER = "TRANSFER"
    """Moved `amount` from the debit account to the credit account (a posted hold too)."""
    HOLD_PLACED = "HOLD_PLACED"
    """Reserved `amount` on the debit account for the credit account; nothing moved yet."""
    HOLD_VOIDED = "HOLD_VOIDED"
    """Released a hold: the amount is available on the debit account again; nothing moved."""


@dataclass(frozen=True)
class AccountName:
    """An account as a person reads it: whose (`user:<id>` or `platform`), which, in what."""

    id: int
    owner: str
    name: str
    asset: str


@dataclass(frozen=True)
class Entry:
    """One entry of a ledger transaction: a transfer, or a hold placed or voided."""

    transaction_id: int
    kind: str
    effect: EntryEffect
    debit: AccountName
    credit: AccountName
    asset: str
    amount: int
    at: datetime


_EFFECT_ORDER = {EntryEffect.HOLD_PLACED: 0, EntryEffect.HOLD_VOIDED: 1, EntryEffect.TRANSFER: 2}


async def entries_of(conn: AsyncConnection, transaction_ids: Sequence[int]) -> list[Entry]:
    """Every entry of these transactions, oldest transaction first: its transfers, the holds it
    placed and the holds it voided (a hold it posted is the transfer it made)."""
    ids = list(transaction_ids)
    if not ids:
        return []
    # (transaction id, effect, order within the transaction, debit, credit, asset, amount)
    found: list[tuple[int, EntryEffect, int, int, int, str, int]] = []
    moved = await conn.execute(
        select(transfers).where(transfers.c.transaction_id.in_(ids)).order_by(transfers.c.id)
    )
    for t in moved:
        found.append(
            (
                int(t.transaction_id),
                EntryEffect.TRANSFER,
                int(t.id),
                int(t.debit_account_id),
                int(t.credit_account_id),
                str(t.asset),
                int(t.amount),
            )
        )
    placed = select(holds).where(holds.c.transaction_id.in_(ids))
    voided = select(holds).where(
        holds.c.resolved_transaction_id.in_(ids), holds.c.status == "VOIDED"
    )
    for effect, query, column in (
        (EntryEffect.HOLD_PLACED, placed, "transaction_id"),
        (EntryEffect.HOLD_VOIDED, voided, "resolved_transaction_id"),
    ):
        for h in await conn.execute(query.order_by(holds.c.id)):
            found.append(
                (
                    int(h._mapping[column]),
                    effect,
                    int(h.id),
                    int(h.debit_account_id),
                    int(h.credit_account_id),
                    str(h.asset),
                    int(h.amount),
                )
            )
    booked = await transactions_by_id(conn, ids)
    names = await _account_names(conn, {a for f in found for a in (f[3], f[4])})
    found.sort(key=lambda f: (f[0], _EFFECT_ORDER[f[1]], f[2]))
    return [
        Entry(
            transaction_id=t,
            kind=booked[t].kind,
            effect=effect,
            debit=names[debit],
            credit=names[credit],
            asset=asset,
            amount=amount,
            at=booked[t].created_at,
        )
        for t, effect, _, debit, credit, asset, amount in found
    ]


async def _account_names(conn: AsyncConnection, ids: set[int]) -> dict[int, AccountName]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(accounts.c.id, accounts.c.owner, accounts.c.name, accounts.c.asset).where(
            accounts.c.id.in_(sorted(ids))
        )
    )
    return {
        int(r.id): AccountName(int(r.id), str(r.owner), str(r.name), str(r.asset)) for r in rows
    }
