"""Settling bank payouts from the bank's own files: a pain.002 status report (`sepa` payouts) or
an ACH return file (`ach`) is read, recorded in the outbox, and each update applied once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from payouts.service import PayoutService
from payouts.webhooks import Applied, apply_statement
from providers.bank.status import import_status_file


async def settle_from_status_file(
    svc: PayoutService, path: str | Path, outbox: str | Path
) -> list[Applied]:
    """Raises `providers.bank.status.StatusFileError` for a file that cannot be read."""
    report = await asyncio.to_thread(import_status_file, path, outbox)
    return [await apply_statement(svc, report.slug, update) for update in report.updates]
