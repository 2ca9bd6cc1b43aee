"""`reviewIdentity`: FINANCE approves, rejects or asks for more on a manual identity verification,
or revokes a verification found false; always with a note, never their own."""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry.types import Info

from compliance.identity import service as identity_service
from compliance.identity.service import ReviewDecision
from economy import users
from graph.compliance.types import IdentityVerification
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument
from kernel.clock import utc_today
from kernel.errors import NotFound

IdentityReviewDecision = strawberry.enum(ReviewDecision, description="FINANCE's decision.")


@strawberry.enum
class ReviewIdentityErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    INVALID_NOTE = "INVALID_NOTE"
    INVALID_EXPIRY = "INVALID_EXPIRY"
    SELF_REVIEW = "SELF_REVIEW"
    NOT_PENDING = "NOT_PENDING"


@strawberry.type
class ReviewIdentityError:
    field: str | None
    message: str
    code: ReviewIdentityErrorCode


@strawberry.input
class ReviewIdentityInput:
    user_id: strawberry.ID
    decision: IdentityReviewDecision  # type: ignore[valid-type]
    note: str = strawberry.field(description="Why, for the record and (if not approved) the user.")
    document_expires_on: date | None = strawberry.field(
        default=None, description="APPROVE: the identity document's expiry, if it has one."
    )


@strawberry.type
class ReviewIdentityPayload:
    verification: IdentityVerification | None
    errors: list[ReviewIdentityError]


@refusals_as(ReviewIdentityPayload, ReviewIdentityError, ReviewIdentityErrorCode, verification=None)
async def review_identity(
    info: Info[Context, None], input: ReviewIdentityInput
) -> ReviewIdentityPayload:
    reviewer = await info.context.user()
    eco = info.context.eco
    today = utc_today()
    user_id = id_argument(input.user_id, "User", "userId")
    async with eco.db.read() as conn:
        if await users.by_id(conn, user_id) is None:
            raise NotFound("USER_NOT_FOUND", "no user has this id", "userId")
    record = await identity_service.review(
        info.context.compliance,
        reviewer,
        user_id=user_id,
        decision=ReviewDecision(input.decision),
        note=input.note,
        today=today,
        document_expires_on=input.document_expires_on,
    )
    return ReviewIdentityPayload(verification=IdentityVerification.of(record, today), errors=[])
