"""Reading `DIAMONDS_*` environment variables: integers within a range, numbers, booleans, one of
a few words, comma-separated lists and fractions, each problem collected with the variable's name.

Every settings reader uses `EnvReader`, so start-up reports every bad value at once. A value that
is empty or only blanks counts as unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence


def describe_problems(problems: Sequence[str]) -> str:
    """One message listing every problem, one a line."""
    return "invalid configuration:\n  " + "\n  ".join(problems)


def parse_fraction(text: str) -> tuple[int, int] | None:
    """`N/D` (or `N`, meaning `N/1`) with both parts positive whole numbers; None otherwise."""
    numerator, _, denominator = text.partition("/")
    try:
        num, den = int(numerator), int(denominator or "1")
    except ValueError:
        return None
    return (num, den) if num > 0 and den > 0 else None


class EnvReader:
    """Reads variables from one mapping (the process environment by default) and appends what is
    wrong with them to `problems`; the caller raises its own error when `problems` is not empty.

    `prefix` is put before every key: `EnvReader(prefix="DIAMONDS_STRIPE_").name("API_KEY")` is
    `DIAMONDS_STRIPE_API_KEY`. Pass a shared `problems` list to report several readers together.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        problems: list[str] | None = None,
        *,
        prefix: str = "",
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.problems: list[str] = [] if problems is None else problems
        self.prefix = prefix

    def name(self, key: str) -> str:
        """The variable's full name."""
        return self.prefix + key

    def raw(self, key: str) -> str | None:
        """The value without surrounding blanks; None when unset or blank."""
        value = self.env.get(self.name(key))
        return value.strip() if value is not None and value.strip() else None

    def refuse(self, key: str, raw: str, expect: str) -> None:
        """Record that `raw` is not a value `key` accepts: `NAME='raw': expected ...`."""
        self.problems.append(f"{self.name(key)}={raw!r}: expected {expect}")

    def first(self, *keys: str) -> str | None:
        """The value of the first of `keys` that is set."""
        for key in keys:
            raw = self.raw(key)
            if raw is not None:
                return raw
        return None

    def required(self, key: str, *, expect: str | None = None) -> str:
        """A value that must be set (empty string, and a problem, when it is not)."""
        raw = self.raw(key)
        if raw is None:
            if expect is None:
                self.problems.append(f"{self.name(key)}: required")
            else:
                self.problems.append(f"{self.name(key)} is not set: expected {expect}")
            return ""
        return raw

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        """A whole number from `low` to `high` inclusive."""
        value = self.optional_integer(key, low, high)
        return default if value is None else value

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        """A whole number from `low` to `high` inclusive; None when unset or refused."""
        raw = self.raw(key)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.refuse(key, raw, "a whole number")
            return None
        if not low <= value <= high:
            self.refuse(key, raw, f"a number from {low} to {high}")
            return None
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """A number (seconds, or any quantity) from `low` to `high` inclusive."""
        raw = self.raw(key)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # also refuses nan
            self.refuse(key, raw, f"a number from {low} to {high}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """`1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`, in any case."""
        raw = self.raw(key)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self.refuse(key, raw, "true or false")
        return default

    def choice(self, key: str, default: str, choices: Sequence[str]) -> str:
        """One of `choices`, in any case; the choice as spelled in `choices` is returned."""
        raw = self.raw(key)
        if raw is None:
            return default
        for option in choices:
            if raw.lower() == option.lower():
                return option
        if len(choices) == 2:
            self.refuse(key, raw, f"{choices[0]} or {choices[1]}")
        else:
            self.refuse(key, raw, "one of " + ", ".join(choices))
        return default

    def items(self, key: str) -> list[str] | None:
        """A comma-separated list, each item without blanks and empty ones left out; None when the
        variable is absent (set to blanks, it is an empty list)."""
        value = self.env.get(self.name(key))
        if value is None:
            return None
        return [item.strip() for item in value.split(",") if item.strip()]
