"""`startIdentityVerification`: a creator starts verifying their identity, by a FINANCE review of
what they submit (MANUAL) or through Stripe Identity (a session URL and client secret to open)."""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry.types import Info

from compliance.identity import service as identity_service
from compliance.identity.rules import IdentityMethod
from compliance.identity.stripe_identity import StripeIdentity
from graph.compliance.types import IdentityVerification, IdentityVerificationMethod
from graph.context import Context
from graph.errors import refusals_as
from kernel.clock import utc_today
from kernel.errors import DomainError


@strawberry.enum
class StartIdentityVerificationErrorCode(enum.Enum):
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_LEGAL_NAME = "INVALID_LEGAL_NAME"
    INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    ALREADY_VERIFIED = "ALREADY_VERIFIED"
    VERIFICATION_REJECTED = "VERIFICATION_REJECTED"
    VERIFICATION_IN_PROGRESS = "VERIFICATION_IN_PROGRESS"
    METHOD_UNAVAILABLE = "METHOD_UNAVAILABLE"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"


@strawberry.type
class StartIdentityVerificationError:
    field: str | None
    message: str
    code: StartIdentityVerificationErrorCode


@strawberry.input
class StartIdentityVerificationInput:
    method: IdentityVerificationMethod  # type: ignore[valid-type]
    legal_name: str | None = strawberry.field(default=None, description="MANUAL: required.")
    date_of_birth: date | None = strawberry.field(default=None, description="MANUAL: required.")
    country: str | None = strawberry.field(
        default=None, description="MANUAL: country of residence (ISO alpha-2), required."
    )


@strawberry.type
class StartIdentityVerificationPayload:
    verification: IdentityVerification | None
    client_secret: str | None = strawberry.field(
        description="STRIPE_IDENTITY: for Stripe.js's verification modal. Do not store it."
    )
    url: str | None = strawberry.field(description="STRIPE_IDENTITY: the hosted verification page.")
    errors: list[StartIdentityVerificationError]


@refusals_as(
    StartIdentityVerificationPayload,
    StartIdentityVerificationError,
    StartIdentityVerificationErrorCode,
    verification=None,
    client_secret=None,
    url=None,
)
async def start_identity_verification(
    info: Info[Context, None], input: StartIdentityVerificationInput
) -> StartIdentityVerificationPayload:
    user = await info.context.user()
    eco = info.context.eco
    today = utc_today()
    if IdentityMethod(input.method) is IdentityMethod.MANUAL:
        name, born, country = input.legal_name, input.date_of_birth, input.country
        if name is None or born is None or country is None:
            missing = "legalName" if name is None else "dateOfBirth" if born is None else "country"
            raise DomainError(
                "MISSING_FIELD", f"{missing} is required for a manual verification", missing
            )
        record = await identity_service.start_manual(
            info.context.compliance,
            user,
            legal_name=name,
            birth_date=born,
            country=country,
            today=today,
        )
        return StartIdentityVerificationPayload(
            verification=IdentityVerification.of(record, today),
            client_secret=None,
            url=None,
            errors=[],
        )
    verifier = StripeIdentity.of(eco.settings)
    if verifier is None:
        raise DomainError("METHOD_UNAVAILABLE", "Stripe Identity is not configured here", "method")
    try:
        started = await identity_service.start_stripe(info.context.compliance, user, verifier)
    finally:
        await verifier.close()
    return StartIdentityVerificationPayload(
        verification=IdentityVerification.of(started.record, today),
        client_secret=started.client_secret,
        url=started.url,
        errors=[],
    )
