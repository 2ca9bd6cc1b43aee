"""Year-end reporting as plain data: per creator, year and currency, the gross paid, the number of
payouts and the tax withheld, and whether a US Form 1099-K (thresholds configurable, $20,000 and
200 payments by default) or EU DAC7 reporting applies; written out as CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

# fmt: off
EU_MEMBER_STATES = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
})
# fmt: on
"""The 27 member states, whose platforms report sellers under DAC7."""


@dataclass(frozen=True)
class PaidPayout:
    """One paid payout, as the report needs it."""

    user_id: int
    currency: str
    gross_minor: int
    withholding_minor: int
    paid_at: datetime


@dataclass(frozen=True)
class Taxpayer:
    """Who a creator is for tax purposes (from their identity and tax form)."""

    user_id: int
    subject: str
    legal_name: str | None
    country: str | None
    tax_form: str | None
    """`W9`, `W8BEN` or None."""
    tin_last4: str | None


@dataclass(frozen=True)
class Thresholds:
    form_1099k_minor: int = 2_000_000
    form_1099k_payments: int = 200
    dac7_minor: int = 200_000
    dac7_payments: int = 30


@dataclass(frozen=True)
class ReportRow:
    year: int
    user_id: int
    subject: str
    legal_name: str
    country: str
    tax_form: str
    tin_last4: str
    currency: str
    gross_minor: int
    payouts: int
    withholding_minor: int
    form_1099k: bool
    dac7: bool


COLUMNS = (
    "year",
    "user_id",
    "subject",
    "legal_name",
    "country",
    "tax_form",
    "tin_last4",
    "currency",
    "gross_minor",
    "payouts",
    "withholding_minor",
    "form_1099k",
    "dac7",
)


def is_us_person(payee: Taxpayer) -> bool:
    return payee.tax_form == "W9" or (payee.tax_form is None and payee.country == "US")


def summarize(
    year: int,
    payouts: Iterable[PaidPayout],
    payees: Mapping[int, Taxpayer],
    thresholds: Thresholds,
) -> list[ReportRow]:
    """One row per creator and currency for the payouts paid in `year`, ordered by user and
    currency. 1099-K: a US person paid at least the threshold in USD over at least the number of
    payments. DAC7: a seller living in the EU, unless below both de minimis limits."""
    totals: dict[tuple[int, str], list[int]] = {}
    for payout in payouts:
        if payout.paid_at.year != year:
            continue
        gross, count, withheld = totals.setdefault((payout.user_id, payout.currency), [0, 0, 0])
        totals[(payout.user_id, payout.currency)] = [
            gross + payout.gross_minor,
            count + 1,
            withheld + payout.withholding_minor,
        ]
    rows: list[ReportRow] = []
    for (user_id, currency), (gross, count, withheld) in sorted(totals.items()):
        payee = payees.get(user_id) or Taxpayer(user_id, f"user:{user_id}", None, None, None, None)
        form_1099k = (
            is_us_person(payee)
            and currency == "USD"
            and gross >= thresholds.form_1099k_minor
            and count >= thresholds.form_1099k_payments
        )
        below_de_minimis = count < thresholds.dac7_payments and gross <= thresholds.dac7_minor
        dac7 = payee.country in EU_MEMBER_STATES and not below_de_minimis
        rows.append(
            ReportRow(
                year=year,
                user_id=user_id,
                subject=payee.subject,
                legal_name=payee.legal_name or "",
                country=payee.country or "",
                tax_form=payee.tax_form or "",
                tin_last4=payee.tin_last4 or "",
                currency=currency,
                gross_minor=gross,
                payouts=count,
                withholding_minor=withheld,
                form_1099k=form_1099k,
                dac7=dac7,
            )
        )
    return rows


def to_csv(rows: Iterable[ReportRow]) -> str:
    """The rows as CSV with a header line; amounts in minor units, flags as true/false."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = [getattr(row, column) for column in COLUMNS]
        writer.writerow(
            [("true" if v else "false") if isinstance(v, bool) else _safe(v) for v in values]
        )
    return out.getvalue()


def _safe(value: object) -> str:
    """Text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    text = str(value)
    if text and text[0] in "=+-@\t\r" and not isinstance(value, int):
        return "'" + text
    return text
