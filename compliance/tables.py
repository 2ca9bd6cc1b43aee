"""The compliance tables: identity verifications, tax forms (TINs encrypted), payout methods and
their fields (secret ones encrypted), sanctions lists with their entries, screenings and hits,
and the identity webhook events already applied. Decisions also go to the kernel's `audit_log`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)

from kernel.tables import Id, metadata

identities = Table(
    "compliance_identities",
    metadata,
    Column("user_id", Id, ForeignKey("users.id"), primary_key=True),
    Column("status", String(16), nullable=False, server_default="NOT_STARTED"),
    Column("method", String(16), nullable=True),
    Column("reason", String(500), nullable=True),
    Column("legal_name", String(200), nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("birth_date_verified", Boolean, nullable=False, server_default=text("false")),
    Column("country", String(2), nullable=True),
    Column("provider_session_id", String(255), nullable=True, unique=True),
    Column("submitted_at", DateTime(timezone=True), nullable=True),
    Column("verified_at", DateTime(timezone=True), nullable=True),
    Column("expires_on", Date, nullable=True),
    Column("decided_by", String(255), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("note", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "status IN ('NOT_STARTED', 'PENDING', 'PROCESSING', 'VERIFIED', 'REQUIRES_INPUT', "
        "'REJECTED', 'EXPIRED', 'CANCELED')",
        name="status",
    ),
    CheckConstraint("method IN ('MANUAL', 'STRIPE_IDENTITY')", name="method"),
    Index("ix_compliance_identities_status_method", "status", "method", "submitted_at"),
)

identity_events = Table(
    "compliance_identity_events",
    metadata,
    Column("event_id", String(255), primary_key=True),
    Column("type", String(100), nullable=False),
    Column("session_id", String(255), nullable=True),
    Column("outcome", String(32), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""Stripe Identity webhook events already handled: a redelivery is acknowledged, not applied."""

tax_forms = Table(
    "compliance_tax_forms",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("legal_name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("tin_kind", String(24), nullable=False),
    Column("tin_ciphertext", Text, nullable=False),
    Column("tin_key_id", String(16), nullable=False),
    Column("tin_last4", String(4), nullable=False),
    Column("tin_checked", Boolean, nullable=False),
    Column("signed_on", Date, nullable=False),
    Column("expires_on", Date, nullable=True),
    Column("submitted_by", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("superseded_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("kind IN ('W9', 'W8BEN')", name="kind"),
    Index(
        "uq_compliance_tax_forms_current",
        "user_id",
        unique=True,
        postgresql_where=text("superseded_at IS NULL"),
        sqlite_where=text("superseded_at IS NULL"),
    ),
    Index("ix_compliance_tax_forms_user", "user_id", "id"),
)

payout_methods = Table(
    "compliance_payout_methods",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="PENDING"),
    Column("holder_name", String(140), nullable=True),
    Column("country", String(2), nullable=True),
    Column("decided_by", String(255), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("note", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("removed_at", DateTime(timezone=True), nullable=True),
    CheckConstraint("status IN ('PENDING', 'VERIFIED', 'REJECTED', 'REMOVED')", name="status"),
    Index(
        "uq_compliance_payout_methods_current",
        "user_id",
        "provider",
        unique=True,
        postgresql_where=text("status <> 'REMOVED'"),
        sqlite_where=text("status <> 'REMOVED'"),
    ),
    Index("ix_compliance_payout_methods_status", "status", "id"),
)

payout_method_fields = Table(
    "compliance_payout_method_fields",
    metadata,
    Column("method_id", Id, ForeignKey("compliance_payout_methods.id"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("position", SmallInteger, nullable=False),
    Column("value", String(500), nullable=True),  # providers.base.MAX_FIELD_LENGTH
    Column("ciphertext", Text, nullable=True),
    Column("key_id", String(16), nullable=True),
    Column("last4", String(4), nullable=True),
    CheckConstraint(
        "(value IS NOT NULL AND ciphertext IS NULL AND key_id IS NULL AND last4 IS NULL) OR "
        "(value IS NULL AND ciphertext IS NOT NULL AND key_id IS NOT NULL AND last4 IS NOT NULL)",
        name="clear_or_sealed",
    ),
    Index("ix_compliance_payout_method_fields_key_id", "key_id"),
)
"""A payout method's details, one row per field its provider declares: a plain field's `value`,
or a secret field's Fernet `ciphertext` with the sealing key's id and the `last4` shown."""

sanctions_lists = Table(
    "compliance_sanctions_lists",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("entries", Integer, nullable=False),
    Column("loaded_by", String(255), nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""One row per list version; the newest (highest id) is the one in force."""

sanctions_entries = Table(
    "compliance_sanctions_entries",
    metadata,
    Column("list_id", Id, ForeignKey("compliance_sanctions_lists.id"), primary_key=True),
    Column("uid", Integer, primary_key=True),
    Column("name", String(350), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("programs", JSON, nullable=False),
    Column("aliases", JSON, nullable=False),
    Column("countries", JSON, nullable=False),
    Column("remarks", Text, nullable=False),
)

screenings = Table(
    "compliance_screenings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("list_id", Id, ForeignKey("compliance_sanctions_lists.id"), nullable=False),
    Column("names", JSON, nullable=False),
    Column("country", String(2), nullable=True),
    Column("result", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("result IN ('CLEAR', 'POSSIBLE_MATCH')", name="result"),
    Index("ix_compliance_screenings_user", "user_id", "id"),
)

sanctions_hits = Table(
    "compliance_sanctions_hits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("screening_id", Id, ForeignKey("compliance_screenings.id"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id"), nullable=False),
    Column("list_id", Id, ForeignKey("compliance_sanctions_lists.id"), nullable=False),
    Column("entry_uid", Integer, nullable=False),
    Column("entry_name", String(350), nullable=False),
    Column("matched_name", String(350), nullable=False),
    Column("screened_name", String(200), nullable=False),
    Column("score", SmallInteger, nullable=False),
    Column("country_match", Boolean, nullable=True),
    Column("status", String(16), nullable=False, server_default="OPEN"),
    Column("decided_by", String(255), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("note", String(500), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('OPEN', 'CLEARED', 'CONFIRMED', 'SUPERSEDED')", name="status"),
    CheckConstraint("score BETWEEN 0 AND 100", name="score"),
    Index("ix_compliance_sanctions_hits_status", "status", "id"),
    Index("ix_compliance_sanctions_hits_screening", "screening_id"),
    Index("ix_compliance_sanctions_hits_user", "user_id", "entry_uid"),
)
