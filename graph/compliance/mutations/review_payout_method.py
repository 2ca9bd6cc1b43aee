"""`reviewPayoutMethod`: FINANCE verifies or rejects a creator's payout method, with a note,
never their own."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from compliance.methods import service as methods_service
from graph.compliance.types import PayoutMethod
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument


@strawberry.enum(description="FINANCE's decision on a payout method.")
class PayoutMethodDecision(enum.Enum):
    VERIFY = "VERIFY"
    REJECT = "REJECT"


@strawberry.enum
class ReviewPayoutMethodErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    INVALID_NOTE = "INVALID_NOTE"
    METHOD_NOT_FOUND = "METHOD_NOT_FOUND"
    SELF_REVIEW = "SELF_REVIEW"
    NOT_PENDING = "NOT_PENDING"


@strawberry.type
class ReviewPayoutMethodError:
    field: str | None
    message: str
    code: ReviewPayoutMethodErrorCode


@strawberry.input
class ReviewPayoutMethodInput:
    payout_method_id: strawberry.ID
    decision: PayoutMethodDecision
    note: str


@strawberry.type
class ReviewPayoutMethodPayload:
    payout_method: PayoutMethod | None
    errors: list[ReviewPayoutMethodError]


@refusals_as(
    ReviewPayoutMethodPayload,
    ReviewPayoutMethodError,
    ReviewPayoutMethodErrorCode,
    payout_method=None,
)
async def review_payout_method(
    info: Info[Context, None], input: ReviewPayoutMethodInput
) -> ReviewPayoutMethodPayload:
    reviewer = await info.context.user()
    decided = await methods_service.review_payout_method(
        info.context.compliance,
        reviewer,
        method_id=id_argument(input.payout_method_id, "PayoutMethod", "payoutMethodId"),
        verify=input.decision is PayoutMethodDecision.VERIFY,
        note=input.note,
    )
    return ReviewPayoutMethodPayload(payout_method=PayoutMethod.of(decided), errors=[])
