"""Payout methods as plain data: a creator's details for one provider, checked by that provider
(its `payee_fields` and `validate_payee`), with the secret fields set apart for encryption.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kernel.errors import DomainError
from providers.base import PayoutProvider
from providers.errors import FieldProblem, InvalidPayee

MASK = "••••"
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class PayoutMethodStatus(enum.StrEnum):
    PENDING = "PENDING"
    """Added, waiting for verification (a FINANCE review, or the provider's confirmation)."""
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    """Replaced by a newer method for the same provider."""


PayeeContract = type[PayoutProvider]
"""What a provider declares about payees (`slug`, `payee_fields`, `validate_payee`,
`payee_country`), read from its class: the provider need not be configured here."""


@dataclass(frozen=True)
class MethodField:
    """One validated field of a method, in clear (the store seals a secret one)."""

    name: str
    value: str = field(repr=False)
    secret: bool
    position: int

    @property
    def last4(self) -> str | None:
        return self.value[-4:] if self.secret else None


@dataclass(frozen=True)
class Method:
    """A validated payout method: the provider's normalized fields, in its declared order, and
    what compliance reads from them (the holder's name, the country the account is in)."""

    provider: str
    holder_name: str | None
    country: str | None
    fields: tuple[MethodField, ...]


class PayeeRefused(DomainError):
    """The provider refused the method's details: one problem per bad field, each named
    `fields.<name>` (the first one is the error's own code and field)."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        first = self.problems[0]
        super().__init__(first.code, first.message, field_path(first.field))


def field_path(name: str) -> str:
    """How the API names a payee field in an error: `fields.iban`."""
    return f"fields.{name}"


def validate_method(contract: PayeeContract, given: Mapping[str, str]) -> Method:
    """The provider's check of `given`. Raises `PayeeRefused` naming every bad field (messages
    never repeat a secret value)."""
    try:
        values = contract.validate_payee(given)
    except InvalidPayee as exc:
        raise PayeeRefused(exc.problems) from None
    declared = list(contract.payee_fields)
    fields = tuple(
        MethodField(spec.name, values[spec.name], spec.secret, position)
        for position, spec in enumerate(declared)
        if spec.name in values
    )
    country = contract.payee_country(values)
    if country is not None and not _COUNTRY.match(country):
        # A provider's bug, not the creator's: an unexpected error, logged.
        raise ValueError(f"{contract.slug}: payee_country gave {country!r}, not a country code")
    return Method(
        provider=contract.slug,
        holder_name=values.get("holder_name"),
        country=country,
        fields=fields,
    )


def masked(last4: str | None) -> str:
    return MASK + (last4 or "")


def describe(provider: str, shown: Sequence[str]) -> str:
    """A method as the API shows it: the provider and its fields' values, secret ones masked to
    their last four (`sepa: Erika Mustermann · ••••3000 · COBADEFFXXX`)."""
    return f"{provider}: {' · '.join(shown)}" if shown else provider
