"""The audit log's root field, FINANCE and ADMIN only: `auditLog`, filtered by actor, target,
action and created range, newest first, paged.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from graph.audit.types import AuditEntry
from graph.context import Context
from graph.global_ids import Connection, PageRequest, connection
from graph.inputs import filter_text
from graph.permissions import CanReadAuditLog
from kernel.audit import AuditFilter, audit_entries, count_audit_entries
from kernel.clock import as_utc


@strawberry.type
class AuditQueries:
    @strawberry.field(
        permission_classes=[CanReadAuditLog],
        description="The audit log, newest first: every decision, filtered by who made it "
        "(actor), what it was about (target: a subject or an id as the log keeps it), its kind "
        "(action) and when, `createdAfter` inclusive, `createdBefore` exclusive (FINANCE, ADMIN).",
    )
    async def audit_log(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        action: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Connection[AuditEntry]:
        page = PageRequest.of(first, after)
        where = AuditFilter(
            actor=filter_text(actor or None, argument="actor"),
            target=filter_text(target or None, argument="target"),
            action=filter_text(action or None, argument="action"),
            created_after=as_utc(created_after) if created_after else None,
            created_before=as_utc(created_before) if created_before else None,
        )
        async with info.context.eco.db.read() as conn:
            rows = await audit_entries(conn, where, before_id=page.after, limit=page.limit + 1)
        return connection(
            rows, page, lambda e: e.id, AuditEntry.of, lambda conn: count_audit_entries(conn, where)
        )
