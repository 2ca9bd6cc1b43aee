"""`diamonds reconcile`: reconcile one provider (or every one that can list its records) for a
day or a range of days, print each run's classes and money, and optionally export it as CSV.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from diamonds.console import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    cli_actor,
    settings_for,
)

MAX_RANGE_DAYS = 366


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "reconcile",
        help="match the providers' own records of a day (or days) against our payouts",
    )
    parser.add_argument("--provider", help="one provider's slug (default: every one that can)")
    parser.add_argument("--date", type=_day, help="the day to reconcile (default: yesterday, UTC)")
    parser.add_argument("--since", type=_day, help="the first day of a range")
    parser.add_argument("--until", type=_day, help="the last day of a range (inclusive)")
    parser.add_argument("--csv", type=Path, help="write the (last) run's lines to this CSV file")
    parser.add_argument("--database-url", metavar="URL", help="overrides DIAMONDS_DATABASE_URL")
    parser.add_argument("--actor", default=cli_actor(), help="who to name as the run's starter")
    parser.set_defaults(command=_reconcile)


def days_of(args: argparse.Namespace, today: date) -> list[date]:
    """The days the arguments name: --date, or --since..--until, or yesterday."""
    if args.date is not None and (args.since is not None or args.until is not None):
        raise CommandError("give --date or --since/--until, not both", EXIT_USAGE)
    if args.date is not None:
        return [args.date]
    if args.since is None and args.until is None:
        return [today - timedelta(days=1)]
    if args.since is None or args.until is None:
        raise CommandError("a range needs both --since and --until", EXIT_USAGE)
    if args.until < args.since:
        raise CommandError("--until is before --since", EXIT_USAGE)
    count = (args.until - args.since).days + 1
    if count > MAX_RANGE_DAYS:
        raise CommandError(f"at most {MAX_RANGE_DAYS} days at a time", EXIT_USAGE)
    return [args.since + timedelta(days=n) for n in range(count)]


def _reconcile(args: argparse.Namespace) -> int:
    from diamonds.console import configure_logging
    from kernel.clock import utc_today

    configure_logging()
    days = days_of(args, utc_today())
    settings = settings_for(args.database_url)
    return asyncio.run(_run(settings, args, days))


async def _run(settings: Any, args: argparse.Namespace, days: list[date]) -> int:
    from economy.app import Economy
    from kernel.errors import DomainError
    from payouts.reconciliation.daily import reconcilable_slugs
    from payouts.reconciliation.export import run_csv
    from payouts.reconciliation.run import checked_period, reconcile_period
    from payouts.reconciliation.store import items_page, totals_of
    from payouts.setup import build_payout_service

    eco = await Economy.start(settings)
    svc = build_payout_service(eco)
    failed = False
    try:
        slugs = [args.provider] if args.provider else reconcilable_slugs(svc)
        if not slugs:
            raise CommandError("no configured provider can list its records")
        last = None
        for slug in slugs:
            for day in days:
                try:
                    period = checked_period(day, day + timedelta(days=1))
                    run = await reconcile_period(svc, slug, period, actor=args.actor)
                except DomainError as exc:
                    raise CommandError(f"{slug} {day}: {exc.message}", EXIT_USAGE) from None
                except Exception as exc:  # the run is stored FAILED with the reason
                    print(f"{slug} {day}: FAILED: {type(exc).__name__}: {exc}")
                    failed = True
                    continue
                if run is None:
                    print(f"{slug} {day}: another worker is reconciling it now; skipped")
                    continue
                last = run
                async with eco.db.read() as conn:
                    totals = await totals_of(conn, run.id)
                print(
                    f"{slug} {day}: run {run.id}: {run.our_count} of ours, {run.their_count} "
                    f"at the provider, {run.exception_count} exception(s) "
                    f"({run.open_exception_count} open)"
                )
                for total in totals:
                    print(
                        f"  {total.klass.value:<20} {total.count:>7}  {total.currency} "
                        f"ours {total.our_minor}  theirs {total.their_minor}  "
                        f"fees {total.their_fee_minor}"
                    )
        if args.csv is not None and last is not None:
            async with eco.db.read() as conn:
                items = await items_page(
                    conn,
                    last.id,
                    exceptions_only=False,
                    open_only=False,
                    after_id=None,
                    limit=10**9,
                )
            try:
                args.csv.write_text(run_csv(last, items), encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {args.csv}: {exc.strerror or exc}") from None
            print(f"wrote run {last.id} to {args.csv}")
    finally:
        await svc.providers.close()
        await eco.close()
    return EXIT_FAILED if failed else EXIT_OK
