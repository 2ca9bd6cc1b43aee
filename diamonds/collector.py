"""The cyclic garbage collector of a serving process: start-up's objects frozen out of its reach
and a higher generation-0 threshold (`DIAMONDS_GC_FREEZE`, `DIAMONDS_GC_THRESHOLD`).

A built service holds some 190,000 objects the collector tracks (the schema, SQLAlchemy's tables,
the modules) that live as long as the process; every full collection walked them all, a pause of
100 ms and more under gifts. Frozen, they sit in the permanent generation and are never walked.
Requests leave no reference cycles of their own (`graph.execution`), so young collections find
little, and a threshold of 10,000 allocations (Python's default: 700) runs them less often.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from settings.service import Settings

log = logging.getLogger("diamonds")


@dataclass(frozen=True)
class CollectorState:
    """What `prepare_collector` left: the thresholds and how many objects it froze."""

    threshold: tuple[int, int, int]
    frozen: int


def prepare_collector(settings: Settings) -> CollectorState:
    """Call once the service is built, before it serves: collect start-up's garbage, freeze
    what is left (unless `gc_freeze` is off), then set the generation-0 threshold."""
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(settings.gc_threshold, older, oldest)
    state = CollectorState(threshold=gc.get_threshold(), frozen=gc.get_freeze_count())
    log.info(
        "garbage collector: thresholds %s, %d start-up objects frozen",
        state.threshold,
        state.frozen,
    )
    return state


def collector_on_startup(settings: Settings) -> Callable[[web.Application], Awaitable[None]]:
    """An `on_startup` handler that runs `prepare_collector` after the app's other start-up work
    (append it last): both `diamonds serve` and each `--workers` process add it."""

    async def prepare(_app: web.Application) -> None:
        prepare_collector(settings)

    return prepare
