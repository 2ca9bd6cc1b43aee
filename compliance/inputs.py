"""Checks of raw compliance input: legal names, countries, dates of birth and review notes.
Each returns the cleaned value or raises a `DomainError` naming the field.
"""

from __future__ import annotations

from datetime import date

import pycountry

from kernel.errors import DomainError
from kernel.validation import text_field

MAX_LEGAL_NAME = 200
MAX_NOTE = 500
OLDEST_BIRTH_YEAR = 1900


def legal_name(value: str, field: str = "legalName") -> str:
    return text_field(
        value,
        field=field,
        code="INVALID_LEGAL_NAME",
        max_length=MAX_LEGAL_NAME,
        what="the legal name",
    )


def country(value: str, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code that names a country."""
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise DomainError(
            "INVALID_COUNTRY", "expected a two-letter ISO 3166-1 country code, like US or DE", field
        )
    return code


def birth_date(value: date, today: date, field: str = "dateOfBirth") -> date:
    if value >= today or value.year < OLDEST_BIRTH_YEAR:
        raise DomainError(
            "INVALID_BIRTH_DATE",
            f"the date of birth must be in the past and after {OLDEST_BIRTH_YEAR}",
            field,
        )
    return value


def note(value: str, field: str = "note") -> str:
    """A reviewer's reason: required, for the record."""
    return text_field(value, field=field, code="INVALID_NOTE", max_length=MAX_NOTE, what="the note")
