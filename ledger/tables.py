"""The ledger's tables: accounts, their balance shards, transactions, transfers, holds and
idempotency keys. Transfers and holds are never updated except a hold's one-time resolution.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    func,
)

from kernel.tables import Id, metadata

accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner", String(64), nullable=False),
    Column("name", String(32), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("shards", SmallInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("owner", "name", "asset"),
    CheckConstraint("policy IN ('NON_NEGATIVE', 'UNBOUNDED')", name="policy"),
    CheckConstraint("shards BETWEEN 1 AND 256", name="shards"),
)

balances = Table(
    "ledger_balances",
    metadata,
    Column("account_id", Id, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("shard", SmallInteger, primary_key=True),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("held", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("held >= 0", name="held_not_negative"),
)

transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("debit_account_id", Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("hold_id", Id, ForeignKey("ledger_holds.id"), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
    Index("ix_ledger_transfers_debit", "debit_account_id", "id"),
    Index("ix_ledger_transfers_credit", "credit_account_id", "id"),
    Index("ix_ledger_transfers_transaction", "transaction_id"),
)

holds = Table(
    "ledger_holds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("debit_account_id", Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("asset", String(8), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(8), nullable=False, server_default="PENDING"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("status IN ('PENDING', 'POSTED', 'VOIDED')", name="status"),
    Index("ix_ledger_holds_debit_status", "debit_account_id", "status"),
)

idempotency_keys = Table(
    "ledger_idempotency_keys",
    metadata,
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
