"""The batch on PostgreSQL, over asyncpg itself: one fixed statement per step, arrays for the
rows, so each is prepared once per connection whatever the batch's size.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.accounts import Account
from ledger.batch.planning import (
    BalanceChange,
    Entry,
    FirstLook,
    LedgerBatch,
    TransferRow,
    keyed,
    keys_taken,
)
from ledger.book import Ledger
from ledger.database import PgDriver
from ledger.errors import UnknownAccount
from ledger.idempotency import IdempotentRequest


@dataclass(frozen=True)
class AlsoRead:
    """A read of the caller's own tables to send with the batch's first look, in the same round
    trip: one SQL expression of one value (an `ARRAY(SELECT ...)`), whose parameters are written
    `{}` (the statement's only braces), in the order of `args`. The same `sql` each time keeps
    the statement prepared once per connection."""

    sql: str
    args: tuple[Any, ...]


class PostgresBatch(LedgerBatch):
    def __init__(self, ledger: Ledger, conn: PgDriver) -> None:
        super().__init__(ledger)
        self.conn = conn

    async def first_look(
        self,
        requests: Sequence[IdempotentRequest],
        accounts: Collection[int],
        also: Sequence[AlsoRead] = (),
    ) -> FirstLook:
        """The keys already used, the accounts' available amounts and the caller's `also`
        reads (their values in `FirstLook.also`, in order), in one round trip."""
        statement, args = (
            _FIRST_LOOK,
            [
                [r.scope for r in requests],
                [r.key for r in requests],
                sorted(accounts),
            ],
        )
        for read in also:
            numbers = [f"${n}" for n in range(len(args) + 1, len(args) + 1 + len(read.args))]
            statement += ", " + read.sql.format(*numbers)
            args.extend(read.args)
        (row,) = await self.conn.fetch(statement, *args)
        keys, available, *extra = row
        return FirstLook(
            used_keys={(s, k): (h, int(t)) for s, k, h, t in keys},
            available={int(a): int(v) for a, v in available},
            also=tuple(extra),
        )

    async def _account_rows(self, ids: Sequence[int]) -> Sequence[Mapping[str, Any]]:
        rows: Sequence[Mapping[str, Any]] = await self.conn.fetch(_ACCOUNTS, list(ids))
        return rows

    async def _uncached_account(self, account_id: int) -> Account:
        """A PostgreSQL batch opens no account: every one was loaded, or there is none."""
        raise UnknownAccount(account_id)

    async def _available(self, account_ids: Sequence[int]) -> dict[int, int]:
        rows = await self.conn.fetch(_AVAILABLE, list(account_ids))
        return {int(a): int(v) for a, v in rows}

    async def _open_transactions_and_claim_keys(
        self, entries: Sequence[Entry], live: Sequence[int]
    ) -> list[int]:
        # One statement. Rows go in in the given order, so the ids drawn from the sequence
        # ascend with it (the guarantee SQLAlchemy's ordered insertmanyvalues relies on); key k
        # belongs to the transaction whose id ranks `positions[k]` among them.
        rows = keyed(entries, live, range(1, len(live) + 1))
        (row,) = await self.conn.fetch(
            _TRANSACTIONS_AND_KEYS,
            [entries[i].kind for i in live],
            [orjson.dumps(dict(entries[i].details)).decode() for i in live],
            *(_col(rows, n) for n in range(4)),
        )
        ids, scopes, keys = row
        keys_taken(rows, zip(scopes or (), keys or (), strict=True))
        return [int(i) for i in ids]

    async def _lock(self, rows: Sequence[tuple[int, int]]) -> dict[int, int]:
        # PostgreSQL re-reads a row it waited for: the check sees the committed balance.
        locked = await self.conn.fetch(_LOCK, _col(rows, 0), _col(rows, 1))
        return {int(a): int(v) for a, shard, v in locked if shard == 0}

    async def _apply(self, changed: Sequence[BalanceChange], moves: Sequence[TransferRow]) -> None:
        columns = [_col(changed, n) for n in range(3)] + [_col(moves, n) for n in range(5)]
        await self.conn.execute(_UPDATE_AND_TRANSFERS, *columns)


def _col(rows: Sequence[Sequence[Any]], n: int) -> list[Any]:
    return [row[n] for row in rows]


_ACCOUNTS = "SELECT * FROM ledger_accounts WHERE id = ANY($1::BIGINT[])"
_AVAILABLE = (
    "SELECT account_id, balance - held FROM ledger_balances "
    "WHERE account_id = ANY($1::BIGINT[]) AND shard = 0"
)
_FIRST_LOOK = (
    "SELECT ARRAY(SELECT (k.scope, k.key, k.request_hash, k.transaction_id)"
    " FROM ledger_idempotency_keys AS k JOIN unnest($1::VARCHAR[], $2::VARCHAR[])"
    " AS asked(scope, key) ON k.scope = asked.scope AND k.key = asked.key),"
    " ARRAY(SELECT (b.account_id, b.balance - b.held) FROM ledger_balances AS b"
    " WHERE b.account_id = ANY($3::BIGINT[]) AND b.shard = 0)"
)
_TRANSACTIONS_AND_KEYS = (
    "WITH tx AS ("
    " INSERT INTO ledger_transactions (kind, details)"
    " SELECT kind, details FROM unnest($1::VARCHAR[], $2::JSON[])"
    " WITH ORDINALITY AS rows(kind, details, n) ORDER BY n RETURNING id),"
    " ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS position FROM tx),"
    " claimed AS ("
    " INSERT INTO ledger_idempotency_keys (scope, key, request_hash, transaction_id)"
    " SELECT k.scope, k.key, k.hash, ranked.id"
    " FROM unnest($3::VARCHAR[], $4::VARCHAR[], $5::VARCHAR[], $6::BIGINT[])"
    " WITH ORDINALITY AS k(scope, key, hash, position, n)"
    " JOIN ranked ON ranked.position = k.position ORDER BY k.n"
    " ON CONFLICT DO NOTHING RETURNING scope, key)"
    " SELECT (SELECT array_agg(id ORDER BY id) FROM tx),"
    " (SELECT array_agg(scope) FROM claimed), (SELECT array_agg(key) FROM claimed)"
)
_LOCK = (
    "SELECT b.account_id, b.shard, b.balance - b.held FROM ledger_balances AS b "
    "JOIN unnest($1::BIGINT[], $2::SMALLINT[]) AS rows(a, s) "
    "ON b.account_id = rows.a AND b.shard = rows.s "
    "ORDER BY b.account_id, b.shard FOR UPDATE OF b"
)
# The balance rows are locked already (`_LOCK`); a data-modifying WITH always runs, once.
_UPDATE_AND_TRANSFERS = (
    "WITH moved AS ("
    " UPDATE ledger_balances AS b SET balance = b.balance + rows.d"
    " FROM unnest($1::BIGINT[], $2::SMALLINT[], $3::BIGINT[]) AS rows(a, s, d)"
    " WHERE b.account_id = rows.a AND b.shard = rows.s)"
    " INSERT INTO ledger_transfers (transaction_id, debit_account_id, credit_account_id, asset,"
    " amount) SELECT * FROM unnest($4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::VARCHAR[],"
    " $8::BIGINT[])"
)
