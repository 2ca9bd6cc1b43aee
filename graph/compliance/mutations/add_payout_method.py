"""`addPayoutMethod`: a creator gives the payee fields a provider asks for (`payoutProviders`); the
provider checks them, the method replaces their earlier one and waits for verification."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from compliance.methods import service as methods_service
from compliance.methods.rules import PayeeRefused, field_path
from graph.compliance.types import PayoutMethod
from graph.context import Context
from graph.errors import refusals_as
from providers.errors import ProviderConfigError
from providers.registry import UnknownProvider

MAX_FIELDS = 50
MAX_VALUE_LENGTH = 1_000


@strawberry.enum
class AddPayoutMethodErrorCode(enum.Enum):
    UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
    PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
    MISSING_FIELD = "MISSING_FIELD"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    DUPLICATE_FIELD = "DUPLICATE_FIELD"
    INVALID_FIELD = "INVALID_FIELD"
    """A value the provider refused, for a reason no more precise code below names."""
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
    field: str | None = strawberry.field(description="`provider`, or `fields.<name>`.")
    message: str
    code: AddPayoutMethodErrorCode


@strawberry.input(description="One payee field, named as the provider's `payeeFields` name it.")
class PayeeFieldInput:
    name: str
    value: str


@strawberry.input(description="The provider's payee fields, as `payoutProviders` lists them.")
class AddPayoutMethodInput:
    provider: str = strawberry.field(
        description="A provider's slug: paypal, stripe, sepa, ach, ..."
    )
    fields: list[PayeeFieldInput]


@strawberry.type
class AddPayoutMethodPayload:
    payout_method: PayoutMethod | None
    errors: list[AddPayoutMethodError]


def _code(code: str) -> AddPayoutMethodErrorCode:
    """The code by name; one this enum does not know is a value the provider refused."""
    known = AddPayoutMethodErrorCode.__members__
    return (
        AddPayoutMethodErrorCode[code] if code in known else AddPayoutMethodErrorCode.INVALID_FIELD
    )


def _error(code: str, message: str, field: str | None) -> AddPayoutMethodError:
    return AddPayoutMethodError(field=field, message=message, code=_code(code))


def _refused(*errors: AddPayoutMethodError) -> AddPayoutMethodPayload:
    return AddPayoutMethodPayload(payout_method=None, errors=list(errors))


def _given(input: AddPayoutMethodInput) -> tuple[dict[str, str], list[AddPayoutMethodError]]:
    given: dict[str, str] = {}
    problems: list[AddPayoutMethodError] = []
    if len(input.fields) > MAX_FIELDS:
        problems.append(_error("INVALID_FIELD", f"at most {MAX_FIELDS} fields", "fields"))
        return given, problems
    for item in input.fields:
        name = item.name.strip()[:64]
        if name in given:
            problems.append(
                _error("DUPLICATE_FIELD", "this field is given twice", field_path(name))
            )
        elif len(item.value) > MAX_VALUE_LENGTH:
            problems.append(
                _error("INVALID_FIELD", f"at most {MAX_VALUE_LENGTH} characters", field_path(name))
            )
        else:
            given[name] = item.value
    return given, problems


@refusals_as(AddPayoutMethodPayload, AddPayoutMethodError, _code, payout_method=None)
async def add_payout_method(
    info: Info[Context, None], input: AddPayoutMethodInput
) -> AddPayoutMethodPayload:
    user = await info.context.user()
    slug = input.provider.strip().lower()
    given, problems = _given(input)
    if problems:
        return _refused(*problems)
    registry = info.context.provider_registry()
    try:
        contract = registry.contract(slug)
    except UnknownProvider:
        known = ", ".join(registry.slugs()) or "none"
        return _refused(
            _error(
                "UNKNOWN_PROVIDER",
                f"no payout provider {slug[:40]!r} is registered (known: {known})",
                "provider",
            )
        )
    except ProviderConfigError:
        return _refused(
            _error(
                "PROVIDER_NOT_CONFIGURED",
                f"payout methods for {slug} cannot be added now",
                "provider",
            )
        )
    finally:
        await info.context.release_provider_registry(registry)
    try:
        stored = await methods_service.add_payout_method(
            info.context.compliance, user, contract, given
        )
    except PayeeRefused as exc:
        return _refused(*(_error(p.code, p.message, field_path(p.field)) for p in exc.problems))
    return AddPayoutMethodPayload(payout_method=PayoutMethod.of(stored), errors=[])
