"""`diamonds-fakes`: starts every fake provider server with one command, so a developer can run the
whole service against them by hand; prints the `DIAMONDS_*` variables that point the service there.

Adding a fake server is one line in `FAKE_SERVERS`: its name (which gives the `--<name>-port`
option), its default port, and a `module:function` that builds it from `FakeOptions`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_SERVICE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class FakeServerEntry:
    name: str
    """Lower-case; also the provider slug and the webhook path `/webhooks/<name>`."""
    default_port: int
    build: str
    """`module:function`, a `(FakeOptions) -> FakeServer`; imported only when started."""


FAKE_SERVERS: tuple[FakeServerEntry, ...] = (
    FakeServerEntry("stripe", 12111, "diamonds_fakes.stripe_server:build_for_runner"),
    FakeServerEntry("paypal", 12112, "diamonds_fakes.paypal_server:build_for_runner"),
)


@dataclass(frozen=True)
class FakeOptions:
    """What every fake gets from the command line."""

    webhook_url: str | None
    """Where to POST this fake's webhooks (`<service>/webhooks/<name>`), or None for none."""
    advance_seconds: float | None
    """Move payouts on by themselves every that many seconds; None waits for the admin API."""
    fault_seed: int | None


class FakeServer(Protocol):
    async def start(self, host: str = ..., port: int = ...) -> str:
        """Listen; return the base URL."""

    async def stop(self) -> None: ...

    def environment(self) -> dict[str, str]:
        """The `DIAMONDS_*` variables that point the service at this fake."""


def main(argv: Sequence[str] | None = None) -> int:
    """The `diamonds-fakes` command (also `python -m diamonds_fakes`)."""
    return run(build_parser().parse_args(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diamonds-fakes",
        description="Run every fake provider server on 127.0.0.1 until Ctrl+C: real HTTP speaking "
        "each provider's wire format, with an admin API under /__fake__ (see docs/providers.md).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    for entry in FAKE_SERVERS:
        parser.add_argument(
            f"--{entry.name}-port",
            type=_port,
            default=entry.default_port,
            metavar="PORT",
            help=f"port of the fake {entry.name} server (default {entry.default_port}; 0 picks "
            "a free one)",
        )
    parser.add_argument(
        "--only",
        action="append",
        choices=[entry.name for entry in FAKE_SERVERS],
        metavar="NAME",
        help="start only this fake (repeat for several); default all",
    )
    parser.add_argument(
        "--service-url",
        type=_url,
        default=DEFAULT_SERVICE_URL,
        metavar="URL",
        help="the Diamonds service receiving webhooks at <URL>/webhooks/<name> "
        f"(default {DEFAULT_SERVICE_URL})",
    )
    parser.add_argument("--no-webhooks", action="store_true", help="send no webhooks")
    parser.add_argument(
        "--advance-seconds",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="move each payout one step on by itself every SECONDS (default 5; 0 turns it off: "
        "payouts then move only through the admin API)",
    )
    parser.add_argument("--fault-seed", type=int, help="seed for probabilistic faults")
    return parser


def run(args: argparse.Namespace) -> int:
    entries = [e for e in FAKE_SERVERS if not args.only or e.name in args.only]
    try:
        return asyncio.run(_serve(args, entries))
    except KeyboardInterrupt:
        return 0


async def _serve(args: argparse.Namespace, entries: Sequence[FakeServerEntry]) -> int:
    started: list[FakeServer] = []
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        for entry in entries:
            options = FakeOptions(
                webhook_url=None
                if args.no_webhooks
                else f"{args.service_url.rstrip('/')}/webhooks/{entry.name}",
                advance_seconds=args.advance_seconds or None,
                fault_seed=args.fault_seed,
            )
            server = _builder(entry)(options)
            port: int = getattr(args, f"{entry.name}_port")
            try:
                url = await server.start(args.host, port)
            except OSError as exc:
                print(
                    f"diamonds-fakes: cannot run fake {entry.name} on {args.host}:{port}: {exc}",
                    file=sys.stderr,
                )
                return 1
            started.append(server)
            _announce(entry, url, server, options)
        print("Press Ctrl+C to stop.", flush=True)
        await stopping.wait()
        return 0
    finally:
        for server in reversed(started):
            await server.stop()


def _builder(entry: FakeServerEntry) -> Callable[[FakeOptions], FakeServer]:
    module_name, _, function = entry.build.partition(":")
    build: Callable[[FakeOptions], FakeServer] = getattr(
        importlib.import_module(module_name), function
    )
    return build


def _announce(entry: FakeServerEntry, url: str, server: FakeServer, options: FakeOptions) -> None:
    print(f"fake {entry.name}: {url} (admin API under {url}/__fake__)", flush=True)
    if options.webhook_url:
        print(f"  webhooks to {options.webhook_url}", flush=True)
    for name, value in server.environment().items():
        print(f"  export {name}={value}", flush=True)


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {raw!r}") from None
    if not 0 <= value <= 65_535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {raw}")
    return value


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {raw!r}")
    return raw


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {raw!r}") from None
    if not 0 <= value <= 86_400:
        raise argparse.ArgumentTypeError(f"expected 0 to 86400 seconds, got {raw}")
    return value
