"""`submitTaxForm`: a creator gives a W-9 or a W-8BEN; the TIN is validated and encrypted, and
shown back only as its last four characters."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from compliance.identity import store as identity_store
from compliance.tax import rules as tax_rules
from compliance.tax import service as tax_service
from compliance.tax.tin import TinType as TinTypeValue
from graph.compliance.types import TaxFormKind, TaxProfile
from graph.context import Context
from graph.errors import refusals_as
from kernel.clock import utc_today

TinType = strawberry.enum(TinTypeValue, description="What kind of TIN is given.")


@strawberry.enum
class SubmitTaxFormErrorCode(enum.Enum):
    INVALID_LEGAL_NAME = "INVALID_LEGAL_NAME"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    NOT_CERTIFIED = "NOT_CERTIFIED"
    WRONG_FORM = "WRONG_FORM"
    INVALID_TIN = "INVALID_TIN"


@strawberry.type
class SubmitTaxFormError:
    field: str | None
    message: str
    code: SubmitTaxFormErrorCode


@strawberry.input
class SubmitTaxFormInput:
    form: TaxFormKind  # type: ignore[valid-type]
    legal_name: str
    country: str | None = strawberry.field(
        default=None, description="Country of tax residence; US for a W-9 (the default)."
    )
    tin_type: TinType  # type: ignore[valid-type]
    tin: str = strawberry.field(description="Never shown again; only its last four characters.")
    certify: bool = strawberry.field(
        description="True: the form is correct, certified under penalties of perjury."
    )


@strawberry.type
class SubmitTaxFormPayload:
    tax_profile: TaxProfile | None
    errors: list[SubmitTaxFormError]


@refusals_as(SubmitTaxFormPayload, SubmitTaxFormError, SubmitTaxFormErrorCode, tax_profile=None)
async def submit_tax_form(
    info: Info[Context, None], input: SubmitTaxFormInput
) -> SubmitTaxFormPayload:
    user = await info.context.user()
    kind = tax_rules.TaxFormKind(input.form)
    today = utc_today()
    stored = await tax_service.submit_tax_form(
        info.context.compliance,
        user,
        kind=kind,
        legal_name=input.legal_name,
        country=input.country or ("US" if kind is tax_rules.TaxFormKind.W9 else ""),
        tin_type=TinTypeValue(input.tin_type),
        tin=input.tin,
        certified=input.certify,
        today=today,
    )
    async with info.context.eco.db.read() as conn:
        residence = (await identity_store.load(conn, user.id)).identity.country
    return SubmitTaxFormPayload(tax_profile=TaxProfile.of(stored, residence, today), errors=[])
