"""`addPayoutMethod`: a creator adds where to be paid through a provider (PayPal email, Stripe
account, SEPA IBAN, ACH account); it replaces their earlier one and waits for verification."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from compliance import methods
from compliance.payout_methods import MethodInput
from economy.errors import DomainError
from graph.compliance.types import PayoutMethod
from graph.context import Context
from graph.errors import payload_errors


@strawberry.enum
class AddPayoutMethodErrorCode(enum.Enum):
    UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_HOLDER_NAME = "INVALID_HOLDER_NAME"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_STRIPE_ACCOUNT = "INVALID_STRIPE_ACCOUNT"
    INVALID_IBAN = "INVALID_IBAN"
    INVALID_BIC = "INVALID_BIC"
    INVALID_ROUTING_NUMBER = "INVALID_ROUTING_NUMBER"
    INVALID_ACCOUNT_NUMBER = "INVALID_ACCOUNT_NUMBER"
    INVALID_ACCOUNT_TYPE = "INVALID_ACCOUNT_TYPE"


@strawberry.type
class AddPayoutMethodError:
    field: str | None
    message: str
    code: AddPayoutMethodErrorCode


@strawberry.input(description="Fill the fields of the chosen provider only.")
class AddPayoutMethodInput:
    provider: str = strawberry.field(description="paypal, stripe, sepa or ach.")
    holder_name: str | None = strawberry.field(default=None, description="sepa, ach.")
    email: str | None = strawberry.field(default=None, description="paypal.")
    stripe_account: str | None = strawberry.field(default=None, description="stripe: acct_...")
    iban: str | None = strawberry.field(default=None, description="sepa.")
    bic: str | None = strawberry.field(default=None, description="sepa; derived when omitted.")
    routing_number: str | None = strawberry.field(default=None, description="ach.")
    account_number: str | None = strawberry.field(default=None, description="ach.")
    account_type: str | None = strawberry.field(default=None, description="ach: checking, savings.")


@strawberry.type
class AddPayoutMethodPayload:
    payout_method: PayoutMethod | None
    errors: list[AddPayoutMethodError]


async def add_payout_method(
    info: Info[Context, None], input: AddPayoutMethodInput
) -> AddPayoutMethodPayload:
    user = await info.context.user()
    raw = MethodInput(
        provider=input.provider,
        holder_name=input.holder_name,
        email=input.email,
        stripe_account=input.stripe_account,
        iban=input.iban,
        bic=input.bic,
        routing_number=input.routing_number,
        account_number=input.account_number,
        account_type=input.account_type,
    )
    try:
        stored = await methods.add_payout_method(info.context.eco, user, raw)
    except DomainError as exc:
        return AddPayoutMethodPayload(
            payout_method=None,
            errors=payload_errors(AddPayoutMethodError, AddPayoutMethodErrorCode, exc),
        )
    return AddPayoutMethodPayload(payout_method=PayoutMethod.of(stored), errors=[])
