"""Payouts as CSV for FINANCE: the whole filtered list in the order asked, one row per payout with
its creator, amounts (integers: diamonds and minor units) and provider reference.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy.ext.asyncio import AsyncConnection

from economy.users import by_ids
from payouts.queries import PayoutFilter, PayoutOrder, payouts_page

MAX_EXPORT_ROWS = 10_000
"""The most payouts one export holds; a larger list is cut there (narrow the filter)."""

CSV_COLUMNS = (
    "payout_id",
    "created_at",
    "status",
    "creator",
    "provider",
    "provider_reference",
    "currency",
    "diamonds",
    "gross_minor",
    "fee_minor",
    "withholding_minor",
    "net_minor",
    "paid_at",
)

BATCH = 500


async def payouts_csv(
    conn: AsyncConnection, where: PayoutFilter, order: PayoutOrder = PayoutOrder.NEWEST
) -> str:
    """Every payout matching `where` (up to `MAX_EXPORT_ROWS`) as CSV with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    written = 0
    after: int | None = None
    while written < MAX_EXPORT_ROWS:
        rows = await payouts_page(
            conn, where, before_id=after, limit=min(BATCH, MAX_EXPORT_ROWS - written), order=order
        )
        if not rows:
            break
        creators = await by_ids(conn, sorted({p.user_id for p in rows}))
        for p in rows:
            creator = creators.get(p.user_id)
            writer.writerow(
                (
                    p.id,
                    p.created_at.isoformat(),
                    p.status.value,
                    creator.subject if creator else "",
                    p.provider,
                    p.provider_reference or "",
                    p.currency,
                    p.diamonds,
                    p.gross_minor,
                    p.fee_minor,
                    p.withholding_minor,
                    p.net_minor,
                    p.paid_at.isoformat() if p.paid_at else "",
                )
            )
        written += len(rows)
        after = rows[-1].id
    return out.getvalue()
