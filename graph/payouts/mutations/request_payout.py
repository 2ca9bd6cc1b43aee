"""`requestPayout`: a creator turns diamonds into money through a provider, once per key."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import refusals_as
from graph.payouts.refusals import for_the_caller, requirement_errors
from graph.payouts.types import Payout
from graph.scalars import BigInt
from payouts.quotes import RequirementsNotMet
from payouts.requests import request_payout
from payouts.service import ProviderNotConfigured


@strawberry.enum
class RequestPayoutErrorCode(enum.Enum):
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
    PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    BELOW_MINIMUM = "BELOW_MINIMUM"
    AMOUNT_TOO_SMALL = "AMOUNT_TOO_SMALL"
    INSUFFICIENT_DIAMONDS = "INSUFFICIENT_DIAMONDS"
    DAILY_CAP_EXCEEDED = "DAILY_CAP_EXCEEDED"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    PAYOUT_BLOCKED = "PAYOUT_BLOCKED"
    IDENTITY_UNVERIFIED = "IDENTITY_UNVERIFIED"
    AGE_UNVERIFIED = "AGE_UNVERIFIED"
    TAX_FORM_MISSING = "TAX_FORM_MISSING"
    TAX_FORM_EXPIRED = "TAX_FORM_EXPIRED"
    SANCTIONS_REVIEW = "SANCTIONS_REVIEW"
    PAYOUT_METHOD_UNVERIFIED = "PAYOUT_METHOD_UNVERIFIED"
    COUNTRY_NOT_SUPPORTED = "COUNTRY_NOT_SUPPORTED"


@strawberry.type
class RequestPayoutError:
    field: str | None
    message: str
    code: RequestPayoutErrorCode


@strawberry.input
class RequestPayoutInput:
    diamonds: BigInt
    provider: str = strawberry.field(
        description="A provider's slug as `payoutProviders` lists them: stripe, paypal, sepa, ..."
    )
    currency: str = strawberry.field(description="ISO 4217, e.g. USD.")
    idempotency_key: str


@strawberry.type
class RequestPayoutPayload:
    payout: Payout | None
    replayed: bool
    errors: list[RequestPayoutError]


@refusals_as(
    RequestPayoutPayload, RequestPayoutError, RequestPayoutErrorCode, payout=None, replayed=False
)
async def request_payout_mutation(
    info: Info[Context, None], input: RequestPayoutInput
) -> RequestPayoutPayload:
    svc = info.context.payout_service()
    creator = await info.context.user()
    try:
        requested = await request_payout(
            svc,
            creator,
            diamonds=int(input.diamonds),
            provider=input.provider,
            currency=input.currency,
            key=input.idempotency_key,
        )
    except RequirementsNotMet as exc:
        errors = requirement_errors(RequestPayoutError, RequestPayoutErrorCode, exc)
        return RequestPayoutPayload(payout=None, replayed=False, errors=errors)
    except ProviderNotConfigured as exc:
        raise for_the_caller(info, exc) from None
    return RequestPayoutPayload(
        payout=Payout.of(requested.payout), replayed=requested.replayed, errors=[]
    )
