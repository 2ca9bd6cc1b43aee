"""Payout methods keep their details as fields named by the provider, one row each (a secret one
sealed), instead of one column per built-in provider; bank payouts are `sepa` or `ach`, not `bank`.

The typed columns' values move into `compliance_payout_method_fields` under the names the
built-in providers declare (`email`; `account_id`; `holder_name`, `iban`, `bic`;
`holder_name`, `routing_number`, `account_number`, `account_type`). Sealed values move as they
are, with their key id: nothing is decrypted, so the migration needs no key. The downgrade puts
them back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METHODS = "compliance_payout_methods"
FIELDS = "compliance_payout_method_fields"

PLAIN = [
    # (provider, field name, position, the typed column it came from)
    ("paypal", "email", 0, "email"),
    ("stripe", "account_id", 0, "stripe_account"),
    ("sepa", "holder_name", 0, "holder_name"),
    ("sepa", "bic", 2, "bic"),
    ("ach", "holder_name", 0, "holder_name"),
    ("ach", "routing_number", 1, "routing_number"),
    ("ach", "account_type", 3, "account_type"),
]
SEALED = [("sepa", "iban", 1), ("ach", "account_number", 2)]
"""The secret each rail kept in `secret_ciphertext`."""


def typed_columns() -> list[sa.Column[object]]:
    """The columns 0002 made for the built-in providers (new objects on every call)."""
    return [
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("stripe_account", sa.String(length=80), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("routing_number", sa.String(length=9), nullable=True),
        sa.Column("account_type", sa.String(length=8), nullable=True),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("secret_key_id", sa.String(length=16), nullable=True),
        sa.Column("secret_last4", sa.String(length=4), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        FIELDS,
        sa.Column(
            "method_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=True),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.CheckConstraint(
            "(value IS NOT NULL AND ciphertext IS NULL AND key_id IS NULL AND last4 IS NULL) OR "
            "(value IS NULL AND ciphertext IS NOT NULL AND key_id IS NOT NULL "
            "AND last4 IS NOT NULL)",
            name=op.f("ck_compliance_payout_method_fields_clear_or_sealed"),
        ),
        sa.ForeignKeyConstraint(
            ["method_id"],
            [f"{METHODS}.id"],
            name=op.f("fk_compliance_payout_method_fields_method_id_compliance_payout_methods"),
        ),
        sa.PrimaryKeyConstraint(
            "method_id", "name", name=op.f("pk_compliance_payout_method_fields")
        ),
    )
    op.create_index("ix_compliance_payout_method_fields_key_id", FIELDS, ["key_id"], unique=False)
    for provider, name, position, column in PLAIN:
        op.execute(
            sa.text(
                f"INSERT INTO {FIELDS} (method_id, name, position, value) "  # noqa: S608 - constants
                f"SELECT id, :name, :position, {column} FROM {METHODS} "
                f"WHERE provider = :provider AND {column} IS NOT NULL"
            ).bindparams(name=name, position=position, provider=provider)
        )
    for provider, name, position in SEALED:
        op.execute(
            sa.text(
                f"INSERT INTO {FIELDS} (method_id, name, position, ciphertext, key_id, last4) "  # noqa: S608
                f"SELECT id, :name, :position, secret_ciphertext, secret_key_id, secret_last4 "
                f"FROM {METHODS} WHERE provider = :provider AND secret_ciphertext IS NOT NULL"
            ).bindparams(name=name, position=position, provider=provider)
        )
    # Plain ALTER TABLE ... DROP COLUMN (SQLite has it since 3.35): none of these columns is in
    # an index or a constraint, and the table keeps its partial unique index as it is.
    for typed in typed_columns():
        op.drop_column(METHODS, typed.name)
    # One name per rail: the bank provider's payouts are its rail's (EUR went by SEPA, USD by ACH).
    op.execute(
        sa.text(
            "UPDATE payouts SET provider = CASE currency WHEN 'EUR' THEN 'sepa' ELSE 'ach' END "
            "WHERE provider = 'bank'"
        )
    )
    op.execute(
        sa.text(
            "UPDATE provider_webhook_events SET provider = COALESCE((SELECT p.provider FROM "
            "payouts p WHERE p.id = provider_webhook_events.payout_id), 'sepa') "
            "WHERE provider = 'bank'"
        )
    )


def downgrade() -> None:
    for typed in typed_columns():
        op.add_column(METHODS, typed)
    for provider, name, _position, column in PLAIN:
        op.execute(
            sa.text(
                f"UPDATE {METHODS} SET {column} = (SELECT f.value FROM {FIELDS} f "  # noqa: S608
                f"WHERE f.method_id = {METHODS}.id AND f.name = :name) WHERE provider = :provider"
            ).bindparams(name=name, provider=provider)
        )
    for provider, name, _position in SEALED:
        for target, source in (
            ("secret_ciphertext", "ciphertext"),
            ("secret_key_id", "key_id"),
            ("secret_last4", "last4"),
        ):
            op.execute(
                sa.text(
                    f"UPDATE {METHODS} SET {target} = (SELECT f.{source} FROM {FIELDS} f "  # noqa: S608
                    f"WHERE f.method_id = {METHODS}.id AND f.name = :name) "
                    "WHERE provider = :provider"
                ).bindparams(name=name, provider=provider)
            )
    op.drop_index("ix_compliance_payout_method_fields_key_id", table_name=FIELDS)
    op.drop_table(FIELDS)
    op.execute(sa.text("UPDATE payouts SET provider = 'bank' WHERE provider IN ('sepa', 'ach')"))
    op.execute(
        sa.text(
            "UPDATE provider_webhook_events SET provider = 'bank' WHERE provider IN ('sepa', 'ach')"
        )
    )
