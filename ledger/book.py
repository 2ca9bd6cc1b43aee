"""The book: records transactions of transfers, places, posts and voids holds, and keeps each
account's sharded balance in step, refusing any write that would overdraw a checked account.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.bounded import BoundedCache
from ledger.accounts import (
    Account,
    BalancePolicy,
    load_account,
    opened_in_this_transaction,
    read_balance,
)
from ledger.errors import AssetMismatch, HoldNotPending, InsufficientFunds
from ledger.idempotency import IdempotentRequest, remember
from ledger.tables import accounts, balances, holds, transactions, transfers


@dataclass(frozen=True)
class Transfer:
    """Move `amount` of `asset` from the debit account to the credit account."""

    debit: int
    credit: int
    asset: str
    amount: int


@dataclass(frozen=True)
class PlacedHold:
    transaction_id: int
    hold_id: int


ACCOUNTS_KEPT = 50_000
"""Account shapes remembered per process (least recently used forgotten first)."""


class Ledger:
    """The ledger of one database. Keeps a cache of account shapes, which never change."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._accounts: BoundedCache[int, Account] = BoundedCache(ACCOUNTS_KEPT)
        self._rng = rng or random.Random()  # noqa: S311 - shard choice, not security

    async def account(self, conn: AsyncConnection, account_id: int) -> Account:
        cached = self._accounts.get(account_id)
        if cached is None:
            cached = await load_account(conn, account_id)
            if not opened_in_this_transaction(conn, account_id):
                self._accounts.put(account_id, cached)
        return cached

    async def record(
        self,
        conn: AsyncConnection,
        kind: str,
        moves: Sequence[Transfer],
        *,
        details: Mapping[str, Any] | None = None,
        idempotency: IdempotentRequest | None = None,
    ) -> int:
        """Book `moves` as one transaction and return its id.

        Raises `InsufficientFunds` when a NON_NEGATIVE account would fall below zero; the caller's
        transaction must then be rolled back (the `Database.write` block does it).
        """
        if not moves:
            raise ValueError("a transaction needs at least one transfer")
        for move in moves:
            if move.amount <= 0:
                raise ValueError(f"transfer amounts must be positive, got {move.amount}")
            for account_id in (move.debit, move.credit):
                account = await self.account(conn, account_id)
                if account.asset != move.asset:
                    raise AssetMismatch(account_id, account.asset, move.asset)
        transaction_id = await self._open_transaction(conn, kind, details, idempotency)
        deltas: dict[int, int] = {}
        for m in moves:
            deltas[m.debit] = deltas.get(m.debit, 0) - m.amount
            deltas[m.credit] = deltas.get(m.credit, 0) + m.amount
        # Balances first: a refusal fails fast, and the account locks are taken before the
        # transfer rows' foreign keys share-lock the same account rows.
        await self._apply(conn, deltas)
        await conn.execute(
            insert(transfers),
            [
                {
                    "transaction_id": transaction_id,
                    "debit_account_id": m.debit,
                    "credit_account_id": m.credit,
                    "asset": m.asset,
                    "amount": m.amount,
                }
                for m in moves
            ],
        )
        return transaction_id

    async def place_hold(
        self,
        conn: AsyncConnection,
        kind: str,
        move: Transfer,
        *,
        details: Mapping[str, Any] | None = None,
        idempotency: IdempotentRequest | None = None,
    ) -> PlacedHold:
        """Reserve `move.amount` on the debit account until the hold is posted or voided."""
        if move.amount <= 0:
            raise ValueError(f"hold amounts must be positive, got {move.amount}")
        debit = await self.account(conn, move.debit)
        credit = await self.account(conn, move.credit)
        for account in (debit, credit):
            if account.asset != move.asset:
                raise AssetMismatch(account.id, account.asset, move.asset)
        transaction_id = await self._open_transaction(conn, kind, details, idempotency)
        reserve = (
            update(balances)
            .where(balances.c.account_id == debit.id, balances.c.shard == 0)
            .values(held=balances.c.held + move.amount)
        )
        if debit.policy is BalancePolicy.NON_NEGATIVE and debit.shards == 1:
            reserve = reserve.where(balances.c.balance - balances.c.held >= move.amount)
        elif debit.policy is BalancePolicy.NON_NEGATIVE:
            await self._lock_accounts(conn, [debit])
            await self._check_available(conn, debit, move.amount)
        if (await conn.execute(reserve)).rowcount != 1:
            raise InsufficientFunds(debit.id, debit.asset, move.amount)
        hold_id = await conn.scalar(
            insert(holds)
            .values(
                transaction_id=transaction_id,
                debit_account_id=debit.id,
                credit_account_id=credit.id,
                asset=move.asset,
                amount=move.amount,
            )
            .returning(holds.c.id)
        )
        assert hold_id is not None
        return PlacedHold(transaction_id=transaction_id, hold_id=int(hold_id))

    async def post_hold(
        self, conn: AsyncConnection, hold_id: int, *, details: Mapping[str, Any] | None = None
    ) -> int:
        """Turn a pending hold into a transfer; returns the posting transaction's id."""
        return await self._resolve_hold(conn, hold_id, "POSTED", details)

    async def void_hold(
        self, conn: AsyncConnection, hold_id: int, *, details: Mapping[str, Any] | None = None
    ) -> int:
        """Release a pending hold; the amount is available again. Returns the transaction's id."""
        return await self._resolve_hold(conn, hold_id, "VOIDED", details)

    async def _resolve_hold(
        self,
        conn: AsyncConnection,
        hold_id: int,
        status: str,
        details: Mapping[str, Any] | None,
    ) -> int:
        row = (await conn.execute(select(holds).where(holds.c.id == hold_id))).first()
        if row is None:
            raise HoldNotPending(hold_id, None)
        hold = row._mapping
        kind = "HOLD_POSTED" if status == "POSTED" else "HOLD_VOIDED"
        transaction_id = await self._open_transaction(
            conn, kind, {"hold_id": hold_id, **(details or {})}, None
        )
        claimed = await conn.execute(
            update(holds)
            .where(holds.c.id == hold_id, holds.c.status == "PENDING")
            .values(status=status, resolved_at=func.now(), resolved_transaction_id=transaction_id)
        )
        if claimed.rowcount != 1:  # resolved meanwhile: report what it became
            now = await conn.scalar(select(holds.c.status).where(holds.c.id == hold_id))
            raise HoldNotPending(hold_id, now)
        amount = int(hold["amount"])
        debit_id = int(hold["debit_account_id"])
        # (account, shard) -> new values; applied in the global lock order, like `_apply`.
        changes: dict[tuple[int, int], dict[str, Any]] = {
            (debit_id, 0): {"held": balances.c.held - amount}
        }
        if status == "POSTED":
            await conn.execute(
                insert(transfers).values(
                    transaction_id=transaction_id,
                    debit_account_id=debit_id,
                    credit_account_id=hold["credit_account_id"],
                    asset=hold["asset"],
                    amount=amount,
                    hold_id=hold_id,
                )
            )
            changes[(debit_id, 0)]["balance"] = balances.c.balance - amount
            credit = await self.account(conn, int(hold["credit_account_id"]))
            changes[(credit.id, self._shard(credit))] = {"balance": balances.c.balance + amount}
        for (account_id, shard), values in sorted(changes.items(), key=lambda c: c[0]):
            await conn.execute(
                update(balances)
                .where(balances.c.account_id == account_id, balances.c.shard == shard)
                .values(**values)
            )
        return transaction_id

    async def _open_transaction(
        self,
        conn: AsyncConnection,
        kind: str,
        details: Mapping[str, Any] | None,
        idempotency: IdempotentRequest | None,
    ) -> int:
        transaction_id = await conn.scalar(
            insert(transactions)
            .values(kind=kind, details=dict(details or {}))
            .returning(transactions.c.id)
        )
        assert transaction_id is not None
        if idempotency is not None:
            # Inserted before any balance moves: a racing duplicate waits here on the unique key
            # and then fails, instead of doing the work twice.
            await remember(conn, idempotency, int(transaction_id))
        return int(transaction_id)

    async def _apply(self, conn: AsyncConnection, deltas: Mapping[int, int]) -> None:
        """Apply net balance changes, taking row locks in one global order (account rows first,
        then balance rows by account and shard) so that concurrent transactions cannot deadlock."""
        shaped = [
            (await self.account(conn, account_id), delta) for account_id, delta in deltas.items()
        ]
        guarded = [
            a
            for a, d in shaped
            if d < 0 and a.policy is BalancePolicy.NON_NEGATIVE and a.shards > 1
        ]
        await self._lock_accounts(conn, guarded)
        for account in sorted(guarded, key=lambda a: a.id):
            await self._check_available(conn, account, -deltas[account.id])
        plan: list[tuple[int, int, int, Account]] = []
        for account, delta in shaped:
            if delta == 0:
                continue
            shard = (
                0
                if delta < 0 and account.policy is BalancePolicy.NON_NEGATIVE
                else self._shard(account)
            )
            plan.append((account.id, shard, delta, account))
        for account_id, shard, delta, account in sorted(plan, key=lambda p: (p[0], p[1])):
            statement = (
                update(balances)
                .where(balances.c.account_id == account_id, balances.c.shard == shard)
                .values(balance=balances.c.balance + delta)
            )
            single_checked = (
                delta < 0 and account.policy is BalancePolicy.NON_NEGATIVE and account.shards == 1
            )
            if single_checked:
                # The balance check and the debit are one atomic statement on this row.
                statement = statement.where(balances.c.balance - balances.c.held >= -delta)
            result = await conn.execute(statement)
            if single_checked and result.rowcount != 1:
                raise InsufficientFunds(account_id, account.asset, -delta)

    async def lock_available(
        self, conn: AsyncConnection, account_ids: Sequence[int]
    ) -> dict[int, int]:
        """Take the debit lock on these accounts (in id order) and read what each has available:
        until the transaction ends, no other debit or hold can change it."""
        shaped = [await self.account(conn, account_id) for account_id in account_ids]
        await self._lock_accounts(conn, shaped)
        return {a.id: (await read_balance(conn, a.id)).available for a in shaped}

    async def _lock_accounts(self, conn: AsyncConnection, debited: Iterable[Account]) -> None:
        """Serialize debits and holds of sharded accounts on their account rows, in id order.
        Credits never take this lock, so gifts into a hot creator do not queue on one row."""
        ids = sorted({a.id for a in debited})
        if ids:
            await conn.execute(
                select(accounts.c.id)
                .where(accounts.c.id.in_(ids))
                .order_by(accounts.c.id)
                # FOR NO KEY UPDATE: serializes debits, yet does not conflict with the KEY SHARE
                # locks that inserting a row referencing the account (a transfer, a hold) takes.
                .with_for_update(key_share=True)
            )

    async def _check_available(self, conn: AsyncConnection, account: Account, amount: int) -> None:
        row = (
            await conn.execute(
                select(func.sum(balances.c.balance), func.sum(balances.c.held)).where(
                    balances.c.account_id == account.id
                )
            )
        ).one()
        if int(row[0] or 0) - int(row[1] or 0) < amount:
            raise InsufficientFunds(account.id, account.asset, amount)

    def _shard(self, account: Account) -> int:
        return 0 if account.shards == 1 else self._rng.randrange(account.shards)
