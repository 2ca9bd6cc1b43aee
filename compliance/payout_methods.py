"""Payout methods as plain data: the providers a creator can be paid through and what each needs
(`paypal` an email, `stripe` a connected account id, `sepa` an IBAN and BIC checked with
schwifty, `ach` a routing number checked with python-stdnum, an account number and its type),
validated, with the sensitive part (an IBAN, an account number) set apart for encryption.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)
from stdnum import exceptions as stdnum_errors
from stdnum.us import rtn

from economy.errors import DomainError


class PayoutMethodStatus(enum.StrEnum):
    PENDING = "PENDING"
    """Added, waiting for verification (a FINANCE review, or the provider's confirmation)."""
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    """Replaced by a newer method for the same provider."""


PROVIDERS = ("paypal", "stripe", "sepa", "ach")
ACCOUNT_TYPES = ("checking", "savings")

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}$")
_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
_ACCOUNT_NUMBER = re.compile(r"^[0-9]{4,17}$")
MAX_HOLDER_NAME = 140


@dataclass(frozen=True)
class MethodInput:
    """What a creator typed; only the fields of the chosen provider are read."""

    provider: str
    holder_name: str | None = None
    email: str | None = None
    stripe_account: str | None = None
    iban: str | None = field(default=None, repr=False)
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = field(default=None, repr=False)
    account_type: str | None = None


@dataclass(frozen=True)
class Method:
    """A validated payout method. `secret` (an IBAN or an ACH account number) is in clear here:
    the store encrypts it and keeps only `secret_last4` readable."""

    provider: str
    holder_name: str | None
    country: str | None
    email: str | None = None
    stripe_account: str | None = None
    bic: str | None = None
    routing_number: str | None = None
    account_type: str | None = None
    secret: str | None = field(default=None, repr=False)

    @property
    def secret_last4(self) -> str | None:
        return None if self.secret is None else self.secret[-4:]


def _required(value: str | None, name: str, what: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise DomainError("MISSING_FIELD", f"{what} is required for this provider", name)
    return cleaned


def _holder(value: str | None) -> str:
    name = _required(value, "holderName", "the account holder's name")
    if len(name) > MAX_HOLDER_NAME or not name.isprintable():
        raise DomainError(
            "INVALID_HOLDER_NAME",
            f"the account holder's name must be 1 to {MAX_HOLDER_NAME} printable characters",
            "holderName",
        )
    return name


def validate_method(raw: MethodInput) -> Method:
    """Raises `DomainError`: UNKNOWN_PROVIDER, MISSING_FIELD, INVALID_HOLDER_NAME, INVALID_EMAIL,
    INVALID_STRIPE_ACCOUNT, INVALID_IBAN, INVALID_BIC, INVALID_ROUTING_NUMBER,
    INVALID_ACCOUNT_NUMBER or INVALID_ACCOUNT_TYPE. Messages never repeat account numbers."""
    provider = raw.provider.strip().lower()
    if provider == "paypal":
        email = _required(raw.email, "email", "the PayPal email address")
        if len(email) > 254 or not _EMAIL.match(email):
            raise DomainError("INVALID_EMAIL", "this is not an email address", "email")
        return Method(provider, holder_name=None, country=None, email=email.lower())
    if provider == "stripe":
        account = _required(raw.stripe_account, "stripeAccount", "the Stripe account id")
        if not _STRIPE_ACCOUNT.match(account):
            raise DomainError(
                "INVALID_STRIPE_ACCOUNT",
                "a Stripe connected account id looks like acct_1A2b3C4d5E6f7G8h",
                "stripeAccount",
            )
        return Method(provider, holder_name=None, country=None, stripe_account=account)
    if provider == "sepa":
        return _sepa(raw)
    if provider == "ach":
        return _ach(raw)
    raise DomainError(
        "UNKNOWN_PROVIDER",
        f"unknown payout provider {raw.provider[:40]!r}; choose one of {', '.join(PROVIDERS)}",
        "provider",
    )


def _sepa(raw: MethodInput) -> Method:
    holder = _holder(raw.holder_name)
    try:
        iban = IBAN(_required(raw.iban, "iban", "the IBAN"))
    except SchwiftyException as exc:
        raise DomainError(
            "INVALID_IBAN", f"this is not a valid IBAN: {_plain(exc)}", "iban"
        ) from None
    if not iban.in_sepa_zone:
        raise DomainError(
            "INVALID_IBAN", f"IBANs of {iban.country_code} cannot receive SEPA transfers", "iban"
        )
    if raw.bic and raw.bic.strip():
        try:
            bic = BIC(raw.bic.strip())
        except SchwiftyException as exc:
            raise DomainError(
                "INVALID_BIC", f"this is not a valid BIC: {_plain(exc)}", "bic"
            ) from None
    else:
        derived = iban.bic
        if derived is None:
            raise DomainError(
                "MISSING_FIELD", "the BIC is required: it cannot be derived from this IBAN", "bic"
            )
        bic = derived
    return Method(
        "sepa",
        holder_name=holder,
        country=iban.country_code,
        bic=str(bic.compact),
        secret=str(iban.compact),
    )


def _plain(exc: SchwiftyException) -> str:
    """Why schwifty refused, in our words: some of its messages repeat the number."""
    if isinstance(exc, InvalidChecksumDigits | InvalidBBANChecksum):
        return "its check digits are wrong"
    if isinstance(exc, InvalidLength):
        return "it has the wrong length"
    if isinstance(exc, InvalidCountryCode):
        return "its country code is unknown"
    return "it has the wrong format"


def _ach(raw: MethodInput) -> Method:
    holder = _holder(raw.holder_name)
    routing = re.sub(
        r"[\s-]", "", _required(raw.routing_number, "routingNumber", "the routing number")
    )
    try:
        rtn.validate(routing)
    except stdnum_errors.ValidationError:
        raise DomainError(
            "INVALID_ROUTING_NUMBER",
            "this is not a valid ABA routing number (9 digits with a check digit)",
            "routingNumber",
        ) from None
    account = re.sub(
        r"[\s-]", "", _required(raw.account_number, "accountNumber", "the account number")
    )
    if not _ACCOUNT_NUMBER.match(account):
        raise DomainError(
            "INVALID_ACCOUNT_NUMBER", "an account number is 4 to 17 digits", "accountNumber"
        )
    kind = _required(raw.account_type, "accountType", "the account type").lower()
    if kind not in ACCOUNT_TYPES:
        raise DomainError(
            "INVALID_ACCOUNT_TYPE", "the account type is checking or savings", "accountType"
        )
    return Method(
        "ach",
        holder_name=holder,
        country="US",
        routing_number=routing,
        account_type=kind,
        secret=account,
    )


def describe(
    provider: str,
    *,
    email: str | None,
    stripe_account: str | None,
    bic: str | None,
    routing_number: str | None,
    account_type: str | None,
    secret_last4: str | None,
) -> str:
    """A method as the API shows it, with account numbers masked to their last four."""
    if provider == "paypal" and email:
        local, _, domain = email.partition("@")
        return f"PayPal {local[:1]}•••@{domain}"
    if provider == "stripe" and stripe_account:
        return f"Stripe {stripe_account}"
    if provider == "sepa":
        return f"SEPA IBAN ••••{secret_last4 or ''} ({bic or 'no BIC'})"
    if provider == "ach":
        return f"ACH {account_type or ''} ••••{secret_last4 or ''} (routing {routing_number or ''})"
    return provider
