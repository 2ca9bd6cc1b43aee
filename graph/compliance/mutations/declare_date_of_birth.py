"""`declareDateOfBirth`: a person states their date of birth and country; buying coins needs an
adult (the age of majority where they live). Payouts need a verified date instead."""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry.types import Info

from compliance.gate import service as gate_service
from compliance.gate.rules import RequirementCode
from compliance.identity import service as identity_service
from graph.compliance.types import PayoutRequirement
from graph.context import Context
from graph.errors import refusals_as
from kernel.clock import utc_today


@strawberry.enum
class DeclareDateOfBirthErrorCode(enum.Enum):
    INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    ALREADY_VERIFIED = "ALREADY_VERIFIED"


@strawberry.type
class DeclareDateOfBirthError:
    field: str | None
    message: str
    code: DeclareDateOfBirthErrorCode


@strawberry.input
class DeclareDateOfBirthInput:
    date_of_birth: date
    country: str = strawberry.field(description="Country of residence, ISO alpha-2.")


@strawberry.type
class DeclareDateOfBirthPayload:
    may_buy_coins: bool
    requirements: list[PayoutRequirement]
    errors: list[DeclareDateOfBirthError]


@refusals_as(
    DeclareDateOfBirthPayload,
    DeclareDateOfBirthError,
    DeclareDateOfBirthErrorCode,
    may_buy_coins=False,
    requirements=[],
)
async def declare_date_of_birth(
    info: Info[Context, None], input: DeclareDateOfBirthInput
) -> DeclareDateOfBirthPayload:
    user = await info.context.user()
    eco = info.context.eco
    today = utc_today()
    await identity_service.declare_birth_date(
        info.context.compliance,
        user,
        birth_date=input.date_of_birth,
        country=input.country,
        today=today,
    )
    async with eco.db.read() as conn:
        decision = await gate_service.check_coin_purchase(
            conn, user_id=user.id, today=today, settings=eco.settings
        )
    return DeclareDateOfBirthPayload(
        may_buy_coins=decision.eligible,
        requirements=[
            PayoutRequirement(code=RequirementCode(r.code), message=r.message)
            for r in decision.requirements
        ],
        errors=[],
    )
