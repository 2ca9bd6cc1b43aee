"""The age gate's arithmetic: a person's age on a given day, and the age of majority where they
live (a default, 18 unless configured, with per-country exceptions from configuration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


def age_on(birth_date: date, today: date) -> int:
    """Whole years lived on `today`. Someone born on 29 February turns a year older on 1 March
    in years without a 29 February."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


@dataclass(frozen=True)
class AgeRule:
    """The age of majority: `default` everywhere except the countries in `by_country`."""

    default: int = 18
    by_country: Mapping[str, int] = field(default_factory=dict)

    def majority_in(self, country: str | None) -> int:
        if country is None:
            return self.default
        return self.by_country.get(country.upper(), self.default)

    def is_adult(self, birth_date: date, country: str | None, today: date) -> bool:
        return age_on(birth_date, today) >= self.majority_in(country)
