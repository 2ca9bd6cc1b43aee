"""Group booking: many independent ledger transactions written inside one database transaction,
with a handful of set-based statements instead of a dozen statements each.

Each entry is still its own ledger transaction, with its own idempotency key and transfers; the
rows are exactly those `Ledger.record` would write, so every invariant and `verify_ledger` hold
unchanged. Only the commit is shared: the batch commits or rolls back as a whole.

The checks stay where the writes are. Every balance row the batch changes is locked first, in
the global order (account, shard), and each checked debit is tested against the locked row, so a
batch can neither overdraw a wallet nor deadlock with `Ledger.record` or another batch (whose
keys it also claims first, sorted). Limits: a checked (NON_NEGATIVE) account may be debited only
if it has a single shard, and by at most one entry of the batch; book the rest with
`Ledger.record`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.accounts import Account, Policy, account_from_row, opened_in_this_transaction
from ledger.book import Ledger, Transfer
from ledger.database import BatchConnection, insert_ignoring_conflicts
from ledger.errors import AssetMismatch, InsufficientFunds, LedgerError, UnknownAccount
from ledger.idempotency import IdempotentRequest
from ledger.tables import accounts, balances, idempotency_keys, transactions, transfers


@dataclass(frozen=True)
class Entry:
    """One ledger transaction of a batch: what `Ledger.record` would take."""

    kind: str
    moves: Sequence[Transfer]
    details: Mapping[str, Any] = field(default_factory=dict)
    idempotency: IdempotentRequest | None = None


class BatchRetry(LedgerError):
    """Some entries cannot be booked in this batch: roll the database transaction back, then
    book `entries` (indexes into the batch) on their own and the rest again."""

    def __init__(self, entries: Sequence[int], reason: str) -> None:
        self.entries = tuple(entries)
        super().__init__(f"{len(self.entries)} entries must be retried: {reason}")


class KeysTaken(BatchRetry):
    """A concurrent transaction claimed these entries' idempotency keys first; booking them on
    their own replays (or conflicts with) the winner."""


class FundsMoved(BatchRetry):
    """These entries' debits passed the first check but not the one under the row lock."""


async def record_batch(
    ledger: Ledger,
    conn: BatchConnection,
    entries: Sequence[Entry],
    *,
    first_look: Mapping[int, int] | None = None,
) -> list[int | InsufficientFunds]:
    """Book every entry as its own transaction, inside the caller's database transaction
    (`Database.batch()`: SQLAlchemy's connection on SQLite, asyncpg's own on PostgreSQL).

    `first_look` may give what the caller already read, unlocked, of the debited accounts'
    single balance rows (`available_sql`: balance - held on shard 0), saving that round trip;
    it only steers which entries are tried, each debit is checked again under the row lock.

    Returns, per entry, its transaction id, or the `InsufficientFunds` that refused it (nothing
    of a refused entry is written). Raises `BatchRetry` when the caller must roll back and retry.
    """
    if isinstance(conn, AsyncConnection) and conn.dialect.name != "sqlite":
        # The SQLite statements rely on SQLite's single writer (ids read back as the newest).
        raise TypeError("on PostgreSQL, book a batch inside Database.batch()")
    await _load_accounts(
        ledger, conn, {a for e in entries for m in e.moves for a in (m.debit, m.credit)}
    )
    plans = [await _plan(ledger, conn, entry) for entry in entries]
    debited: set[int] = set()
    for plan in plans:
        for account_id in plan.checked:
            if account_id in debited:
                raise ValueError(f"account {account_id} is debited by two entries of one batch")
            debited.add(account_id)
    outcome: list[int | InsufficientFunds] = [0] * len(entries)
    given = first_look or {}
    available = {**given, **await _available(conn, debited - given.keys())}
    live: list[int] = []
    for index, plan in enumerate(plans):
        short = plan.shortfall(available)
        if short is None:
            live.append(index)
        else:
            outcome[index] = short
    if not live:
        return outcome
    ids = await _open_transactions_and_claim_keys(conn, entries, live)
    for index, transaction_id in zip(live, ids, strict=True):
        outcome[index] = transaction_id
    deltas = _rows(ledger, [plans[i] for i in live])
    await _lock_and_check(conn, deltas, plans, live)
    changed = [(a, s, d) for (a, s), d in sorted(deltas.items()) if d]
    moves = [
        (transaction_id, m.debit, m.credit, m.asset, m.amount)
        for index, transaction_id in zip(live, ids, strict=True)
        for m in entries[index].moves
    ]
    if not isinstance(conn, AsyncConnection):
        columns = [_col(changed, n) for n in range(3)] + [_col(moves, n) for n in range(5)]
        await conn.execute(_PG_UPDATE_AND_TRANSFERS, *columns)
    else:
        await conn.execute(
            update(balances)
            .where(balances.c.account_id == bindparam("a"), balances.c.shard == bindparam("s"))
            .values(balance=balances.c.balance + bindparam("d")),
            [{"a": a, "s": s, "d": d} for a, s, d in changed],
        )
        await conn.execute(
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
    return outcome


@dataclass
class _Plan:
    deltas: dict[int, int]
    """Net change per account."""
    checked: dict[int, int]
    """Single-shard NON_NEGATIVE accounts debited, and by how much."""
    accounts: dict[int, Account]

    def shortfall(self, available: Mapping[int, int]) -> InsufficientFunds | None:
        for account_id, amount in self.checked.items():
            if available.get(account_id, 0) < amount:
                asset = self.accounts[account_id].asset
                return InsufficientFunds(account_id, asset, amount)
        return None


async def _plan(ledger: Ledger, conn: BatchConnection, entry: Entry) -> _Plan:
    if not entry.moves:
        raise ValueError("a transaction needs at least one transfer")
    deltas: dict[int, int] = {}
    shapes: dict[int, Account] = {}
    for move in entry.moves:
        if move.amount <= 0:
            raise ValueError(f"transfer amounts must be positive, got {move.amount}")
        for account_id in (move.debit, move.credit):
            account = ledger._accounts.get(account_id) or await _account(ledger, conn, account_id)
            shapes[account_id] = account
            if account.asset != move.asset:
                raise AssetMismatch(account_id, account.asset, move.asset)
        deltas[move.debit] = deltas.get(move.debit, 0) - move.amount
        deltas[move.credit] = deltas.get(move.credit, 0) + move.amount
    checked: dict[int, int] = {}
    for account_id, delta in deltas.items():
        account = shapes[account_id]
        if delta < 0 and account.policy is Policy.NON_NEGATIVE:
            if account.shards != 1:
                raise ValueError(f"account {account_id} is sharded: debit it with Ledger.record")
            checked[account_id] = -delta
    return _Plan(deltas=deltas, checked=checked, accounts=shapes)


async def _account(ledger: Ledger, conn: BatchConnection, account_id: int) -> Account:
    """An account `_load_accounts` did not cache: one this transaction opened (SQLite's path;
    a PostgreSQL batch opens none), or none at all."""
    if isinstance(conn, AsyncConnection):
        return await ledger.account(conn, account_id)
    raise UnknownAccount(account_id)


async def _load_accounts(ledger: Ledger, conn: BatchConnection, ids: set[int]) -> None:
    """Fill the ledger's cache of account shapes with the batch's unknown accounts, in one
    statement (a storm of first-time senders would otherwise cost a round trip each)."""
    missing = sorted(ids - ledger._accounts.keys())
    if not missing:
        return
    if not isinstance(conn, AsyncConnection):
        found: Sequence[Any] = await conn.fetch(_PG_ACCOUNTS, missing)
    else:
        rows = await conn.execute(select(accounts).where(accounts.c.id.in_(missing)))
        found = [row._mapping for row in rows]
    for m in found:
        if isinstance(conn, AsyncConnection) and opened_in_this_transaction(conn, int(m["id"])):
            continue  # a rollback would take it away: `_plan` reads it through the ledger
        ledger._accounts[int(m["id"])] = account_from_row(m)


async def _available(conn: BatchConnection, account_ids: set[int]) -> dict[int, int]:
    """A first, unlocked look at the checked accounts, so that a batch rarely has to retry."""
    if not account_ids:
        return {}
    rows: Any
    if not isinstance(conn, AsyncConnection):
        rows = await conn.fetch(available_sql(), sorted(account_ids))
    else:
        rows = await conn.execute(
            select(balances.c.account_id, balances.c.balance - balances.c.held).where(
                balances.c.account_id.in_(sorted(account_ids)), balances.c.shard == 0
            )
        )
    return {int(a): int(v) for a, v in rows}


async def _open_transactions_and_claim_keys(
    conn: BatchConnection, entries: Sequence[Entry], live: Sequence[int]
) -> list[int]:
    """Insert the live entries' transaction rows, then their idempotency keys, right after and
    before any balance moves, sorted, so that racing batches wait on keys in one order. Returns
    the transactions' ids in the entries' order. A key a concurrent transaction committed first
    is not inserted: `KeysTaken` sends those entries back, to be booked on their own."""
    if isinstance(conn, AsyncConnection):
        ids = await _open_transactions(conn, [entries[i] for i in live])
        await _claim_keys(conn, _keyed(entries, live, ids))
        return ids
    # PostgreSQL: one statement. Rows go in in the given order, so the ids drawn from the
    # sequence ascend with it (the guarantee SQLAlchemy's ordered insertmanyvalues relies on);
    # key k belongs to the transaction whose id ranks `positions[k]` among them.
    keyed = _keyed(entries, live, range(1, len(live) + 1))
    row = await conn.fetch(
        _PG_TRANSACTIONS_AND_KEYS,
        [entries[i].kind for i in live],
        [orjson.dumps(dict(entries[i].details)).decode() for i in live],
        *(_col(keyed, n) for n in range(4)),
    )
    ids, scopes, keys = row[0]
    _keys_taken(keyed, zip(scopes or (), keys or (), strict=True))
    return [int(i) for i in ids]


def _keyed(
    entries: Sequence[Entry], live: Sequence[int], transactions: Sequence[int]
) -> list[tuple[str, str, str, int, int]]:
    """(scope, key, hash, transaction, entry index) of the live entries that have a key,
    sorted by (scope, key)."""
    return sorted(
        (
            (request.scope, request.key, request.request_hash, transaction, index)
            for index, transaction in zip(live, transactions, strict=True)
            if (request := entries[index].idempotency) is not None
        ),
        key=lambda k: (k[0], k[1]),
    )


def _keys_taken(
    keyed: Sequence[tuple[str, str, str, int, int]], claimed: Iterable[tuple[str, str]]
) -> None:
    won = set(claimed)
    lost = [index for s, k, _, _, index in keyed if (s, k) not in won]
    if lost:
        raise KeysTaken(lost, "their idempotency keys were claimed concurrently")


async def _open_transactions(conn: AsyncConnection, entries: Sequence[Entry]) -> list[int]:
    """SQLite: the new transactions' ids, in the entries' order."""
    # SQLite: one multi-row insert, then the ids. The batch holds the only write lock, and an
    # INTEGER PRIMARY KEY takes the next rowid, so ours are the newest ids, in order. (An
    # ordered RETURNING would insert the rows one statement at a time here.)
    await conn.execute(
        insert(transactions), [{"kind": e.kind, "details": dict(e.details)} for e in entries]
    )
    newest = await conn.execute(
        select(transactions.c.id).order_by(transactions.c.id.desc()).limit(len(entries))
    )
    return sorted(int(row[0]) for row in newest)


async def _claim_keys(
    conn: AsyncConnection, keyed: Sequence[tuple[str, str, str, int, int]]
) -> None:
    """SQLite: insert the keys (see `_open_transactions_and_claim_keys`)."""
    if not keyed:
        return
    claimed = await conn.execute(
        insert_ignoring_conflicts(conn.dialect, idempotency_keys).returning(
            idempotency_keys.c.scope, idempotency_keys.c.key
        ),
        [{"scope": s, "key": k, "request_hash": h, "transaction_id": t} for s, k, h, t, _ in keyed],
    )
    _keys_taken(keyed, ((s, k) for s, k in claimed))


def _rows(ledger: Ledger, plans: Sequence[_Plan]) -> dict[tuple[int, int], int]:
    """Net change per balance row: a checked account on its only shard (locked even when the
    batch nets it to zero, so that its debit is tested), everything else on one random shard
    of its account for the whole batch."""
    per_account: dict[int, int] = {}
    shapes: dict[int, Account] = {}
    checked: set[int] = set()
    for plan in plans:
        shapes.update(plan.accounts)
        checked.update(plan.checked)
        for account_id, delta in plan.deltas.items():
            per_account[account_id] = per_account.get(account_id, 0) + delta
    rows: dict[tuple[int, int], int] = {}
    for account_id, delta in per_account.items():
        if account_id in checked:
            rows[(account_id, 0)] = delta
        elif delta:
            rows[(account_id, ledger._shard(shapes[account_id]))] = delta
    return rows


async def _lock_and_check(
    conn: BatchConnection,
    deltas: Mapping[tuple[int, int], int],
    plans: Sequence[_Plan],
    live: Sequence[int],
) -> None:
    """Lock every row the batch changes, in (account, shard) order, and test each checked debit
    against the locked row (PostgreSQL re-reads a row it waited for; SQLite writes alone)."""
    rows = sorted(deltas)
    locked: Any
    if not isinstance(conn, AsyncConnection):
        locked = await conn.fetch(_PG_LOCK, _col(rows, 0), _col(rows, 1))
    else:  # SQLite writes one transaction at a time: nothing to lock, only to read
        # (by account: SQLite scans the whole table for a row-value IN)
        locked = await conn.execute(
            select(
                balances.c.account_id, balances.c.shard, balances.c.balance - balances.c.held
            ).where(balances.c.account_id.in_(sorted({a for a, _ in rows})), balances.c.shard == 0)
        )
    available = {int(a): int(v) for a, shard, v in locked if shard == 0}
    moved = [index for index in live if plans[index].shortfall(available) is not None]
    if moved:
        raise FundsMoved(moved, "their balance changed before the row lock")


# --- PostgreSQL (asyncpg itself): one fixed statement per step, arrays for the rows, so each
# is prepared once per connection whatever the batch's size.


def _col(rows: Sequence[Sequence[Any]], n: int) -> list[Any]:
    return [row[n] for row in rows]


_PG_ACCOUNTS = "SELECT * FROM ledger_accounts WHERE id = ANY($1::BIGINT[])"


def available_sql(ids: str = "$1") -> str:
    """PostgreSQL: the first look at checked accounts (each has a single balance row), as
    (account id, balance - held), for the account ids in the BIGINT[] parameter `ids`."""
    return (
        "SELECT account_id, balance - held FROM ledger_balances "  # noqa: S608 - a placeholder
        f"WHERE account_id = ANY({ids}::BIGINT[]) AND shard = 0"
    )


_PG_TRANSACTIONS_AND_KEYS = (
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
_PG_LOCK = (
    "SELECT b.account_id, b.shard, b.balance - b.held FROM ledger_balances AS b "
    "JOIN unnest($1::BIGINT[], $2::SMALLINT[]) AS rows(a, s) "
    "ON b.account_id = rows.a AND b.shard = rows.s "
    "ORDER BY b.account_id, b.shard FOR UPDATE OF b"
)
# The balance rows are locked already (`_PG_LOCK`); a data-modifying WITH always runs, once.
_PG_UPDATE_AND_TRANSFERS = (
    "WITH moved AS ("
    " UPDATE ledger_balances AS b SET balance = b.balance + rows.d"
    " FROM unnest($1::BIGINT[], $2::SMALLINT[], $3::BIGINT[]) AS rows(a, s, d)"
    " WHERE b.account_id = rows.a AND b.shard = rows.s)"
    " INSERT INTO ledger_transfers (transaction_id, debit_account_id, credit_account_id, asset,"
    " amount) SELECT * FROM unnest($4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::VARCHAR[],"
    " $8::BIGINT[])"
)
