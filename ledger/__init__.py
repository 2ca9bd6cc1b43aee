"""The money core: a double-entry ledger of coins, diamonds and cash, with holds and idempotency.

Design (see docs/ledger.md for the long form):

- Every movement is a *transfer* from a debit account to a credit account of the same asset,
  grouped in an immutable *transaction*. Balances are kept per account in *shards*
  (`ledger_balances`), and the sum of an asset over all accounts is always zero.
- An account is NON_NEGATIVE (wallets: available = balance - held never below zero) or UNBOUNDED
  (the platform's issuing accounts). Credits never need a check, so a credit updates one randomly
  chosen shard of the credited account: gifts into a hot creator spread over N rows instead of
  queuing on one locked row.
- A single-shard checked account (a viewer's coin wallet) is debited with one conditional
  `UPDATE ... WHERE balance - held >= amount`: the check and the write are atomic, so concurrent
  spends can never overdraw it. A sharded checked account (a creator's diamond wallet) is debited
  or held only under a lock on its account row, which credits never take; the sum over its shards
  can only grow while that lock is held, so the check stays true until commit.
- Locks are always taken in one order (account rows by id, then balance rows by account and
  shard), so concurrent transactions never deadlock. On SQLite, writes run one at a time.
- A hold reserves an amount (`held` on shard 0) until it is posted (a transfer) or voided,
  exactly once: the status change is a conditional update from PENDING.
- Idempotency keys have a primary key on (scope, key) and name exactly one transaction.
"""

from ledger.accounts import (
    PLATFORM,
    Account,
    Asset,
    Balance,
    BalancePolicy,
    open_account,
    user_owner,
)
from ledger.book import Ledger, PlacedHold, Transfer
from ledger.database import Database
from ledger.errors import (
    HoldNotPending,
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    UnknownAccount,
)
from ledger.idempotency import IdempotentRequest, Outcome, run_once
from ledger.verify import Violation, verify_ledger

__all__ = [
    "PLATFORM",
    "Account",
    "Asset",
    "Balance",
    "BalancePolicy",
    "Database",
    "HoldNotPending",
    "IdempotencyConflict",
    "IdempotentRequest",
    "InsufficientFunds",
    "Ledger",
    "LedgerError",
    "Outcome",
    "PlacedHold",
    "Transfer",
    "UnknownAccount",
    "Violation",
    "open_account",
    "run_once",
    "user_owner",
    "verify_ledger",
]
