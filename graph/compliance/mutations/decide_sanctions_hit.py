"""`decideSanctionsHit`: FINANCE clears a possible sanctions match as a false positive (payouts
resume) or confirms it (payouts stay blocked), with a note, never on their own screening."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from compliance.sanctions import service as sanctions_service
from graph.compliance.types import SanctionsHit
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument


@strawberry.enum(description="FINANCE's decision on a possible sanctions match.")
class SanctionsHitDecision(enum.Enum):
    CLEAR = "CLEAR"
    CONFIRM = "CONFIRM"


@strawberry.enum
class DecideSanctionsHitErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    INVALID_NOTE = "INVALID_NOTE"
    HIT_NOT_FOUND = "HIT_NOT_FOUND"
    SELF_REVIEW = "SELF_REVIEW"
    HIT_NOT_OPEN = "HIT_NOT_OPEN"


@strawberry.type
class DecideSanctionsHitError:
    field: str | None
    message: str
    code: DecideSanctionsHitErrorCode


@strawberry.input
class DecideSanctionsHitInput:
    hit_id: strawberry.ID
    decision: SanctionsHitDecision
    note: str


@strawberry.type
class DecideSanctionsHitPayload:
    hit: SanctionsHit | None
    errors: list[DecideSanctionsHitError]


@refusals_as(
    DecideSanctionsHitPayload, DecideSanctionsHitError, DecideSanctionsHitErrorCode, hit=None
)
async def decide_sanctions_hit(
    info: Info[Context, None], input: DecideSanctionsHitInput
) -> DecideSanctionsHitPayload:
    reviewer = await info.context.user()
    decided = await sanctions_service.decide_hit(
        info.context.compliance,
        reviewer,
        hit_id=id_argument(input.hit_id, "SanctionsHit", "hitId"),
        confirm=input.decision is SanctionsHitDecision.CONFIRM,
        note=input.note,
    )
    return DecideSanctionsHitPayload(hit=SanctionsHit.of(decided), errors=[])
