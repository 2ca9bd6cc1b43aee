"""The batch on SQLite, over SQLAlchemy: SQLite writes one transaction at a time, so nothing is
locked, the new transactions' ids are read back as the newest, and rows go in as multi-row inserts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.accounts import Account, opened_in_this_transaction
from ledger.batch.planning import (
    BalanceChange,
    Entry,
    FirstLook,
    LedgerBatch,
    TransferRow,
    UsedKeys,
    keyed,
    keys_taken,
)
from ledger.book import Ledger
from ledger.database import insert_ignoring_conflicts
from ledger.idempotency import IdempotentRequest
from ledger.tables import accounts, balances, idempotency_keys, transactions, transfers


class SqliteBatch(LedgerBatch):
    def __init__(self, ledger: Ledger, conn: AsyncConnection) -> None:
        if conn.dialect.name != "sqlite":
            # The statements rely on SQLite's single writer (ids read back as the newest).
            raise TypeError("on PostgreSQL, book a batch inside Database.batch()")
        super().__init__(ledger)
        self.conn = conn

    async def first_look(
        self, requests: Sequence[IdempotentRequest], accounts: Collection[int]
    ) -> FirstLook:
        """The keys already used; the balances are read with the batch (SQLite has no round
        trips to save)."""
        return FirstLook(used_keys=await self._used_keys(requests), available=None)

    async def _used_keys(self, requests: Sequence[IdempotentRequest]) -> UsedKeys:
        pairs = [(r.scope, r.key) for r in requests]
        if not pairs:
            return {}
        # A join with the pairs, not a row-value IN: SQLite scans the whole table for the
        # latter, and probes the primary key once per pair for the former.
        placeholders = ", ".join(f"(:s{n}, :k{n})" for n in range(len(pairs)))
        rows = await self.conn.execute(
            text(
                "SELECT k.scope, k.key, k.request_hash, k.transaction_id "  # noqa: S608
                f"FROM (VALUES {placeholders}) AS asked "
                "JOIN ledger_idempotency_keys AS k "
                "ON k.scope = asked.column1 AND k.key = asked.column2"
            ),
            {f"{c}{n}": v for n, pair in enumerate(pairs) for c, v in zip("sk", pair, strict=True)},
        )
        return {(s, k): (h, int(t)) for s, k, h, t in rows}

    async def _account_rows(self, ids: Sequence[int]) -> Sequence[Mapping[str, Any]]:
        rows = await self.conn.execute(select(accounts).where(accounts.c.id.in_(ids)))
        return [dict(row._mapping) for row in rows]

    def _cacheable(self, account_id: int) -> bool:
        # a rollback would take it away: `_plan` reads it through the ledger
        return not opened_in_this_transaction(self.conn, account_id)

    async def _uncached_account(self, account_id: int) -> Account:
        """One this transaction opened, read through the ledger (which does not cache it)."""
        return await self.ledger.account(self.conn, account_id)

    async def _available(self, account_ids: Sequence[int]) -> dict[int, int]:
        rows = await self.conn.execute(
            select(balances.c.account_id, balances.c.balance - balances.c.held).where(
                balances.c.account_id.in_(account_ids), balances.c.shard == 0
            )
        )
        return {int(a): int(v) for a, v in rows}

    async def _open_transactions_and_claim_keys(
        self, entries: Sequence[Entry], live: Sequence[int]
    ) -> list[int]:
        # One multi-row insert, then the ids. The batch holds the only write lock, and an
        # INTEGER PRIMARY KEY takes the next rowid, so ours are the newest ids, in order. (An
        # ordered RETURNING would insert the rows one statement at a time here.)
        await self.conn.execute(
            insert(transactions),
            [{"kind": entries[i].kind, "details": dict(entries[i].details)} for i in live],
        )
        newest = await self.conn.execute(
            select(transactions.c.id).order_by(transactions.c.id.desc()).limit(len(live))
        )
        ids = sorted(int(row[0]) for row in newest)
        rows = keyed(entries, live, ids)
        if rows:
            claimed = await self.conn.execute(
                insert_ignoring_conflicts(self.conn.dialect, idempotency_keys).returning(
                    idempotency_keys.c.scope, idempotency_keys.c.key
                ),
                [
                    {"scope": s, "key": k, "request_hash": h, "transaction_id": t}
                    for s, k, h, t, _ in rows
                ],
            )
            keys_taken(rows, ((s, k) for s, k in claimed))
        return ids

    async def _lock(self, rows: Sequence[tuple[int, int]]) -> dict[int, int]:
        # SQLite writes one transaction at a time: nothing to lock, only to read (by account:
        # SQLite scans the whole table for a row-value IN)
        return await self._available(sorted({a for a, _ in rows}))

    async def _apply(self, changed: Sequence[BalanceChange], moves: Sequence[TransferRow]) -> None:
        if changed:
            await self.conn.execute(
                update(balances)
                .where(balances.c.account_id == bindparam("a"), balances.c.shard == bindparam("s"))
                .values(balance=balances.c.balance + bindparam("d")),
                [{"a": a, "s": s, "d": d} for a, s, d in changed],
            )
        await self.conn.execute(
            insert(transfers),
            [
                {
                    "transaction_id": t,
                    "debit_account_id": debit,
                    "credit_account_id": credit,
                    "asset": asset,
                    "amount": amount,
                }
                for t, debit, credit, asset, amount in moves
            ],
        )
