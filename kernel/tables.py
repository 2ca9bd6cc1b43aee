"""The one SQLAlchemy `MetaData` every package's tables join (with its constraint naming
convention, which the migrations rely on), the key column type they share, and how a list's rows
are counted (with the same WHERE as its page).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, FromClause, Integer, MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def count_where(conn: AsyncConnection, rows: FromClause, conditions: Sequence[Any]) -> int:
    """How many of `rows` meet every one of `conditions` (a list's total on every page: pass the
    conditions its page query is built from, without the cursor's)."""
    return int(await conn.scalar(select(func.count()).select_from(rows).where(*conditions)) or 0)
