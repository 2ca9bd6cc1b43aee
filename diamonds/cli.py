"""The `diamonds` command line: serve the API, migrate the database, load the demo data, mint
development tokens, verify the ledger and print the GraphQL schema.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from diamonds.commands.bank import register as register_bank_commands
from diamonds.commands.compliance import register as register_compliance_commands
from diamonds.commands.payouts import register as register_payout_commands
from diamonds.commands.reconcile import register as register_reconcile_commands
from diamonds.console import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    configure_logging,
    safe_url,
    settings_for,
)
from graph.auth import DEFAULT_TTL_SECONDS, InvalidToken, Role, mint_token, parse_roles
from settings.service import ConfigError, Settings

if TYPE_CHECKING:
    from aiohttp import web

    from diamonds.demo import DemoSummary

log = logging.getLogger("diamonds")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except ConfigError as exc:
        print(f"diamonds: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"diamonds: {exc}", file=sys.stderr)
        return exc.code
    except (SQLAlchemyError, OSError) as exc:
        print(f"diamonds: {_database_failure(args, exc)}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diamonds",
        description="The Diamonds live-gifting API: coins, gifts, diamonds and payouts.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the GraphQL API (GraphiQL)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")
    _database_option(serve)
    serve.add_argument("--demo", action="store_true", help="load the demo data before serving")
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not apply pending migrations first"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="server processes sharing the port (SO_REUSEPORT; default 1); "
        "set DIAMONDS_REDIS_URL so that live events reach every process",
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not run a payout worker in this process (run `diamonds worker` instead)",
    )
    serve.set_defaults(command=_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    _database_option(migrate)
    migrate.set_defaults(command=_migrate)

    demo = commands.add_parser("demo", help="migrate and load the demo data (idempotent)")
    _database_option(demo)
    demo.set_defaults(command=_demo)

    token = commands.add_parser(
        "token", help="print a development bearer token (only the token, on stdout)"
    )
    token.add_argument("subject", metavar="SUBJECT", help="the token's subject (the user)")
    token.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        type=_role,
        metavar="ROLE",
        help="a role: " + ", ".join(r.value for r in Role) + " (repeat for several)",
    )
    token.add_argument(
        "--ttl",
        type=_positive,
        default=DEFAULT_TTL_SECONDS,
        metavar="SECONDS",
        help=f"lifetime in seconds (default {DEFAULT_TTL_SECONDS})",
    )
    token.set_defaults(command=_token)

    ledger = commands.add_parser("ledger", help="ledger maintenance")
    ledger_commands = ledger.add_subparsers(title="commands", metavar="COMMAND", required=True)
    verify = ledger_commands.add_parser(
        "verify", help="check every ledger invariant; exit 1 and name the rows if one is broken"
    )
    _database_option(verify)
    verify.add_argument(
        "--metrics-file",
        metavar="PATH",
        help="also write the result as Prometheus metrics into PATH (for node_exporter's "
        "textfile collector; written only when the checks completed)",
    )
    verify.set_defaults(command=_ledger_verify)

    schema = commands.add_parser("schema", help="print the GraphQL schema (SDL)")
    schema.set_defaults(command=_schema)
    register_payout_commands(commands)
    register_reconcile_commands(commands)
    register_bank_commands(commands)
    register_compliance_commands(commands)
    return parser


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="database to use instead of DIAMONDS_DATABASE_URL "
        "(sqlite:///path or postgresql://user@host:port/db)",
    )


def _port(raw: str) -> int:
    value = _integer(raw)
    if not 0 <= value <= 65_535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {raw}")
    return value


def _positive(raw: str) -> int:
    value = _integer(raw)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {raw}")
    return value


def _integer(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None


def _role(raw: str) -> Role:
    try:
        (role,) = parse_roles([raw])
    except InvalidToken as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return role


# --- settings and output ------------------------------------------------------------------------


def _database_failure(args: argparse.Namespace, exc: BaseException) -> str:
    raw = getattr(args, "database_url", None) or os.environ.get("DIAMONDS_DATABASE_URL")
    where = f" {safe_url(raw)}" if raw else ""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"cannot use the database{where}: {reason[0] if reason else type(exc).__name__}"


def _migrate_now(settings: Settings) -> str | None:
    """Apply pending migrations (blocking; before any event loop); the revision now current."""
    from diamonds.migrate import upgrade

    log.info("migrating %s", safe_url(settings.database_url))
    upgrade(settings.database_url)
    return asyncio.run(_current_revision(settings.database_url))


async def _current_revision(url: str) -> str | None:
    from diamonds.migrate import current_revision
    from ledger import Database

    db = Database(url)
    try:
        return await current_revision(db)
    finally:
        await db.dispose()


# --- commands -----------------------------------------------------------------------------------


def _migrate(args: argparse.Namespace) -> int:
    from diamonds.migrate import head_revision

    configure_logging()
    settings = settings_for(args.database_url)
    revision = _migrate_now(settings)
    head = " (head)" if revision == head_revision() else ""
    print(f"{safe_url(settings.database_url)} is at revision {revision}{head}")
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from diamonds.demo import demo_tokens

    configure_logging()
    settings = settings_for(args.database_url)
    _migrate_now(settings)
    summary = asyncio.run(_load_demo(settings))
    print_demo(summary, demo_tokens(settings), safe_url(settings.database_url))
    return EXIT_OK


async def _load_demo(settings: Settings) -> DemoSummary:
    from diamonds.demo import load_demo
    from economy.app import Economy

    eco = await Economy.start(settings)
    try:
        return await load_demo(eco)
    finally:
        await eco.close()


def print_demo(summary: DemoSummary, tokens: dict[str, str], database: str) -> None:
    print(f"Demo data in {database}:")
    gifts = ", ".join(f"{name} ({coins:,})" for name, coins in summary.gifts)
    print(f"  gifts (coins):   {gifts}")
    for coins, prices in summary.bundles:
        priced = ", ".join(
            f"{currency} {minor // 100}.{minor % 100:02d}" for currency, minor in prices.items()
        )
        print(f"  coin bundle:     {coins:>6,} coins for {priced}")
    state = "started" if summary.stream_started else "already live"
    print(f"  live stream:     {summary.stream_id} ({state})")
    granted = "granted now" if summary.coins_granted else "granted earlier"
    print(f"  demo-viewer:     {summary.viewer_coins:,} coins (welcome coins {granted})")
    print(f"  users:           {', '.join(summary.subjects)}")
    print("Bearer tokens (valid for a day):")
    for subject, token in tokens.items():
        print(f"  {subject}: {token}")


def _token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        token = mint_token(settings, args.subject, args.roles, ttl_seconds=args.ttl)
    except InvalidToken as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    print(token)
    return EXIT_OK


def _ledger_verify(args: argparse.Namespace) -> int:
    settings = settings_for(args.database_url)
    _require_existing_sqlite(settings.database_url)
    violations, accounts, transfers = asyncio.run(_verify(settings.database_url))
    if args.metrics_file:
        _write_verify_metrics(args.metrics_file, len(violations))
    if violations:
        for violation in violations:
            print(f"VIOLATION {violation}")
        print(f"ledger verify: {len(violations)} violation(s) found")
        return EXIT_FAILED
    print(f"ledger verify: OK ({accounts} accounts, {transfers} transfers checked)")
    return EXIT_OK


def _write_verify_metrics(path: str, violations: int) -> None:
    """The result as a node_exporter textfile, replaced at once (written aside, then renamed)."""
    from prometheus_client import write_to_textfile

    from kernel.clock import utcnow
    from kernel.metrics import LEDGER_VERIFIED_AT, LEDGER_VERIFY, LEDGER_VIOLATIONS

    LEDGER_VIOLATIONS.set(violations)
    LEDGER_VERIFIED_AT.set(utcnow().timestamp())
    write_to_textfile(path, LEDGER_VERIFY)


def _require_existing_sqlite(url: str) -> None:
    """Refuse to verify an SQLite file that is not there (opening it would create it empty)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database or "")
        if not path.exists():
            raise CommandError(f"no database at {path}; run `diamonds migrate` first")


async def _verify(url: str) -> tuple[list[str], int, int]:
    from diamonds.migrate import current_revision
    from ledger import Database, verify_ledger
    from ledger.verify import ledger_size

    db = Database(url)
    try:
        if await current_revision(db) is None:
            raise CommandError(f"{safe_url(url)} has no schema; run `diamonds migrate` first")
        async with db.read() as conn:
            violations = await verify_ledger(conn)
            n_accounts, n_transfers = await ledger_size(conn)
    finally:
        await db.dispose()
    return [str(v) for v in violations], n_accounts, n_transfers


def _schema(_args: argparse.Namespace) -> int:
    try:  # imported by name: the CLI works while the API is unfinished or broken
        schema = importlib.import_module("graph.schema").schema
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"the GraphQL schema cannot be loaded: {exc}") from exc
    print(str(schema.as_str()))
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    configure_logging()
    settings = settings_for(args.database_url)
    settings.warn_if_insecure()
    create_app = _load_create_app()
    if not args.no_migrate:
        _migrate_now(settings)

    from aiohttp import web

    from graph.observability import AccessLog

    site = f"http://{_url_host(args.host)}:{args.port}"
    url = f"{site}/graphql"
    banner: list[str] = []

    async def build() -> web.Application:
        from diamonds.collector import collector_on_startup
        from economy.app import Economy

        eco = await Economy.start(settings)
        try:
            if args.demo:
                from diamonds.demo import VIEWER, demo_tokens, load_demo

                summary = await load_demo(eco)
                banner.extend(_demo_banner(summary, demo_tokens(settings)[VIEWER]))
            app = create_app(eco, run_worker=not args.no_worker)
        except BaseException:
            await eco.close()
            raise
        app.on_startup.append(collector_on_startup(settings))
        return app

    def announce(*_ignored: object) -> None:
        what = "GraphiQL" if settings.development else "the GraphQL API"
        print(f"Diamonds is serving {what} at {url}", flush=True)
        print(f"  finance console (FINANCE, ADMIN): {site}/console", flush=True)
        print(f"  creator studio (CREATOR):         {site}/studio", flush=True)
        if settings.development:
            print("  (GraphiQL needs internet for its CDN; the consoles work offline)", flush=True)
        for line in banner:
            print(line, flush=True)
        print("Press Ctrl+C to stop.", flush=True)

    log.info("database %s", safe_url(settings.database_url))
    from diamonds.workers import serve_workers, use_uvloop

    if args.workers > 1:
        if args.demo:
            summary = asyncio.run(_load_demo(settings))
            banner.extend(_demo_banner(summary, _demo_viewer_token(settings)))
        try:
            return serve_workers(
                settings,
                workers=args.workers,
                host=args.host,
                port=args.port,
                payout_worker=not args.no_worker,
                announce=announce,
            )
        except OSError as exc:
            raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc}") from exc
    use_uvloop()
    try:
        web.run_app(
            build(), host=args.host, port=args.port, print=announce, access_log_class=AccessLog
        )
    except OSError as exc:
        if isinstance(exc, ConnectionError):  # the database, not the listening socket
            raise
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc}") from exc
    return EXIT_OK


def _demo_viewer_token(settings: Settings) -> str:
    from diamonds.demo import VIEWER, demo_tokens

    return demo_tokens(settings)[VIEWER]


def _load_create_app() -> Callable[..., web.Application]:
    """`diamonds.app.create_service_app`, imported by name so that every other command works
    while the API is unfinished or broken."""
    try:
        create_app: Callable[..., web.Application] = importlib.import_module(
            "diamonds.app"
        ).create_service_app
    except (ImportError, AttributeError) as exc:
        raise CommandError(f"the GraphQL server cannot be loaded: {exc}") from exc
    return create_app


def _demo_banner(summary: DemoSummary, viewer_token: str) -> Sequence[str]:
    return (
        f"Demo data loaded: {len(summary.gifts)} gifts, {len(summary.bundles)} coin bundles, "
        f"live stream {summary.stream_id}; demo-viewer has {summary.viewer_coins:,} coins.",
        "Demo viewer token (valid for a day); in GraphiQL open the Headers tab and paste:",
        f'  {{"Authorization": "Bearer {viewer_token}"}}',
        "Tokens for the other demo users: `diamonds demo`, or "
        "`diamonds token demo-creator --role CREATOR --role VIEWER`.",
    )


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - only to print a URL one can open
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    raise SystemExit(main())
