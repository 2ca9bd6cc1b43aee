"""`resolveReconciliationException`: FINANCE closes an exception of a run once it has been dealt
with, with a note saying how (audited); a re-run of the period keeps the resolution.
"""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument
from graph.reconciliation.types import ReconciliationLine
from payouts.reconciliation.review import resolve_exception


@strawberry.enum
class ResolveReconciliationExceptionErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    EXCEPTION_NOT_FOUND = "EXCEPTION_NOT_FOUND"
    NOT_AN_EXCEPTION = "NOT_AN_EXCEPTION"
    ALREADY_RESOLVED = "ALREADY_RESOLVED"
    INVALID_NOTE = "INVALID_NOTE"


@strawberry.type
class ResolveReconciliationExceptionError:
    field: str | None
    message: str
    code: ResolveReconciliationExceptionErrorCode


@strawberry.input
class ResolveReconciliationExceptionInput:
    exception_id: strawberry.ID = strawberry.field(description="A `ReconciliationLine` id.")
    note: str = strawberry.field(description="What was done about it.")


@strawberry.type
class ResolveReconciliationExceptionPayload:
    line: ReconciliationLine | None
    errors: list[ResolveReconciliationExceptionError]


@refusals_as(
    ResolveReconciliationExceptionPayload,
    ResolveReconciliationExceptionError,
    ResolveReconciliationExceptionErrorCode,
    line=None,
)
async def resolve_reconciliation_exception(
    info: Info[Context, None], input: ResolveReconciliationExceptionInput
) -> ResolveReconciliationExceptionPayload:
    pk = id_argument(input.exception_id, "ReconciliationLine", "exceptionId")
    done = await resolve_exception(
        info.context.payout_service(), await info.context.user(), pk, input.note
    )
    return ResolveReconciliationExceptionPayload(line=ReconciliationLine.of(done), errors=[])
