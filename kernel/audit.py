"""The append-only audit log (`audit_log`) every domain writes to: who decided what about whom,
when and why; and the one way to append an entry, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Table, func, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.tables import Id, metadata

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("actor_subject", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


async def write_audit_entry(
    conn: AsyncConnection,
    actor: str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry, in the caller's transaction: it commits with the decision or not at
    all. The actor and the target are cut to the column's 255 characters."""
    await conn.execute(
        insert(audit_log).values(
            actor_subject=actor[:255],
            action=str(action),
            target=target[:255],
            details=dict(details or {}),
        )
    )
