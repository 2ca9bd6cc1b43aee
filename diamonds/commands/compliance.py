"""`diamonds compliance ...`: load a sanctions list in the OFAC SDN CSV format (a new version
re-screens everyone), re-screen, re-encrypt TINs and account numbers under the newest key,
expire old verifications, and export the year-end report as CSV.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from diamonds.console import cli_actor

if TYPE_CHECKING:
    from compliance.service import Compliance

SAMPLE = Path(str(resources.files("compliance") / "data"))
"""The sample OFAC files shipped with the compliance package."""
T = TypeVar("T")


def register(commands: Any) -> None:
    """Add the `compliance` command and its subcommands to the `diamonds` parser."""
    compliance = commands.add_parser(
        "compliance", help="sanctions lists, key rotation and year-end reports"
    )
    sub = compliance.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--database-url", metavar="URL", help="overrides DIAMONDS_DATABASE_URL")
        parser.add_argument("--actor", default=cli_actor(), help="who to name in the audit log")

    sanctions = sub.add_parser("sanctions", help="the sanctions list").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    load = sanctions.add_parser(
        "load", help="load a list (OFAC sdn.csv, with alt.csv and add.csv) and re-screen everyone"
    )
    load.add_argument("sdn", nargs="?", type=Path, help="sdn.csv (names)")
    load.add_argument("--alt", type=Path, help="alt.csv (aliases)")
    load.add_argument("--add", type=Path, help="add.csv (addresses, for countries)")
    load.add_argument("--sample", action="store_true", help="load the small sample list shipped")
    load.add_argument("--source", help="where the list came from (default: the file name)")
    common(load)
    load.set_defaults(command=_load)

    rescreen = sanctions.add_parser("rescreen", help="screen whoever is not screened yet")
    common(rescreen)
    rescreen.set_defaults(command=_rescreen)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(
        title="commands", metavar="COMMAND", required=True
    )
    rotate = keys.add_parser(
        "rotate",
        help="re-encrypt every TIN and account number with the first of DIAMONDS_TIN_KEYS",
    )
    common(rotate)
    rotate.set_defaults(command=_rotate)

    expire = sub.add_parser("expire", help="mark identity verifications past their last day")
    common(expire)
    expire.set_defaults(command=_expire)

    report = sub.add_parser("report", help="the year-end report (CSV)")
    report.add_argument("--year", type=int, required=True)
    report.add_argument("--output", type=Path, help="write here instead of standard output")
    common(report)
    report.set_defaults(command=_report)


def _run(args: argparse.Namespace, work: Callable[[Compliance], Awaitable[T]]) -> T:
    from compliance.service import Compliance
    from diamonds.console import settings_for
    from ledger.database import Database

    settings = settings_for(args.database_url)

    async def run() -> T:
        db = Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        try:
            return await work(Compliance(db, settings))
        finally:
            await db.dispose()

    return asyncio.run(run())


def _read(path: Path | None) -> bytes:
    from diamonds.console import CommandError

    if path is None:
        return b""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None


def _load(args: argparse.Namespace) -> int:
    from compliance.sanctions.rules import SdnFormatError, load_list
    from compliance.sanctions.service import load_sanctions_list
    from diamonds.console import EXIT_USAGE, CommandError

    if args.sample:
        if args.sdn or args.alt or args.add:
            raise CommandError("--sample loads the shipped files: give no others", EXIT_USAGE)
        sdn, alt, add = (SAMPLE / f"{n}_sample.csv" for n in ("sdn", "alt", "add"))
    elif args.sdn is None:
        raise CommandError("give the sdn.csv file to load (or --sample)", EXIT_USAGE)
    else:
        sdn, alt, add = args.sdn, args.alt, args.add
    try:
        loaded = load_list(_read(sdn), _read(alt), _read(add))
    except SdnFormatError as exc:
        raise CommandError(f"{sdn}: {exc}") from None
    source = args.source or (sdn.name if sdn else "sdn.csv")
    result = _run(
        args, lambda svc: load_sanctions_list(svc, loaded, source=source, actor=args.actor)
    )
    state = "loaded as" if result.created else "already loaded as"
    print(
        f"sanctions list {state} version {result.version.id} ({result.version.entries} entries, "
        f"sha256 {result.version.digest[:12]}); screened {result.screened} people, "
        f"{result.possible_matches} possible match(es) for review"
    )
    return 0


def _rescreen(args: argparse.Namespace) -> int:
    from compliance.sanctions.service import rescreen_all

    screened, matched = _run(args, lambda svc: rescreen_all(svc, actor=args.actor))
    print(f"screened {screened} people, {matched} possible match(es) for review")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from compliance.tax.service import rotate_keys

    done = _run(args, lambda svc: rotate_keys(svc, actor=args.actor))
    print(
        f"re-encrypted {done.tax_forms} TIN(s) and {done.payout_methods} account number(s) "
        f"with key {done.key_id}; older keys may now be removed from DIAMONDS_TIN_KEYS"
    )
    return 0


def _expire(args: argparse.Namespace) -> int:
    from compliance.identity.service import expire_verifications
    from kernel.clock import utc_today

    expired = _run(args, lambda svc: expire_verifications(svc, utc_today()))
    print(f"{len(expired)} identity verification(s) expired")
    return 0


def _report(args: argparse.Namespace) -> int:
    from compliance.reporting.rules import to_csv
    from compliance.reporting.service import year_end_report
    from diamonds.console import EXIT_USAGE, CommandError

    if not 2000 <= args.year <= 2100:
        raise CommandError("--year must be between 2000 and 2100", EXIT_USAGE)
    rows = _run(args, lambda svc: year_end_report(svc, year=args.year, actor=args.actor))
    text = to_csv(rows)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {len(rows)} row(s) to {args.output}")
    return 0
