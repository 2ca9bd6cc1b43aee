"""The `diamonds bank` commands: `flush` writes the payouts waiting in the outbox into bank files,
`import-status FILE` reads a pain.002 report or an ACH return file back and prints its updates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING

from diamonds.console import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from providers.bank.provider import BankProvider

_RAILS = {"sepa": "DIAMONDS_SEPA_DEBTOR_IBAN", "ach": "DIAMONDS_ACH_ORIGIN_ROUTING"}
"""A rail counts as configured when its key variable is set."""
_CURRENCIES = {"sepa": "EUR", "ach": "USD"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bank flush` and `bank import-status` to the `diamonds` command line."""
    bank = subparsers.add_parser("bank", help="bank transfer files: flush batches, read statuses")
    commands = bank.add_subparsers(title="commands", metavar="COMMAND", required=True)

    flush = commands.add_parser(
        "flush", help="write the payouts waiting in the outbox into SEPA and ACH bank files"
    )
    flush.add_argument(
        "--rail",
        choices=sorted(_RAILS),
        help="only this rail (default: every rail whose variables are set)",
    )
    flush.set_defaults(command=flush_command)

    status = commands.add_parser(
        "import-status",
        help="read a pain.002 status report or an ACH return file and print its updates",
    )
    status.add_argument("file", metavar="FILE", help="the bank's pain.002 XML or NACHA return file")
    status.add_argument(
        "--outbox",
        metavar="DIR",
        help="the bank outbox folder (default: DIAMONDS_BANK_OUTBOX)",
    )
    status.set_defaults(command=import_status_command)


def flush_command(args: argparse.Namespace) -> int:
    from providers.bank.outbox import OutboxError
    from providers.errors import ProviderError

    rails = [args.rail] if args.rail else [r for r, v in _RAILS.items() if os.environ.get(v)]
    if not rails:
        return _fail(
            "no bank rail is configured: set the DIAMONDS_SEPA_* or DIAMONDS_ACH_* variables",
            EXIT_USAGE,
        )
    try:
        providers = [_provider(rail) for rail in rails]
    except ProviderError as exc:
        return _fail(str(exc), EXIT_USAGE)
    for provider in providers:
        try:
            written = asyncio.run(provider.flush())
        except (ProviderError, OutboxError, OSError, ValueError) as exc:
            return _fail(f"{provider.slug}: cannot flush: {exc}", EXIT_FAILED)
        if not written:
            print(f"{provider.slug}: nothing to write")
        for batch in written:
            money = _money(batch.total_minor, _CURRENCIES[provider.slug])
            print(f"{provider.slug}: wrote {batch.path} ({batch.count} payouts, {money})")
    return EXIT_OK


def import_status_command(args: argparse.Namespace) -> int:
    from providers.bank.config import outbox_folder
    from providers.bank.outbox import OutboxError
    from providers.bank.status import StatusFileError, import_status_file
    from providers.errors import ProviderConfigError

    try:
        outbox = args.outbox or outbox_folder()
    except ProviderConfigError as exc:
        return _fail(f"{exc} (or pass --outbox DIR)", EXIT_USAGE)
    try:
        report = import_status_file(args.file, outbox)
    except (StatusFileError, OutboxError, OSError) as exc:
        return _fail(str(exc), EXIT_FAILED)
    for update in report.updates:
        failure = ""
        if update.failure_code:
            failure = f" {update.failure_code}: {update.failure_message or ''}".rstrip(" :")
        print(
            f"{update.state.value:<8} {update.payout_id or '(unmatched)'} "
            f"{update.provider_reference} [{update.raw_type}]{failure}"
        )
    states = Counter(update.state.value for update in report.updates)
    summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
    print(f"{report.slug}: {len(report.updates)} update(s) in {report.path}: {summary}")
    if report.unmatched:
        print(
            f"{report.slug}: {len(report.unmatched)} update(s) name no payout in {outbox}",
            file=sys.stderr,
        )
    return EXIT_OK


def _provider(rail: str) -> BankProvider:
    from providers.bank.provider import AchProvider, SepaProvider

    return SepaProvider.from_env() if rail == "sepa" else AchProvider.from_env()


def _money(minor: int, currency: str) -> str:
    return f"{currency} {minor // 100:,}.{minor % 100:02d}"


def _fail(message: str, code: int) -> int:
    print(f"diamonds: {message}", file=sys.stderr)
    return code
