"""The ledger's typed refusals: each says which rule a write would have broken.

A refused write leaves nothing behind: the caller's transaction is rolled back.
"""

from __future__ import annotations


class LedgerError(Exception):
    """A write the ledger refuses."""


class InsufficientFunds(LedgerError):
    def __init__(self, account_id: int, asset: str, needed: int) -> None:
        self.account_id = account_id
        self.asset = asset
        self.needed = needed
        super().__init__(f"account {account_id} has fewer than {needed} {asset} available")


class IdempotencyConflict(LedgerError):
    def __init__(self, scope: str, key: str) -> None:
        self.scope = scope
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")


class HoldNotPending(LedgerError):
    def __init__(self, hold_id: int, status: str | None) -> None:
        self.hold_id = hold_id
        self.status = status
        super().__init__(f"hold {hold_id} is {status or 'missing'}, not PENDING")


class AssetMismatch(LedgerError):
    def __init__(self, account_id: int, expected: str, got: str) -> None:
        super().__init__(f"account {account_id} holds {expected}, not {got}")


class UnknownAccount(LedgerError):
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        super().__init__(f"no ledger account {account_id}")
