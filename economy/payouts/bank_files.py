"""Settling bank payouts from the bank's own files: a pain.002 status report or an ACH return
file is read, recorded in the outbox, and each update applied to its payout (once per event).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from economy.payouts.service import PayoutService
from economy.payouts.webhooks import Applied, apply_statement
from providers.bank.status import import_status_file
from providers.bank.transfer import SLUG


async def settle_from_status_file(
    svc: PayoutService, path: str | Path, outbox: str | Path
) -> list[Applied]:
    """Raises `providers.bank.status.StatusFileError` for a file that cannot be read."""
    report = await asyncio.to_thread(import_status_file, path, outbox)
    return [await apply_statement(svc, SLUG, update) for update in report.updates]
