"""Running payout workers: inside the web server (the embedded default) or as their own process
(`diamonds worker`), stopping cleanly between payouts on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from payouts.dispatch import Dispatcher
from payouts.service import PayoutService


def embedded_worker(
    svc: PayoutService,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """An aiohttp cleanup context that runs a payout worker for the app's lifetime."""

    @contextlib.asynccontextmanager
    async def run(_app: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(Dispatcher(svc).run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    return run
