"""Tax forms as plain data: W-9 for US persons, W-8BEN for everyone else (valid until the end of
the third calendar year after signing), whether a creator's form holds on a given day, and the
backup withholding that applies when it does not.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from compliance.tax.tin import TinType, ValidTin, validate_tin
from kernel.errors import DomainError

US = "US"


class TaxFormKind(enum.StrEnum):
    W9 = "W9"
    W8BEN = "W8BEN"


class TaxStatus(enum.StrEnum):
    VALID = "VALID"
    MISSING = "MISSING"
    EXPIRED = "EXPIRED"
    WRONG_FORM = "WRONG_FORM"
    """A W-8BEN from someone who lives in the US: a US resident gives a W-9."""


class MissingFormRule(enum.StrEnum):
    """What happens to a payout when the creator's tax form is missing, expired or wrong."""

    BLOCK = "BLOCK"
    WITHHOLD = "WITHHOLD"
    """Pay, withholding backup withholding (24% US, 30% others)."""


@dataclass(frozen=True)
class TaxForm:
    """A creator's current tax form; the TIN itself stays encrypted in the store."""

    kind: TaxFormKind
    legal_name: str
    country: str
    """Country of tax residence, ISO alpha-2 (US for a W-9)."""
    tin_kind: str
    tin_last4: str
    signed_on: date
    expires_on: date | None


def w8ben_expires_on(signed_on: date) -> date:
    """A W-8BEN stays valid until the last day of the third calendar year after the signing."""
    return date(signed_on.year + 3, 12, 31)


def expiry_of(kind: TaxFormKind, signed_on: date) -> date | None:
    return w8ben_expires_on(signed_on) if kind is TaxFormKind.W8BEN else None


def tax_status(form: TaxForm | None, residence: str | None, today: date) -> TaxStatus:
    if form is None:
        return TaxStatus.MISSING
    if form.expires_on is not None and today > form.expires_on:
        return TaxStatus.EXPIRED
    if form.kind is TaxFormKind.W8BEN and residence == US:
        return TaxStatus.WRONG_FORM
    return TaxStatus.VALID


def backup_withholding_bps(
    status: TaxStatus,
    residence: str | None,
    *,
    us_bps: int,
    nonresident_bps: int,
) -> int:
    """Withholding in basis points: none with a valid form; `us_bps` (24%) for a US person
    without a valid W-9; `nonresident_bps` (30%) for anyone else without a valid W-8BEN."""
    if status is TaxStatus.VALID:
        return 0
    return us_bps if residence == US else nonresident_bps


def withholding_minor(amount_minor: int, bps: int) -> int:
    """Tax withheld from `amount_minor`, rounded up so that never too little is withheld."""
    if amount_minor < 0 or not 0 <= bps <= 10_000:
        raise ValueError("the amount must not be negative and the rate must be 0 to 10000 bps")
    return -(-amount_minor * bps // 10_000)


@dataclass(frozen=True)
class TaxFormSubmission:
    """A checked form, ready to store (the TIN in `tin` is still in clear: encrypt it)."""

    kind: TaxFormKind
    legal_name: str
    country: str
    tin: ValidTin
    signed_on: date
    expires_on: date | None


def check_submission(
    kind: TaxFormKind,
    *,
    legal_name: str,
    country: str,
    tin_type: TinType,
    tin: str,
    certified: bool,
    today: date,
) -> TaxFormSubmission:
    """Validate a form signed `today`. `legal_name` and `country` must already be clean.
    Raises `DomainError`: NOT_CERTIFIED, WRONG_FORM, INVALID_TIN."""
    if not certified:
        raise DomainError(
            "NOT_CERTIFIED",
            "the form must be certified as correct under penalties of perjury",
            "certify",
        )
    if kind is TaxFormKind.W9:
        if tin_type not in (TinType.SSN, TinType.EIN, TinType.ITIN):
            raise DomainError("WRONG_FORM", "a W-9 takes an SSN, an ITIN or an EIN", "tinType")
        if country != US:
            raise DomainError(
                "WRONG_FORM", "a W-9 is for US persons: its country must be US", "country"
            )
    else:
        if country == US:
            raise DomainError(
                "WRONG_FORM", "a W-8BEN is for persons who are not US persons", "country"
            )
        if tin_type in (TinType.SSN, TinType.EIN):
            raise DomainError(
                "WRONG_FORM",
                "a W-8BEN takes the tax id of your country (or a US ITIN)",
                "tinType",
            )
    valid = validate_tin(tin, tin_type, country)
    return TaxFormSubmission(
        kind=kind,
        legal_name=legal_name,
        country=country,
        tin=valid,
        signed_on=today,
        expires_on=expiry_of(kind, today),
    )
