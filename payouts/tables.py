"""The payouts' tables: the payout itself (amounts, status, dispatch lease), its attempts at the
provider, its timestamped status history, the ledger transactions it booked, the discrepancies
flagged for FINANCE, and the provider webhook events already applied (so a replay applies nothing).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
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

payouts = Table(
    "payouts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("status", String(20), nullable=False),
    Column("diamonds", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("gross_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("withholding_minor", BigInteger, nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("hold_id", Id, ForeignKey("ledger_holds.id"), nullable=False),
    Column(
        "request_transaction_id",
        Id,
        ForeignKey("ledger_transactions.id"),
        nullable=False,
        unique=True,
    ),
    Column("requested_by", String(255), nullable=False),
    Column("approved_by", String(255), nullable=True),
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("provider_reference", String(255), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("failure_message", String(500), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("first_sent_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("resolved_by_hand", Boolean, nullable=False, server_default=text("false")),
    Column("open_discrepancies", Integer, nullable=False, server_default="0"),
    CheckConstraint("diamonds > 0", name="diamonds_positive"),
    CheckConstraint("net_minor > 0", name="net_positive"),
    CheckConstraint(
        "gross_minor = net_minor + fee_minor + withholding_minor", name="amounts_add_up"
    ),
    Index("ix_payouts_status_next_attempt", "status", "next_attempt_at"),
    Index("ix_payouts_user_created", "user_id", "created_at"),
    Index("ix_payouts_provider_reference", "provider", "provider_reference"),
)

payout_events = Table(
    "payout_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payout_id", Id, ForeignKey("payouts.id"), nullable=False),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", String(500), nullable=True),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_payout_events_payout", "payout_id", "id"),
)

payout_transactions = Table(
    "payout_transactions",
    metadata,
    Column(
        "transaction_id",
        Id,
        ForeignKey("ledger_transactions.id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("payout_id", Id, ForeignKey("payouts.id"), nullable=False),
    Index("ix_payout_transactions_payout", "payout_id", "transaction_id"),
)
"""Every ledger transaction a payout booked: the hold of its request and of each retry (a retry
replaces `payouts.hold_id`), the hold's posting or release, the cash legs, a return, a late or
unexpected payment. One payout per transaction."""

provider_events = Table(
    "provider_webhook_events",
    metadata,
    Column("provider", String(32), primary_key=True),
    Column("event_id", String(255), primary_key=True),
    Column("payout_id", Id, ForeignKey("payouts.id"), nullable=True),
    Column("outcome", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

payout_attempts = Table(
    "payout_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payout_id", Id, ForeignKey("payouts.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("provider_reference", String(255), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("settled_by", String(16), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("failure_message", String(500), nullable=True),
    Column("outcome_at", DateTime(timezone=True), nullable=True),
    Column("first_sent_at", DateTime(timezone=True), nullable=True),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("payout_id", "number", name="uq_payout_attempts_number"),
    CheckConstraint("number >= 1", name="number_positive"),
    Index("ix_payout_attempts_reference", "provider_reference"),
)
"""One row per attempt at the provider, each under its own idempotency key; never overwritten
by a later attempt. `outcome_at` is the provider's time for the news that set `outcome`."""

payout_discrepancies = Table(
    "payout_discrepancies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payout_id", Id, ForeignKey("payouts.id"), nullable=False),
    Column("attempt_number", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("provider_state", String(16), nullable=False),
    Column("our_status", String(20), nullable=False),
    Column("message", String(500), nullable=False),
    Column("owed_diamonds", BigInteger, nullable=False, server_default="0"),
    Column("source", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("acknowledged_by", String(255), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("note", String(500), nullable=True),
    Index("ix_payout_discrepancies_open", "acknowledged_at", "id"),
    Index("ix_payout_discrepancies_payout", "payout_id"),
)
"""Where a provider's outcome and our records disagreed: booked as the money says, then flagged
here for FINANCE until someone acknowledges it."""
