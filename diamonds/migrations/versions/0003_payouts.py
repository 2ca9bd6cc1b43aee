"""Payouts and coin purchases: the payout record with its dispatch lease, its status history,
the provider webhook events already applied, and coin purchases paid through a provider.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "payouts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("diamonds", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("withholding_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "request_transaction_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("approved_by", sa.String(length=255), nullable=True),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("diamonds > 0", name=op.f("ck_payouts_diamonds_positive")),
        sa.CheckConstraint(
            "gross_minor = net_minor + fee_minor + withholding_minor",
            name=op.f("ck_payouts_amounts_add_up"),
        ),
        sa.CheckConstraint("net_minor > 0", name=op.f("ck_payouts_net_positive")),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_payouts_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["request_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_payouts_request_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payouts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint(
            "request_transaction_id", name=op.f("uq_payouts_request_transaction_id")
        ),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payouts_provider_reference", ["provider", "provider_reference"], unique=False
        )
        batch_op.create_index(
            "ix_payouts_status_next_attempt", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index("ix_payouts_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "payout_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "payout_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_payout_events_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_events")),
    )
    with op.batch_alter_table("payout_events", schema=None) as batch_op:
        batch_op.create_index("ix_payout_events_payout", ["payout_id", "id"], unique=False)

    op.create_table(
        "provider_webhook_events",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("payout_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["payout_id"], ["payouts.id"], name=op.f("fk_provider_webhook_events_payout_id_payouts")
        ),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_provider_webhook_events")),
    )
    op.create_table(
        "coin_purchases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "bundle_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("coins", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("client_secret", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="PENDING", nullable=False),
        sa.Column(
            "credit_transaction_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("coins > 0", name=op.f("ck_coin_purchases_coins_positive")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_coin_purchases_amount_positive")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'MISMATCH')",
            name=op.f("ck_coin_purchases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coin_purchases_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["bundle_id"],
            ["coin_bundles.id"],
            name=op.f("fk_coin_purchases_bundle_id_coin_bundles"),
        ),
        sa.ForeignKeyConstraint(
            ["credit_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_coin_purchases_credit_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coin_purchases")),
        sa.UniqueConstraint("payment_intent_id", name=op.f("uq_coin_purchases_payment_intent_id")),
        sa.UniqueConstraint(
            "credit_transaction_id", name=op.f("uq_coin_purchases_credit_transaction_id")
        ),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name=op.f("uq_coin_purchases_user_id_idempotency_key")
        ),
    )


def downgrade() -> None:
    op.drop_table("coin_purchases")

    op.drop_table("provider_webhook_events")
    with op.batch_alter_table("payout_events", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_events_payout")

    op.drop_table("payout_events")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_user_created")
        batch_op.drop_index("ix_payouts_status_next_attempt")
        batch_op.drop_index("ix_payouts_provider_reference")

    op.drop_table("payouts")
