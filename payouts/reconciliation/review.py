"""FINANCE's decisions on reconciliation exceptions: each is resolved once, with a note saying
what was done about it, and audited."""

from __future__ import annotations

from kernel.actor import Actor
from kernel.audit import write_audit_entry
from kernel.errors import DomainError, NotFound
from kernel.validation import text_field
from payouts.reconciliation.store import Item, load_item, resolve_item
from payouts.service import PayoutService

MAX_NOTE = 500


async def resolve_exception(svc: PayoutService, finance: Actor, item_id: int, note: str) -> Item:
    said = text_field(note, field="note", code="INVALID_NOTE", max_length=MAX_NOTE, what="the note")
    async with svc.eco.db.write() as conn:
        found = await load_item(conn, item_id)
        if found is None:
            raise NotFound("EXCEPTION_NOT_FOUND", "no such reconciliation exception", "exceptionId")
        if not found.is_exception:
            raise DomainError(
                "NOT_AN_EXCEPTION",
                f"this payout is {found.klass.value.lower()}: there is nothing to resolve",
                "exceptionId",
            )
        if not await resolve_item(conn, found, by=finance.subject, note=said):
            raise DomainError(
                "ALREADY_RESOLVED",
                f"this exception was resolved by {found.resolved_by} already",
                "exceptionId",
            )
        await write_audit_entry(
            conn,
            finance.subject,
            "RECONCILIATION_EXCEPTION_RESOLVED",
            f"reconciliation-item:{item_id}",
            {"run": found.run_id, "class": found.klass.value, "note": said},
        )
        done = await load_item(conn, item_id)
        assert done is not None
        return done
