"""Compliance: identity verifications, tax forms (TINs encrypted), payout methods (account numbers
encrypted), sanctions list versions with their entries, screenings and hits, the identity webhook
events applied; and triggers that keep `audit_log` append-only.

Chained after 0003 (payouts), which was written against 0001 first: one head, one line.

Revision ID: 0002
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_MESSAGE = "audit_log is append-only"

POSTGRES_APPEND_ONLY = (
    """
    CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END;
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
)
SQLITE_APPEND_ONLY = tuple(
    f"""
    CREATE TRIGGER audit_log_no_{verb.lower()}
    BEFORE {verb} ON audit_log
    BEGIN
        SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}');
    END
    """
    for verb in ("UPDATE", "DELETE")
)


def upgrade() -> None:
    op.create_table(
        "compliance_identity_events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("session_id", sa.String(length=255), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_compliance_identity_events")),
    )
    op.create_table(
        "compliance_sanctions_lists",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("loaded_by", sa.String(length=255), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_sanctions_lists")),
        sa.UniqueConstraint("digest", name=op.f("uq_compliance_sanctions_lists_digest")),
    )
    op.create_table(
        "compliance_sanctions_entries",
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=350), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("remarks", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["compliance_sanctions_lists.id"],
            name=op.f("fk_compliance_sanctions_entries_list_id_compliance_sanctions_lists"),
        ),
        sa.PrimaryKeyConstraint("list_id", "uid", name=op.f("pk_compliance_sanctions_entries")),
    )
    op.create_table(
        "compliance_identities",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="NOT_STARTED", nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("legal_name", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("birth_date_verified", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("provider_session_id", sa.String(length=255), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "method IN ('MANUAL', 'STRIPE_IDENTITY')", name=op.f("ck_compliance_identities_method")
        ),
        sa.CheckConstraint(
            "status IN ('NOT_STARTED', 'PENDING', 'PROCESSING', 'VERIFIED', 'REQUIRES_INPUT', "
            "'REJECTED', 'EXPIRED', 'CANCELED')",
            name=op.f("ck_compliance_identities_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_compliance_identities_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_compliance_identities")),
        sa.UniqueConstraint(
            "provider_session_id", name=op.f("uq_compliance_identities_provider_session_id")
        ),
    )
    op.create_index(
        "ix_compliance_identities_status_method",
        "compliance_identities",
        ["status", "method", "submitted_at"],
        unique=False,
    )
    op.create_table(
        "compliance_payout_methods",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="PENDING", nullable=False),
        sa.Column("holder_name", sa.String(length=140), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("stripe_account", sa.String(length=80), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("routing_number", sa.String(length=9), nullable=True),
        sa.Column("account_type", sa.String(length=8), nullable=True),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("secret_key_id", sa.String(length=16), nullable=True),
        sa.Column("secret_last4", sa.String(length=4), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'VERIFIED', 'REJECTED', 'REMOVED')",
            name=op.f("ck_compliance_payout_methods_status"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_compliance_payout_methods_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_payout_methods")),
    )
    op.create_index(
        "ix_compliance_payout_methods_status",
        "compliance_payout_methods",
        ["status", "id"],
        unique=False,
    )
    op.create_index(
        "uq_compliance_payout_methods_current",
        "compliance_payout_methods",
        ["user_id", "provider"],
        unique=True,
        postgresql_where=sa.text("status <> 'REMOVED'"),
        sqlite_where=sa.text("status <> 'REMOVED'"),
    )
    op.create_table(
        "compliance_screenings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "result IN ('CLEAR', 'POSSIBLE_MATCH')", name=op.f("ck_compliance_screenings_result")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["compliance_sanctions_lists.id"],
            name=op.f("fk_compliance_screenings_list_id_compliance_sanctions_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_compliance_screenings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_screenings")),
    )
    op.create_index(
        "ix_compliance_screenings_user", "compliance_screenings", ["user_id", "id"], unique=False
    )
    op.create_table(
        "compliance_tax_forms",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tin_kind", sa.String(length=24), nullable=False),
        sa.Column("tin_ciphertext", sa.Text(), nullable=False),
        sa.Column("tin_key_id", sa.String(length=16), nullable=False),
        sa.Column("tin_last4", sa.String(length=4), nullable=False),
        sa.Column("tin_checked", sa.Boolean(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("submitted_by", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('W9', 'W8BEN')", name=op.f("ck_compliance_tax_forms_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_compliance_tax_forms_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_tax_forms")),
    )
    op.create_index(
        "ix_compliance_tax_forms_user", "compliance_tax_forms", ["user_id", "id"], unique=False
    )
    op.create_index(
        "uq_compliance_tax_forms_current",
        "compliance_tax_forms",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
        sqlite_where=sa.text("superseded_at IS NULL"),
    )
    op.create_table(
        "compliance_sanctions_hits",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "screening_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_uid", sa.Integer(), nullable=False),
        sa.Column("entry_name", sa.String(length=350), nullable=False),
        sa.Column("matched_name", sa.String(length=350), nullable=False),
        sa.Column("screened_name", sa.String(length=200), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("country_match", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="OPEN", nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('OPEN', 'CLEARED', 'CONFIRMED', 'SUPERSEDED')",
            name=op.f("ck_compliance_sanctions_hits_status"),
        ),
        sa.CheckConstraint(
            "score BETWEEN 0 AND 100", name=op.f("ck_compliance_sanctions_hits_score")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["compliance_sanctions_lists.id"],
            name=op.f("fk_compliance_sanctions_hits_list_id_compliance_sanctions_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["screening_id"],
            ["compliance_screenings.id"],
            name=op.f("fk_compliance_sanctions_hits_screening_id_compliance_screenings"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_compliance_sanctions_hits_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_sanctions_hits")),
    )
    op.create_index(
        "ix_compliance_sanctions_hits_screening",
        "compliance_sanctions_hits",
        ["screening_id"],
        unique=False,
    )
    op.create_index(
        "ix_compliance_sanctions_hits_status",
        "compliance_sanctions_hits",
        ["status", "id"],
        unique=False,
    )
    op.create_index(
        "ix_compliance_sanctions_hits_user",
        "compliance_sanctions_hits",
        ["user_id", "entry_uid"],
        unique=False,
    )

    statements = (
        POSTGRES_APPEND_ONLY if op.get_bind().dialect.name == "postgresql" else SQLITE_APPEND_ONLY
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    op.drop_index("ix_compliance_sanctions_hits_user", table_name="compliance_sanctions_hits")
    op.drop_index("ix_compliance_sanctions_hits_status", table_name="compliance_sanctions_hits")
    op.drop_index("ix_compliance_sanctions_hits_screening", table_name="compliance_sanctions_hits")
    op.drop_table("compliance_sanctions_hits")
    op.drop_index(
        "uq_compliance_tax_forms_current",
        table_name="compliance_tax_forms",
        postgresql_where=sa.text("superseded_at IS NULL"),
        sqlite_where=sa.text("superseded_at IS NULL"),
    )
    op.drop_index("ix_compliance_tax_forms_user", table_name="compliance_tax_forms")
    op.drop_table("compliance_tax_forms")
    op.drop_index("ix_compliance_screenings_user", table_name="compliance_screenings")
    op.drop_table("compliance_screenings")
    op.drop_index(
        "uq_compliance_payout_methods_current",
        table_name="compliance_payout_methods",
        postgresql_where=sa.text("status <> 'REMOVED'"),
        sqlite_where=sa.text("status <> 'REMOVED'"),
    )
    op.drop_index("ix_compliance_payout_methods_status", table_name="compliance_payout_methods")
    op.drop_table("compliance_payout_methods")
    op.drop_index("ix_compliance_identities_status_method", table_name="compliance_identities")
    op.drop_table("compliance_identities")
    op.drop_table("compliance_sanctions_entries")
    op.drop_table("compliance_sanctions_lists")
    op.drop_table("compliance_identity_events")
