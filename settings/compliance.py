"""The compliance settings, read from `DIAMONDS_*` variables and validated with the rest of the
configuration (`settings.service.Settings.compliance`): encryption keys, the age of majority,
the tax rule and withholding rates, sanctions screening, supported countries, reporting
thresholds and Stripe Identity. This module imports only the kernel.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kernel.env import EnvReader

DEV_TIN_KEY = base64.urlsafe_b64encode(b"diamonds-dev-tin-key-not-secret!").decode("ascii")
"""The public development key: TINs sealed with it are not protected. Never with real data."""

_COUNTRY = re.compile(r"^[A-Z]{2}$")
DEFAULT_BLOCKED = frozenset({"CU", "IR", "KP", "SY"})
"""Countries under comprehensive US embargoes."""


@dataclass(frozen=True)
class ComplianceSettings:
    tin_keys: tuple[str, ...] = field(default=(DEV_TIN_KEY,), repr=False)
    """Fernet keys (`DIAMONDS_TIN_KEYS`, comma separated): the first encrypts, all decrypt.
    Unset: the public development key in development, none in production."""
    age_of_majority: int = 18
    age_of_majority_by_country: Mapping[str, int] = field(default_factory=dict)
    """`DIAMONDS_AGE_OF_MAJORITY=18,KR=19,SG=21`: a default, then exceptions by country."""
    tax_form_missing: str = "BLOCK"
    """`BLOCK` payouts without a valid tax form, or `WITHHOLD` backup withholding from them."""
    backup_withholding_bps: int = 2_400
    nonresident_withholding_bps: int = 3_000
    sanctions_threshold: int = 88
    """Name similarity (0-100) from which a sanctions list entry is a possible match."""
    sanctions_list_required: bool = True
    """Without a loaded sanctions list, no payout may go."""
    payout_blocked_countries: frozenset[str] = DEFAULT_BLOCKED
    payout_countries: frozenset[str] = frozenset()
    """Only these countries may be paid; empty: every country not blocked."""
    identity_valid_days: int = 0
    """A verification counts this many days (0: until revoked or its document expires)."""
    report_1099k_threshold_minor: int = 2_000_000
    report_1099k_min_payments: int = 200
    dac7_threshold_minor: int = 200_000
    dac7_min_payments: int = 30
    """DAC7 applies unless a seller has fewer payments than this AND no more than the
    threshold; both 0 report every EU seller."""
    stripe_identity_api_key: str | None = field(default=None, repr=False)
    """`DIAMONDS_STRIPE_IDENTITY_API_KEY`, else the account's `DIAMONDS_STRIPE_API_KEY` (the
    same goes for the API base and the webhook secret)."""
    stripe_identity_api_base: str = "https://api.stripe.com"
    stripe_identity_webhook_secret: str | None = field(default=None, repr=False)
    stripe_identity_return_url: str | None = None

    @property
    def using_dev_tin_key(self) -> bool:
        return bool(self.tin_keys) and self.tin_keys[0] == DEV_TIN_KEY

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], problems: list[str], *, development: bool
    ) -> ComplianceSettings:
        """Read and validate; every problem is appended to `problems`."""

        read = EnvReader(env, problems)

        def url(name: str) -> str | None:
            raw = read.raw(name)
            if raw and not raw.startswith(("http://", "https://")):
                read.refuse(name, raw, "an http:// or https:// URL")
                return None
            return raw

        default_age, by_country = _ages(read)
        rule = read.choice("DIAMONDS_TAX_FORM_MISSING", "BLOCK", ("BLOCK", "WITHHOLD"))
        blocked = _countries(read, "DIAMONDS_PAYOUT_BLOCKED_COUNTRIES", DEFAULT_BLOCKED)
        return cls(
            tin_keys=_tin_keys(read, development),
            age_of_majority=default_age,
            age_of_majority_by_country=by_country,
            tax_form_missing=rule,
            backup_withholding_bps=read.integer(
                "DIAMONDS_BACKUP_WITHHOLDING_BPS", 2_400, 0, 10_000
            ),
            nonresident_withholding_bps=read.integer(
                "DIAMONDS_NONRESIDENT_WITHHOLDING_BPS", 3_000, 0, 10_000
            ),
            sanctions_threshold=read.integer("DIAMONDS_SANCTIONS_THRESHOLD", 88, 50, 100),
            sanctions_list_required=read.boolean("DIAMONDS_SANCTIONS_LIST_REQUIRED", True),
            payout_blocked_countries=blocked,
            payout_countries=_countries(read, "DIAMONDS_PAYOUT_COUNTRIES", frozenset()),
            identity_valid_days=read.integer("DIAMONDS_IDENTITY_VALID_DAYS", 0, 0, 36_500),
            report_1099k_threshold_minor=read.integer(
                "DIAMONDS_1099K_THRESHOLD_MINOR", 2_000_000, 0, 10**12
            ),
            report_1099k_min_payments=read.integer("DIAMONDS_1099K_MIN_PAYMENTS", 200, 0, 10**6),
            dac7_threshold_minor=read.integer("DIAMONDS_DAC7_THRESHOLD_MINOR", 200_000, 0, 10**12),
            dac7_min_payments=read.integer("DIAMONDS_DAC7_MIN_PAYMENTS", 30, 0, 10**6),
            stripe_identity_api_key=read.first(
                "DIAMONDS_STRIPE_IDENTITY_API_KEY", "DIAMONDS_STRIPE_API_KEY"
            ),
            stripe_identity_api_base=url("DIAMONDS_STRIPE_IDENTITY_API_BASE")
            or url("DIAMONDS_STRIPE_API_BASE")
            or "https://api.stripe.com",
            stripe_identity_webhook_secret=read.first(
                "DIAMONDS_STRIPE_IDENTITY_WEBHOOK_SECRET", "DIAMONDS_STRIPE_WEBHOOK_SECRET"
            ),
            stripe_identity_return_url=url("DIAMONDS_STRIPE_IDENTITY_RETURN_URL"),
        )


def _tin_keys(read: EnvReader, development: bool) -> tuple[str, ...]:
    problems = read.problems
    keys = tuple(read.items("DIAMONDS_TIN_KEYS") or ())
    if not keys:
        # Production without keys starts (the API works), but nothing can be encrypted or
        # decrypted: every TIN or account number operation fails, naming the variable.
        return (DEV_TIN_KEY,) if development else ()
    for number, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, ValueError, UnicodeError):
            valid = False
        if not valid:
            problems.append(
                f"DIAMONDS_TIN_KEYS: key {number} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as `Fernet.generate_key()` makes)"
            )
    if len(set(keys)) != len(keys):
        problems.append("DIAMONDS_TIN_KEYS: a key is listed twice")
    return keys


def _ages(read: EnvReader) -> tuple[int, dict[str, int]]:
    default = 18
    by_country: dict[str, int] = {}
    for item in read.items("DIAMONDS_AGE_OF_MAJORITY") or ():
        country, sep, age = item.rpartition("=")
        country = country.strip().upper()
        if (
            not age.strip().isdigit()
            or not 14 <= int(age) <= 25
            or (sep and not _COUNTRY.match(country))
        ):
            read.problems.append(
                f"DIAMONDS_AGE_OF_MAJORITY item {item!r}: expected an age from 14 to 25, "
                "alone (the default) or as CC=AGE for a country"
            )
            continue
        if sep:
            by_country[country] = int(age)
        else:
            default = int(age)
    return default, by_country


def _countries(read: EnvReader, name: str, default: frozenset[str]) -> frozenset[str]:
    items = read.items(name)
    if items is None:
        return default
    codes = frozenset(c.upper() for c in items)
    bad = sorted(c for c in codes if not _COUNTRY.match(c))
    if bad:
        read.problems.append(f"{name}: {', '.join(bad)} are not ISO 3166-1 alpha-2 country codes")
        return default
    return codes
