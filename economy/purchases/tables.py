"""The coin purchases table: what was bought, for how much, the provider's payment id, its
status, and the ledger transaction that credited the coins (at most one).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
)

from kernel.tables import Id, metadata

coin_purchases = Table(
    "coin_purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("bundle_id", Id, ForeignKey("coin_bundles.id"), nullable=False),
    Column("coins", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("payment_intent_id", String(255), nullable=True, unique=True),
    Column("client_secret", String(255), nullable=True),
    Column("status", String(16), nullable=False, server_default="PENDING"),
    Column(
        "credit_transaction_id",
        Id,
        ForeignKey("ledger_transactions.id"),
        nullable=True,
        unique=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("user_id", "idempotency_key"),
    CheckConstraint("coins > 0", name="coins_positive"),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
    CheckConstraint(
        "status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'MISMATCH')", name="status"
    ),
)
