"""`diamonds worker`: the payout worker as its own process, dispatching approved payouts and
settling unknown and pending ones until stopped (or once, with `--once`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from diamonds.console import configure_logging
from settings.service import Settings

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    worker = commands.add_parser(
        "worker", help="run the payout worker (dispatch, retries, lookups) until stopped"
    )
    worker.add_argument("--database-url", help="overrides DIAMONDS_DATABASE_URL")
    worker.add_argument("--once", action="store_true", help="handle what is due now, then exit")
    worker.add_argument("--batch", type=int, default=10, help="payouts claimed at a time")
    worker.add_argument("--idle", type=float, default=1.0, help="seconds to sleep when idle")
    worker.set_defaults(command=_worker)

    settle = commands.add_parser(
        "settle-bank-file",
        help="apply a bank status report (pain.002) or ACH return file to the bank payouts",
    )
    settle.add_argument("file", help="the status or return file the bank sent")
    settle.add_argument("--database-url", help="overrides DIAMONDS_DATABASE_URL")
    settle.add_argument("--outbox", help="the bank outbox folder (default: DIAMONDS_BANK_OUTBOX)")
    settle.set_defaults(command=_settle_bank_file)


def _worker(args: argparse.Namespace) -> int:
    configure_logging()
    settings = Settings.from_env().with_database(args.database_url)
    return asyncio.run(_run(settings, once=args.once, batch=args.batch, idle=args.idle))


async def _run(settings: Settings, *, once: bool, batch: int, idle: float) -> int:
    from economy.app import Economy
    from payouts.dispatch import Dispatcher
    from payouts.setup import build_payout_service, log_provider_statuses

    eco = await Economy.start(settings)
    svc = build_payout_service(eco)
    log_provider_statuses(svc.providers)
    dispatcher = Dispatcher(svc, batch=batch)
    try:
        if once:
            handled = await dispatcher.run_once()
            print(f"payout worker: handled {handled} payout(s)")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await dispatcher.run_forever(stop, idle_seconds=idle)
        return 0
    finally:
        await svc.providers.close()
        await eco.close()


def _settle_bank_file(args: argparse.Namespace) -> int:
    outbox = args.outbox or os.environ.get("DIAMONDS_BANK_OUTBOX")
    if not outbox:
        print(
            "diamonds settle-bank-file: set DIAMONDS_BANK_OUTBOX or pass --outbox", file=sys.stderr
        )
        return 2
    settings = Settings.from_env().with_database(args.database_url)
    return asyncio.run(_settle(settings, args.file, outbox))


async def _settle(settings: Settings, path: str, outbox: str) -> int:
    from economy.app import Economy
    from payouts.bank_files import settle_from_status_file
    from payouts.setup import build_payout_service
    from providers.bank.status import StatusFileError

    eco = await Economy.start(settings)
    svc = build_payout_service(eco)
    try:
        applied = await settle_from_status_file(svc, path, outbox)
    except StatusFileError as exc:
        print(f"diamonds settle-bank-file: {exc}", file=sys.stderr)
        return 1
    finally:
        await svc.providers.close()
        await eco.close()
    for item in applied:
        print(f"{item.event_id}\tpayout {item.payout_id or '-'}\t{item.outcome}")
    counts = {o: sum(1 for a in applied if a.outcome == o) for o in {a.outcome for a in applied}}
    print("settled: " + (", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "nothing"))
    return 0
