"""The batch interface and its dialect-neutral planning: which entries can go, which balance rows
change and by how much, and when the batch must be rolled back and retried.

Each entry is still its own ledger transaction, with its own idempotency key and transfers; the
rows are exactly those `Ledger.record` would write, so every invariant and `verify_ledger` hold
unchanged. Only the commit is shared: the batch commits or rolls back as a whole.

The checks stay where the writes are. Every balance row the batch changes is locked first, in
the global order (account, shard), and each checked debit is tested against the locked row, so a
batch can neither overdraw a wallet nor deadlock with `Ledger.record` or another batch (whose
keys it also claims first, sorted). Limits: a checked (NON_NEGATIVE) account may be debited only
if it has a single shard, and by at most one entry of the batch; book the rest with
`Ledger.record`. The statements themselves are each dialect's (`ledger.batch.sqlite`,
`ledger.batch.postgres`).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.accounts import Account, BalancePolicy, account_from_row
from ledger.book import Ledger, Transfer
from ledger.errors import AssetMismatch, InsufficientFunds, LedgerError
from ledger.idempotency import IdempotentRequest


@dataclass(frozen=True)
class Entry:
    """One ledger transaction of a batch: what `Ledger.record` would take."""

    kind: str
    moves: Sequence[Transfer]
    details: Mapping[str, Any] = field(default_factory=dict)
    idempotency: IdempotentRequest | None = None


UsedKeys = dict[tuple[str, str], tuple[str, int]]
"""Idempotency keys already used: (scope, key) -> (request hash, transaction id)."""


@dataclass(frozen=True)
class FirstLook:
    """What a batch reads before it books, unlocked: the requests' keys already used and (where
    the dialect reads them in the same round trip) what the checked accounts hold."""

    used_keys: UsedKeys
    available: dict[int, int] | None
    """Balance - held of each single-shard checked account, or None if not read."""
    also: tuple[Any, ...] = ()
    """The values of the caller's own reads sent along (`PostgresBatch.first_look`'s `also`)."""


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


KeyedRow = tuple[str, str, str, int, int]
"""(scope, key, request hash, transaction id or rank, entry index) of an entry with a key."""
BalanceChange = tuple[int, int, int]
"""(account id, shard, delta) of a balance row."""
TransferRow = tuple[int, int, int, str, int]
"""(transaction id, debit account, credit account, asset, amount)."""


class LedgerBatch(abc.ABC):
    """One batch of ledger transactions inside the caller's database transaction
    (`Database.batch()`), bound to its connection: the planning here, the statements in each
    dialect's subclass (`open_batch` picks it)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @abc.abstractmethod
    async def first_look(
        self, requests: Sequence[IdempotentRequest], accounts: Collection[int]
    ) -> FirstLook:
        """The requests' keys already used and, where cheap, the accounts' available amounts."""

    async def record(
        self, entries: Sequence[Entry], *, first_look: Mapping[int, int] | None = None
    ) -> list[int | InsufficientFunds]:
        """Book every entry as its own transaction.

        `first_look` may give what the caller already read, unlocked, of the debited accounts'
        single balance rows (balance - held on shard 0), saving that round trip; it only steers
        which entries are tried, each debit is checked again under the row lock.

        Returns, per entry, its transaction id, or the `InsufficientFunds` that refused it
        (nothing of a refused entry is written). Raises `BatchRetry` when the caller must roll
        back and retry.
        """
        await self._load_accounts(
            {a for e in entries for m in e.moves for a in (m.debit, m.credit)}
        )
        plans = [await self._plan(entry) for entry in entries]
        debited: set[int] = set()
        for plan in plans:
            for account_id in plan.checked:
                if account_id in debited:
                    raise ValueError(f"account {account_id} is debited by two entries of one batch")
                debited.add(account_id)
        outcome: list[int | InsufficientFunds] = [0] * len(entries)
        given = first_look or {}
        missing = debited - given.keys()
        available = {**given, **(await self._available(sorted(missing)) if missing else {})}
        live: list[int] = []
        for index, plan in enumerate(plans):
            short = plan.shortfall(available)
            if short is None:
                live.append(index)
            else:
                outcome[index] = short
        if not live:
            return outcome
        ids = await self._open_transactions_and_claim_keys(entries, live)
        for index, transaction_id in zip(live, ids, strict=True):
            outcome[index] = transaction_id
        deltas = self._rows([plans[i] for i in live])
        locked = await self._lock(sorted(deltas))
        moved = [index for index in live if plans[index].shortfall(locked) is not None]
        if moved:
            raise FundsMoved(moved, "their balance changed before the row lock")
        changed = [(a, s, d) for (a, s), d in sorted(deltas.items()) if d]
        moves = [
            (transaction_id, m.debit, m.credit, m.asset, m.amount)
            for index, transaction_id in zip(live, ids, strict=True)
            for m in entries[index].moves
        ]
        await self._apply(changed, moves)
        return outcome

    # --- each dialect's statements

    @abc.abstractmethod
    async def _account_rows(self, ids: Sequence[int]) -> Sequence[Mapping[str, Any]]:
        """The `ledger_accounts` rows of these ids, in one statement."""

    def _cacheable(self, account_id: int) -> bool:
        """May this account's shape be cached (not undone by a rollback of this batch)?"""
        return True

    @abc.abstractmethod
    async def _uncached_account(self, account_id: int) -> Account:
        """An account `_load_accounts` did not cache, or `UnknownAccount`."""

    @abc.abstractmethod
    async def _available(self, account_ids: Sequence[int]) -> dict[int, int]:
        """A first, unlocked look at checked accounts (balance - held on shard 0)."""

    @abc.abstractmethod
    async def _open_transactions_and_claim_keys(
        self, entries: Sequence[Entry], live: Sequence[int]
    ) -> list[int]:
        """Insert the live entries' transaction rows, then their idempotency keys, right after
        and before any balance moves, sorted (`keyed`), so that racing batches wait on keys in
        one order. Returns the transactions' ids in the entries' order. A key a concurrent
        transaction committed first is not inserted: `KeysTaken` (`keys_taken`) sends those
        entries back, to be booked on their own."""

    @abc.abstractmethod
    async def _lock(self, rows: Sequence[tuple[int, int]]) -> dict[int, int]:
        """Lock these balance rows in the given (account, shard) order and return the available
        amount (balance - held) of the shard-0 rows among them, as read under the lock."""

    @abc.abstractmethod
    async def _apply(self, changed: Sequence[BalanceChange], moves: Sequence[TransferRow]) -> None:
        """Apply the balance changes (their rows are locked) and insert the transfers."""

    # --- planning

    async def _load_accounts(self, ids: set[int]) -> None:
        """Fill the ledger's cache of account shapes with the batch's unknown accounts, in one
        statement (a storm of first-time senders would otherwise cost a round trip each)."""
        missing = sorted(i for i in ids if i not in self.ledger._accounts)
        if not missing:
            return
        for m in await self._account_rows(missing):
            if self._cacheable(int(m["id"])):
                self.ledger._accounts.put(int(m["id"]), account_from_row(m))

    async def _plan(self, entry: Entry) -> _Plan:
        if not entry.moves:
            raise ValueError("a transaction needs at least one transfer")
        deltas: dict[int, int] = {}
        shapes: dict[int, Account] = {}
        for move in entry.moves:
            if move.amount <= 0:
                raise ValueError(f"transfer amounts must be positive, got {move.amount}")
            for account_id in (move.debit, move.credit):
                account = self.ledger._accounts.get(account_id) or await self._uncached_account(
                    account_id
                )
                shapes[account_id] = account
                if account.asset != move.asset:
                    raise AssetMismatch(account_id, account.asset, move.asset)
            deltas[move.debit] = deltas.get(move.debit, 0) - move.amount
            deltas[move.credit] = deltas.get(move.credit, 0) + move.amount
        checked: dict[int, int] = {}
        for account_id, delta in deltas.items():
            account = shapes[account_id]
            if delta < 0 and account.policy is BalancePolicy.NON_NEGATIVE:
                if account.shards != 1:
                    raise ValueError(
                        f"account {account_id} is sharded: debit it with Ledger.record"
                    )
                checked[account_id] = -delta
        return _Plan(deltas=deltas, checked=checked, accounts=shapes)

    def _rows(self, plans: Sequence[_Plan]) -> dict[tuple[int, int], int]:
        """Net change per balance row: a checked account on its only shard (locked even when
        the batch nets it to zero, so that its debit is tested), everything else on one random
        shard of its account for the whole batch."""
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
                rows[(account_id, self.ledger._shard(shapes[account_id]))] = delta
        return rows


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


def keyed(
    entries: Sequence[Entry], live: Sequence[int], transactions: Iterable[int]
) -> list[KeyedRow]:
    """The live entries that have a key, sorted by (scope, key), each with its transaction."""
    return sorted(
        (
            (request.scope, request.key, request.request_hash, transaction, index)
            for index, transaction in zip(live, transactions, strict=True)
            if (request := entries[index].idempotency) is not None
        ),
        key=lambda k: (k[0], k[1]),
    )


def keys_taken(rows: Sequence[KeyedRow], claimed: Iterable[tuple[str, str]]) -> None:
    """Raise `KeysTaken` for the keyed entries whose key is not among those claimed."""
    won = set(claimed)
    lost = [index for s, k, _, _, index in rows if (s, k) not in won]
    if lost:
        raise KeysTaken(lost, "their idempotency keys were claimed concurrently")
