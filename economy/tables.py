"""The economy's tables: users, the gift catalog, coin bundles and their prices, live streams,
sent gifts. The audit log is the kernel's (`kernel/audit.py`); money lives in the ledger's tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)

from kernel.tables import Id, metadata

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject", String(255), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("coin_account_id", Id, ForeignKey("ledger_accounts.id"), nullable=True),
    Column("diamond_account_id", Id, ForeignKey("ledger_accounts.id"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set once the subject has called with the FINANCE or ADMIN role, and never cleared: staff
    # accounts are not shown to callers who are not staff (docs/api.md#users).
    Column("is_staff", Boolean, nullable=False, server_default=text("false")),
)

gifts = Table(
    "gifts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("coins", Integer, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("coins > 0", name="coins_positive"),
)

coin_bundles = Table(
    "coin_bundles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("coins", Integer, nullable=False, unique=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    CheckConstraint("coins > 0", name="coins_positive"),
)

coin_bundle_prices = Table(
    "coin_bundle_prices",
    metadata,
    Column("bundle_id", Id, ForeignKey("coin_bundles.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount_positive"),
)

streams = Table(
    "streams",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("creator_id", Id, ForeignKey("users.id"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("status", String(8), nullable=False, server_default="LIVE"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('LIVE', 'ENDED')", name="status"),
    Index(
        "uq_streams_one_live_per_creator",
        "creator_id",
        unique=True,
        postgresql_where=text("status = 'LIVE'"),
        sqlite_where=text("status = 'LIVE'"),
    ),
    Index("ix_streams_status_id", "status", "id"),
)

gift_sends = Table(
    "gift_sends",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("stream_id", Id, ForeignKey("streams.id"), nullable=False),
    Column("gift_id", Id, ForeignKey("gifts.id"), nullable=False),
    Column("sender_id", Id, ForeignKey("users.id"), nullable=False),
    Column("creator_id", Id, ForeignKey("users.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("coins", BigInteger, nullable=False),
    Column("creator_diamonds", BigInteger, nullable=False),
    Column("platform_diamonds", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("transaction_id"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_gift_sends_stream_sender", "stream_id", "sender_id"),
)
