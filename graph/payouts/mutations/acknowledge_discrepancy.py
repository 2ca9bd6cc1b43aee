"""`acknowledgePayoutDiscrepancy`: FINANCE closes a discrepancy flagged on a payout once they have
dealt with it, with a note saying how; its input, payload and error codes.
"""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument
from graph.payouts.types import PayoutDiscrepancy
from payouts import review


@strawberry.enum
class AcknowledgeDiscrepancyErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    DISCREPANCY_NOT_FOUND = "DISCREPANCY_NOT_FOUND"
    ALREADY_ACKNOWLEDGED = "ALREADY_ACKNOWLEDGED"
    INVALID_NOTE = "INVALID_NOTE"


@strawberry.type
class AcknowledgeDiscrepancyError:
    field: str | None
    message: str
    code: AcknowledgeDiscrepancyErrorCode


@strawberry.input
class AcknowledgeDiscrepancyInput:
    discrepancy_id: strawberry.ID
    note: str = strawberry.field(description="What was done about it (recovered, written off...).")


@strawberry.type
class AcknowledgeDiscrepancyPayload:
    discrepancy: PayoutDiscrepancy | None
    errors: list[AcknowledgeDiscrepancyError]


@refusals_as(
    AcknowledgeDiscrepancyPayload,
    AcknowledgeDiscrepancyError,
    AcknowledgeDiscrepancyErrorCode,
    discrepancy=None,
)
async def acknowledge_discrepancy(
    info: Info[Context, None], input: AcknowledgeDiscrepancyInput
) -> AcknowledgeDiscrepancyPayload:
    pk = id_argument(input.discrepancy_id, "PayoutDiscrepancy", "discrepancyId")
    done = await review.acknowledge_discrepancy(
        info.context.payout_service(), await info.context.user(), pk, input.note
    )
    return AcknowledgeDiscrepancyPayload(discrepancy=PayoutDiscrepancy.of(done), errors=[])
