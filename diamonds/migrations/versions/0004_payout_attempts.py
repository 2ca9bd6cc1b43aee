"""Payout attempts and discrepancies: one row per attempt at the provider (its own key, reference,
outcome and times), the discrepancies flagged for FINANCE, and two columns on payouts.

Existing payouts get one attempt row for their current generation, with the outcome their status
implies (earlier generations' references were overwritten before this revision and are lost).

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

OUTCOME_OF_STATUS = {
    "SUBMITTED": "PENDING",
    "UNKNOWN": "UNKNOWN",
    "PAID": "PAID",
    "FAILED": "FAILED",
    "RETURNED": "RETURNED",
    "CANCELED": "CANCELED",
}


def upgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "resolved_by_hand", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("open_discrepancies", sa.Integer(), server_default="0", nullable=False)
        )

    op.create_table(
        "payout_attempts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payout_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("settled_by", sa.String(length=16), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("number >= 1", name=op.f("ck_payout_attempts_number_positive")),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_attempts_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_attempts")),
        sa.UniqueConstraint("payout_id", "number", name="uq_payout_attempts_number"),
    )
    with op.batch_alter_table("payout_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_payout_attempts_reference", ["provider_reference"], unique=False)

    op.create_table(
        "payout_discrepancies",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payout_id", ID, nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("provider_state", sa.String(length=16), nullable=False),
        sa.Column("our_status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("owed_diamonds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_discrepancies_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_discrepancies")),
    )
    with op.batch_alter_table("payout_discrepancies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payout_discrepancies_open", ["acknowledged_at", "id"], unique=False
        )
        batch_op.create_index("ix_payout_discrepancies_payout", ["payout_id"], unique=False)

    payouts = sa.table(
        "payouts",
        sa.column("id", ID),
        sa.column("status", sa.String()),
        sa.column("generation", sa.Integer()),
        sa.column("provider_reference", sa.String()),
        sa.column("failure_code", sa.String()),
        sa.column("failure_message", sa.String()),
        sa.column("first_sent_at", sa.DateTime(timezone=True)),
        sa.column("paid_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    attempts = sa.table(
        "payout_attempts",
        sa.column("payout_id", ID),
        sa.column("number", sa.Integer()),
        sa.column("idempotency_key", sa.String()),
        sa.column("provider_reference", sa.String()),
        sa.column("outcome", sa.String()),
        sa.column("settled_by", sa.String()),
        sa.column("failure_code", sa.String()),
        sa.column("failure_message", sa.String()),
        sa.column("first_sent_at", sa.DateTime(timezone=True)),
        sa.column("paid_at", sa.DateTime(timezone=True)),
        sa.column("outcome_at", sa.DateTime(timezone=True)),
    )
    ident = sa.cast(payouts.c.id, sa.String())
    key = sa.case(
        (
            payouts.c.generation > 1,
            "diamonds-payout-" + ident + "-" + sa.cast(payouts.c.generation, sa.String()),
        ),
        else_="diamonds-payout-" + ident,
    )
    outcome = sa.case(
        *[(payouts.c.status == status, value) for status, value in OUTCOME_OF_STATUS.items()],
        else_="NOT_SENT",
    )
    settled = sa.case(
        (payouts.c.status.in_(["PAID", "FAILED", "RETURNED", "CANCELED"]), "PROVIDER"),
        else_=sa.null(),
    )
    op.execute(
        attempts.insert().from_select(
            [
                "payout_id",
                "number",
                "idempotency_key",
                "provider_reference",
                "outcome",
                "settled_by",
                "failure_code",
                "failure_message",
                "first_sent_at",
                "paid_at",
                "outcome_at",
            ],
            sa.select(
                payouts.c.id,
                payouts.c.generation,
                key,
                payouts.c.provider_reference,
                outcome,
                settled,
                payouts.c.failure_code,
                payouts.c.failure_message,
                payouts.c.first_sent_at,
                payouts.c.paid_at,
                sa.null(),
            ),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("payout_discrepancies", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_discrepancies_payout")
        batch_op.drop_index("ix_payout_discrepancies_open")
    op.drop_table("payout_discrepancies")
    with op.batch_alter_table("payout_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_attempts_reference")
    op.drop_table("payout_attempts")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("open_discrepancies")
        batch_op.drop_column("resolved_by_hand")
