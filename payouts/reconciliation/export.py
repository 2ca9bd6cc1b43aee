"""A reconciliation run as CSV for FINANCE's spreadsheets: one line per payout or stray provider
record, both sides' amounts in minor units, the class and the reason, resolutions included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from payouts.reconciliation.store import Item, Run

COLUMNS = (
    "run_id",
    "provider",
    "period_start",
    "period_end",
    "class",
    "payout_id",
    "attempt",
    "provider_reference",
    "currency",
    "our_minor",
    "their_minor",
    "their_fee_minor",
    "our_status",
    "their_status",
    "reason",
    "discrepancy_id",
    "resolved_by",
    "resolved_at",
    "note",
)


def _cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet will not run as a formula."""
    if value is None or isinstance(value, int):
        return "" if value is None else str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def run_csv(run: Run, items: Iterable[Item]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for item in items:
        ours = item.ours or {}
        theirs = item.theirs or {}
        writer.writerow(
            [
                _cell(v)
                for v in (
                    run.id,
                    run.provider,
                    run.period_start.isoformat(),
                    run.period_end.isoformat(),
                    item.klass.value,
                    item.payout_id,
                    item.attempt_number,
                    item.provider_reference,
                    item.currency,
                    item.our_minor,
                    item.their_minor,
                    theirs.get("feeMinor"),
                    ours.get("outcome"),
                    theirs.get("status"),
                    item.reason,
                    item.discrepancy_id,
                    item.resolved_by,
                    item.resolved_at.isoformat() if item.resolved_at else None,
                    item.note,
                )
            ]
        )
    return out.getvalue()
