"""`bulkApprovePayouts`: FINANCE approves many payouts at once, each on its own (one transaction
and the four-eyes rule per payout), answered per payout with the payout or its typed errors.
"""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.payouts.mutations.review_payout import PayoutIdInput, PayoutReviewError, approve_payout
from graph.payouts.types import Payout

MAX_BULK_APPROVALS = 100
"""The most payouts one `bulkApprovePayouts` takes."""


@strawberry.enum
class BulkApprovePayoutsErrorCode(enum.Enum):
    NO_PAYOUTS = "NO_PAYOUTS"
    TOO_MANY_PAYOUTS = "TOO_MANY_PAYOUTS"
    DUPLICATE_PAYOUT = "DUPLICATE_PAYOUT"


@strawberry.type
class BulkApprovePayoutsError:
    field: str | None
    message: str
    code: BulkApprovePayoutsErrorCode


@strawberry.input
class BulkApprovePayoutsInput:
    payout_ids: list[strawberry.ID] = strawberry.field(
        description=f"The payouts to approve, at most {MAX_BULK_APPROVALS}, each once."
    )


@strawberry.type(description="What became of one payout of a bulk approval.")
class BulkApprovalResult:
    payout_id: strawberry.ID = strawberry.field(description="The id as it was sent.")
    payout: Payout | None = strawberry.field(description="The payout, approved; null if refused.")
    errors: list[PayoutReviewError] = strawberry.field(
        description="Why this payout was not approved (as `approvePayout` would say)."
    )


@strawberry.type
class BulkApprovePayoutsPayload:
    results: list[BulkApprovalResult] = strawberry.field(
        description="One result per id, in the order sent."
    )
    errors: list[BulkApprovePayoutsError] = strawberry.field(
        description="Why the list itself was refused (then no payout was touched)."
    )


def _list_refusal(payout_ids: list[strawberry.ID]) -> BulkApprovePayoutsError | None:
    """Why the list as a whole cannot be taken, if it cannot."""
    if not payout_ids:
        return BulkApprovePayoutsError(
            field="payoutIds",
            message="choose at least one payout",
            code=BulkApprovePayoutsErrorCode.NO_PAYOUTS,
        )
    if len(payout_ids) > MAX_BULK_APPROVALS:
        return BulkApprovePayoutsError(
            field="payoutIds",
            message=f"approve at most {MAX_BULK_APPROVALS} payouts at once, not {len(payout_ids)}",
            code=BulkApprovePayoutsErrorCode.TOO_MANY_PAYOUTS,
        )
    if len(set(payout_ids)) != len(payout_ids):
        return BulkApprovePayoutsError(
            field="payoutIds",
            message="each payout may be listed once",
            code=BulkApprovePayoutsErrorCode.DUPLICATE_PAYOUT,
        )
    return None


async def bulk_approve_payouts(
    info: Info[Context, None], input: BulkApprovePayoutsInput
) -> BulkApprovePayoutsPayload:
    refused = _list_refusal(input.payout_ids)
    if refused is not None:
        return BulkApprovePayoutsPayload(results=[], errors=[refused])
    results = []
    for payout_id in input.payout_ids:
        one = await approve_payout(info, PayoutIdInput(payout_id=payout_id))
        results.append(
            BulkApprovalResult(payout_id=payout_id, payout=one.payout, errors=one.errors)
        )
    return BulkApprovePayoutsPayload(results=results, errors=[])
