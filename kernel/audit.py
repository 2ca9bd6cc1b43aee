"""The append-only audit log (`audit_log`) every domain writes to: who decided what about whom,
when and why; the one way to append an entry, in the caller's transaction, and the one read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.tables import Id, count_where, metadata

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


@dataclass(frozen=True)
class AuditEntry:
    """One decision as the log keeps it."""

    id: int
    actor: str
    action: str
    target: str
    details: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: each set field must match (the action exactly, `created_*` a
    half-open range `[after, before)`)."""

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _conditions(where: AuditFilter) -> list[Any]:
    c = audit_log.c
    conditions: list[Any] = []
    if where.actor is not None:
        conditions.append(c.actor_subject == where.actor)
    if where.target is not None:
        conditions.append(c.target == where.target)
    if where.action is not None:
        conditions.append(c.action == where.action)
    if where.created_after is not None:
        conditions.append(c.created_at >= where.created_after)
    if where.created_before is not None:
        conditions.append(c.created_at < where.created_before)
    return conditions


async def count_audit_entries(conn: AsyncConnection, where: AuditFilter) -> int:
    """How many entries match `where` (every page of `audit_entries`)."""
    return await count_where(conn, audit_log, _conditions(where))


async def audit_entries(
    conn: AsyncConnection, where: AuditFilter, *, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Up to `limit` entries matching `where`, newest first, older than `before_id`."""
    c = audit_log.c
    query = select(audit_log).where(*_conditions(where))
    if before_id is not None:
        query = query.where(c.id < before_id)
    rows = await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
    return [
        AuditEntry(
            id=int(row.id),
            actor=row.actor_subject,
            action=row.action,
            target=row.target,
            details=dict(row.details or {}),
            created_at=row.created_at,
        )
        for row in rows
    ]
