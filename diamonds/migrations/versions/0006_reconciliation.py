"""Reconciliation: one run per provider and period (its counts, claimed by one worker at a time),
its totals per class and currency, and each payout's or stray provider record's place in it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=255), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("our_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("their_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("exception_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("open_exception_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("runs", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint(
            "provider", "period_start", "period_end", name="uq_reconciliation_period"
        ),
    )
    op.create_index(
        "ix_reconciliation_runs_period",
        "reconciliation_runs",
        ["period_start", "provider"],
        unique=False,
    )
    op.create_table(
        "reconciliation_totals",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("class", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("our_minor", sa.BigInteger(), nullable=False),
        sa.Column("their_minor", sa.BigInteger(), nullable=False),
        sa.Column("their_fee_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_totals_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "class", "currency", name=op.f("pk_reconciliation_totals")
        ),
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ID, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("class", sa.String(length=24), nullable=False),
        sa.Column("payout_id", ID, nullable=True),
        sa.Column("attempt_number", sa.Integer(), nullable=True),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("our_minor", sa.BigInteger(), nullable=True),
        sa.Column("their_minor", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("ours", sa.JSON(), nullable=True),
        sa.Column("theirs", sa.JSON(), nullable=True),
        sa.Column("discrepancy_id", ID, nullable=True),
        sa.Column("resolved_by", sa.String(length=255), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_items_run_id_reconciliation_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_reconciliation_items_payout_id_payouts")
        ),
        sa.ForeignKeyConstraint(
            ["discrepancy_id"],
            ["payout_discrepancies.id"],
            name=op.f("fk_reconciliation_items_discrepancy_id_payout_discrepancies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_items")),
        sa.UniqueConstraint("run_id", "key", name="uq_reconciliation_items_key"),
    )
    op.create_index(
        "ix_reconciliation_items_open",
        "reconciliation_items",
        ["class", "resolved_at"],
        unique=False,
    )
    op.create_index(
        "ix_reconciliation_items_payout", "reconciliation_items", ["payout_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_items_payout", table_name="reconciliation_items")
    op.drop_index("ix_reconciliation_items_open", table_name="reconciliation_items")
    op.drop_table("reconciliation_items")
    op.drop_table("reconciliation_totals")
    op.drop_index("ix_reconciliation_runs_period", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
