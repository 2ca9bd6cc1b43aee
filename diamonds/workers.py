"""`diamonds serve --workers N`: N server processes sharing one port (SO_REUSEPORT; the kernel
spreads new connections over them), each with its own economy, on uvloop when it is installed.

Live events reach every process through Redis (`DIAMONDS_REDIS_URL`); without it each process
delivers only the events of the gifts it booked itself, so set it whenever N > 1.

Their metrics meet in `PROMETHEUS_MULTIPROC_DIR` (a fresh temporary folder unless it is set; a
set one is emptied of old values first), so `/metrics` from any worker answers for them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import multiprocess

from diamonds.collector import collector_on_startup
from kernel.metrics import MULTIPROC_ENV
from settings.service import Settings

if TYPE_CHECKING:
    from economy.app import Economy

log = logging.getLogger("diamonds")

STOP_GRACE_SECONDS = 10.0


def use_uvloop() -> bool:
    """Run the next event loops on uvloop, when it is installed."""
    try:
        import uvloop
    except ImportError:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def check_reuse_port() -> None:
    """Raise `OSError` when this platform cannot share a port between processes."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("this platform has no SO_REUSEPORT: run one worker")


def serve_workers(
    settings: Settings,
    *,
    workers: int,
    host: str,
    port: int,
    payout_worker: bool,
    announce: Callable[[], None],
    app_factory: str = "diamonds.workers:service_app",
    access_log: bool = True,
) -> int:
    """Start `workers` processes on (host, port) and wait for them. Ctrl+C or SIGTERM stops
    them all; one that dies stops the others. Returns the exit status.

    `app_factory` names ("module:function") what builds each process's application from its
    started economy and whether it runs the payout worker (the benchmarks serve other apps)."""
    check_reuse_port()
    if settings.redis_url is None:
        log.warning(
            "%d workers without DIAMONDS_REDIS_URL: live subscribers only hear of the gifts "
            "booked by the worker they are connected to",
            workers,
        )
    with shared_metrics_dir():
        return _serve_processes(
            settings, workers, host, port, payout_worker, announce, app_factory, access_log
        )


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """The folder the workers' metrics meet in, `PROMETHEUS_MULTIPROC_DIR` for the processes
    started inside: the one set (emptied of an earlier run's values), else a temporary one."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="diamonds-metrics-") as temporary:
        os.environ[MULTIPROC_ENV] = temporary
        try:
            yield Path(temporary)
        finally:
            del os.environ[MULTIPROC_ENV]


def _serve_processes(
    settings: Settings,
    workers: int,
    host: str,
    port: int,
    payout_worker: bool,
    announce: Callable[[], None],
    app_factory: str,
    access_log: bool,
) -> int:
    context = multiprocessing.get_context("spawn")
    processes: list[BaseProcess] = [
        context.Process(
            target=run_worker,
            args=(
                index,
                settings,
                host,
                port,
                payout_worker and index == 0,
                app_factory,
                access_log,
            ),
            name=f"diamonds-worker-{index}",
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    announce()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    status = 0
    try:
        while all(p.is_alive() for p in processes):
            processes[0].join(0.5)
        failed = [p for p in processes if not p.is_alive() and p.exitcode != 0]
        if failed:
            log.error("worker %s exited with status %s", failed[0].name, failed[0].exitcode)
            status = 1
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(processes)
    return status


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _stop(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    for process in processes:
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.terminate()
            process.join(STOP_GRACE_SECONDS)
        if process.pid is not None:  # its live gauges (subscriptions open) no longer count
            multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]


def run_worker(
    index: int,
    settings: Settings,
    host: str,
    port: int,
    payout_worker: bool,
    app_factory: str,
    access_log: bool,
) -> None:
    """One worker process: serve until SIGINT or SIGTERM."""
    from diamonds.console import configure_logging

    configure_logging()
    use_uvloop()
    build = _import(app_factory)
    try:
        asyncio.run(
            _serve(index, settings, host, port, lambda eco: build(eco, payout_worker), access_log)
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        log.error("worker %d cannot serve on %s:%d: %s", index, host, port, exc)
        sys.exit(1)


def service_app(eco: Economy, payout_worker: bool) -> web.Application:
    """The Diamonds service, as `diamonds serve` runs it."""
    from diamonds.app import create_service_app

    return create_service_app(eco, run_worker=payout_worker)


def _import(name: str) -> Callable[[Economy, bool], web.Application]:
    module, _, function = name.partition(":")
    factory: Callable[[Economy, bool], web.Application] = getattr(
        importlib.import_module(module), function
    )
    return factory


async def _serve(
    index: int,
    settings: Settings,
    host: str,
    port: int,
    build: Callable[[Economy], web.Application],
    access_log: bool,
) -> None:
    from economy.app import Economy
    from graph.observability import AccessLog

    eco = await Economy.start(settings)
    try:
        app = build(eco)
    except BaseException:
        await eco.close()
        raise
    app.on_startup.append(collector_on_startup(settings))
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        access_log_class=AccessLog,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, host, port, reuse_port=True).start()
        log.info("worker %d (pid %d) serving on %s:%d", index, os.getpid(), host, port)
        await stop.wait()
    finally:
        await runner.cleanup()
