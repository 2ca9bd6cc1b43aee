"""The one SQLAlchemy `MetaData` every package's tables join (with its constraint naming
convention, which the migrations rely on), and the key column type they share.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
"""Every table of the service, ledger and domain alike; Alembic migrates from it."""

Id = BigInteger().with_variant(Integer(), "sqlite")
"""A 64-bit key on PostgreSQL; SQLite's rowid alias, which must be declared INTEGER."""
