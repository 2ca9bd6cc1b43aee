"""GraphQL type of the audit log: `AuditEntry`, one decision (who, what, about whom, when, and its
details as JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from graph.global_ids import to_global_id
from graph.scalars import utc
from kernel.audit import AuditEntry as AuditRecord


@strawberry.type(description="One decision in the append-only audit log.")
class AuditEntry:
    id: strawberry.ID
    actor: str = strawberry.field(description="Who decided: a subject, or the service's name.")
    action: str = strawberry.field(
        description="What kind of decision (PAYOUT_APPROVED, GRANT_COINS, ...)."
    )
    target: str = strawberry.field(
        description="What it was about: a payout's id, a person's subject..."
    )
    details: JSON = strawberry.field(description="What the decision recorded (reason, note...).")
    created_at: datetime

    @classmethod
    def of(cls, entry: AuditRecord) -> AuditEntry:
        return cls(
            id=to_global_id("AuditEntry", entry.id),
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            details=cast(JSON, dict(entry.details)),
            created_at=utc(entry.created_at),
        )
