"""Reconciliation's tables: one run per provider and period (re-runs replace it), its totals per
class and currency, and every payout's (or stray provider record's) place in it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
)

from kernel.tables import Id, metadata

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("provider", String(32), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_by", String(255), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("error", String(500), nullable=True),
    Column("our_count", Integer, nullable=False, server_default="0"),
    Column("their_count", Integer, nullable=False, server_default="0"),
    Column("exception_count", Integer, nullable=False, server_default="0"),
    Column("open_exception_count", Integer, nullable=False, server_default="0"),
    Column("runs", Integer, nullable=False, server_default="1"),
    UniqueConstraint("provider", "period_start", "period_end", name="uq_reconciliation_period"),
    Index("ix_reconciliation_runs_period", "period_start", "provider"),
)
"""`period_end` is exclusive: the day 2026-12-06 is [2026-12-06, 2026-12-07). `runs` counts the
re-runs that replaced the results; the row is claimed (RUNNING) before the provider is read, so
two workers never reconcile the same provider-day."""

reconciliation_totals = Table(
    "reconciliation_totals",
    metadata,
    Column("run_id", Id, ForeignKey("reconciliation_runs.id"), primary_key=True),
    Column("class", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("our_minor", BigInteger, nullable=False),
    Column("their_minor", BigInteger, nullable=False),
    Column("their_fee_minor", BigInteger, nullable=False),
)

reconciliation_items = Table(
    "reconciliation_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("reconciliation_runs.id"), nullable=False),
    Column("key", String(255), nullable=False),
    Column("class", String(24), nullable=False),
    Column("payout_id", Id, ForeignKey("payouts.id"), nullable=True),
    Column("attempt_number", Integer, nullable=True),
    Column("provider_reference", String(255), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("our_minor", BigInteger, nullable=True),
    Column("their_minor", BigInteger, nullable=True),
    Column("reason", String(500), nullable=False),
    Column("ours", JSON, nullable=True),
    Column("theirs", JSON, nullable=True),
    Column("discrepancy_id", Id, ForeignKey("payout_discrepancies.id"), nullable=True),
    Column("resolved_by", String(255), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("note", String(500), nullable=True),
    UniqueConstraint("run_id", "key", name="uq_reconciliation_items_key"),
    Index("ix_reconciliation_items_open", "class", "resolved_at"),
    Index("ix_reconciliation_items_payout", "payout_id"),
)
"""Each of our attempts of the period and each stray record of the provider's, in its class,
with both sides' records. Exceptions stay open until FINANCE resolves them with a note; a re-run
carries a resolution over to the same key in the same class."""
