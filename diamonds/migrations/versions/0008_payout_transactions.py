"""Payout transactions: every ledger transaction a payout booked, linked to it (a retry replaces
the payout's hold, so its earlier holds were only findable in the transactions' JSON details).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payout_transactions",
        sa.Column("transaction_id", ID, autoincrement=False, nullable=False),
        sa.Column("payout_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_transactions_payout_id_payouts")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_payout_transactions_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_payout_transactions")),
    )
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payout_transactions_payout", ["payout_id", "transaction_id"], unique=False
        )
    _link_what_was_booked()


def _link_what_was_booked() -> None:
    """Link the transactions booked before this table: each payout's request, and every
    transaction whose details name a payout (its postings, releases, cash legs, retries' holds)."""
    bind = op.get_bind()
    payouts = sa.table("payouts", sa.column("id"), sa.column("request_transaction_id"))
    transactions = sa.table(
        "ledger_transactions", sa.column("id"), sa.column("kind"), sa.column("details", sa.JSON)
    )
    known = {
        int(i): int(t)
        for i, t in bind.execute(sa.select(payouts.c.id, payouts.c.request_transaction_id))
    }
    links = {t: i for i, t in known.items()}
    named = bind.execute(
        sa.select(transactions.c.id, transactions.c.details).where(
            transactions.c.kind.like("PAYOUT_%")
            | transactions.c.kind.in_(["HOLD_POSTED", "HOLD_VOIDED"])
        )
    )
    for transaction_id, details in named:
        payout_id = (details or {}).get("payout_id")
        if isinstance(payout_id, int) and payout_id in known:
            links.setdefault(int(transaction_id), payout_id)
    if links:
        table = sa.table("payout_transactions", sa.column("transaction_id"), sa.column("payout_id"))
        op.bulk_insert(
            table,
            [{"transaction_id": t, "payout_id": p} for t, p in sorted(links.items())],
        )


def downgrade() -> None:
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_transactions_payout")
    op.drop_table("payout_transactions")
