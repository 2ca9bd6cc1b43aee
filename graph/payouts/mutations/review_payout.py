"""FINANCE's and the creator's decisions on a payout: `approvePayout`, `rejectPayout`,
`cancelPayout`, `retryPayout` and `resolvePayout`, sharing one error type and code enum.
"""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from graph.auth import Role
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument
from graph.payouts.types import Payout, PayoutResolution
from payouts import review
from payouts.states import PayoutStatus
from payouts.store import Payout as PayoutRecord


@strawberry.enum
class PayoutReviewErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    PAYOUT_NOT_FOUND = "PAYOUT_NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"
    SELF_APPROVAL = "SELF_APPROVAL"
    PAYOUT_IN_FLIGHT = "PAYOUT_IN_FLIGHT"
    INSUFFICIENT_DIAMONDS = "INSUFFICIENT_DIAMONDS"
    INVALID_REASON = "INVALID_REASON"
    INVALID_OUTCOME = "INVALID_OUTCOME"
    PROVIDER_SAYS_PENDING = "PROVIDER_SAYS_PENDING"
    PROVIDER_SAYS_PAID = "PROVIDER_SAYS_PAID"
    PROVIDER_SAYS_NOT_PAID = "PROVIDER_SAYS_NOT_PAID"
    CANCEL_NOT_CONFIRMED = "CANCEL_NOT_CONFIRMED"
    PROVIDER_UNREACHABLE = "PROVIDER_UNREACHABLE"
    EARLIER_ATTEMPT_UNSETTLED = "EARLIER_ATTEMPT_UNSETTLED"
    EARLIER_ATTEMPT_PAID = "EARLIER_ATTEMPT_PAID"


@strawberry.type
class PayoutReviewError:
    field: str | None
    message: str
    code: PayoutReviewErrorCode


@strawberry.type
class PayoutReviewPayload:
    payout: Payout | None
    errors: list[PayoutReviewError]


@strawberry.input
class PayoutIdInput:
    payout_id: strawberry.ID


@strawberry.input
class RejectPayoutInput:
    payout_id: strawberry.ID
    reason: str


@strawberry.input
class RetryPayoutInput:
    payout_id: strawberry.ID
    reason: str = strawberry.field(description="Why it is tried again (what changed).")


@strawberry.input
class ResolvePayoutInput:
    payout_id: strawberry.ID
    outcome: PayoutResolution
    reason: str = strawberry.field(description="What was confirmed with the provider, and how.")


@refusals_as(PayoutReviewPayload, PayoutReviewError, PayoutReviewErrorCode, payout=None)
async def _decide(
    info: Info[Context, None],
    payout_id: str,
    action: str,
    reason: str = "",
    outcome: PayoutResolution | None = None,
) -> PayoutReviewPayload:
    svc = info.context.payout_service()
    actor = await info.context.user()
    pk = id_argument(payout_id, "Payout", "payoutId")
    done: PayoutRecord
    if action == "approve":
        done = await review.approve_payout(svc, actor, pk)
    elif action == "reject":
        done = await review.reject_payout(svc, actor, pk, reason)
    elif action == "cancel":
        done = await review.cancel_payout(
            svc, actor, pk, on_behalf=info.context.principal.has(Role.FINANCE)
        )
    elif action == "retry":
        done = await review.retry_payout(svc, actor, pk, reason)
    else:
        assert outcome is not None
        done = await review.resolve_payout(svc, actor, pk, PayoutStatus(outcome.value), reason)
    return PayoutReviewPayload(payout=Payout.of(done), errors=[])


async def approve_payout(info: Info[Context, None], input: PayoutIdInput) -> PayoutReviewPayload:
    return await _decide(info, input.payout_id, "approve")


async def reject_payout(info: Info[Context, None], input: RejectPayoutInput) -> PayoutReviewPayload:
    return await _decide(info, input.payout_id, "reject", reason=input.reason)


async def cancel_payout(info: Info[Context, None], input: PayoutIdInput) -> PayoutReviewPayload:
    return await _decide(info, input.payout_id, "cancel")


async def retry_payout(info: Info[Context, None], input: RetryPayoutInput) -> PayoutReviewPayload:
    return await _decide(info, input.payout_id, "retry", reason=input.reason)


async def resolve_payout(
    info: Info[Context, None], input: ResolvePayoutInput
) -> PayoutReviewPayload:
    return await _decide(
        info, input.payout_id, "resolve", reason=input.reason, outcome=input.outcome
    )
