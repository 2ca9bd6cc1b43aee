"""`payoutQuote`: what cashing out some diamonds would pay the caller (gross, fee, withholding,
net), checked as `requestPayout` checks it; a read that holds and records nothing.
"""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import refusals_as
from graph.payouts.refusals import for_the_caller, requirement_errors
from graph.scalars import BigInt
from payouts.quotes import Quote, RequirementsNotMet, quote_payout
from payouts.service import ProviderNotConfigured


@strawberry.enum
class PayoutQuoteErrorCode(enum.Enum):
    INVALID_AMOUNT = "INVALID_AMOUNT"
    UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
    PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    BELOW_MINIMUM = "BELOW_MINIMUM"
    AMOUNT_TOO_SMALL = "AMOUNT_TOO_SMALL"
    PAYOUT_BLOCKED = "PAYOUT_BLOCKED"
    IDENTITY_UNVERIFIED = "IDENTITY_UNVERIFIED"
    AGE_UNVERIFIED = "AGE_UNVERIFIED"
    TAX_FORM_MISSING = "TAX_FORM_MISSING"
    TAX_FORM_EXPIRED = "TAX_FORM_EXPIRED"
    SANCTIONS_REVIEW = "SANCTIONS_REVIEW"
    PAYOUT_METHOD_UNVERIFIED = "PAYOUT_METHOD_UNVERIFIED"
    COUNTRY_NOT_SUPPORTED = "COUNTRY_NOT_SUPPORTED"


@strawberry.type
class PayoutQuoteError:
    field: str | None
    message: str
    code: PayoutQuoteErrorCode


@strawberry.type(
    description="What a payout of some diamonds pays, in minor units of `currency`: "
    "`requestPayout` of the same diamonds, provider and currency books these amounts."
)
class PayoutQuote:
    diamonds: BigInt
    provider: str
    currency: str
    gross: BigInt = strawberry.field(description="What the diamonds are worth, minor units.")
    fee: BigInt = strawberry.field(description="The provider's fee, passed through.")
    withholding: BigInt = strawberry.field(description="Tax withheld (backup withholding).")
    net: BigInt = strawberry.field(description="What the creator would receive.")

    @classmethod
    def of(cls, quote: Quote, provider: str) -> PayoutQuote:
        return cls(
            diamonds=BigInt(quote.diamonds),
            provider=provider,
            currency=quote.currency,
            gross=BigInt(quote.gross_minor),
            fee=BigInt(quote.fee_minor),
            withholding=BigInt(quote.withholding_minor),
            net=BigInt(quote.net_minor),
        )


@strawberry.type
class PayoutQuotePayload:
    quote: PayoutQuote | None
    errors: list[PayoutQuoteError]


@refusals_as(PayoutQuotePayload, PayoutQuoteError, PayoutQuoteErrorCode, quote=None)
async def payout_quote(
    info: Info[Context, None], provider: str, diamonds: BigInt, currency: str = "USD"
) -> PayoutQuotePayload:
    svc = info.context.payout_service()
    creator = await info.context.user()
    try:
        quote = await quote_payout(
            svc, creator, diamonds=int(diamonds), provider=provider, currency=currency
        )
    except RequirementsNotMet as exc:
        errors = requirement_errors(PayoutQuoteError, PayoutQuoteErrorCode, exc)
        return PayoutQuotePayload(quote=None, errors=errors)
    except ProviderNotConfigured as exc:
        raise for_the_caller(info, exc) from None
    return PayoutQuotePayload(quote=PayoutQuote.of(quote, provider), errors=[])
