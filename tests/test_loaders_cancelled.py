"""A batch of reads whose every caller went away (a websocket closed mid-operation) finishes
its read and hands its database connection back, instead of having it thrown away mid-statement."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import event

from economy.app import Economy
from graph.loaders import Loaders
from tests.live_fixtures import wait_until


async def test_a_cancelled_batch_read_runs_to_its_end_and_keeps_its_connection(
    economy: Economy,
) -> None:
    user = await economy.users.ensure("viewer:ann")
    pool = economy.db.reader.sync_engine.pool
    thrown_away: list[object] = []
    event.listen(pool, "invalidate", lambda *args: thrown_away.append(args))
    event.listen(pool, "close", lambda *args: thrown_away.append(args))
    loaders = Loaders(economy)

    async def call() -> object:
        return await loaders.balance.load(user.coin_account_id)

    caller = asyncio.create_task(call())
    # The caller goes away as soon as the batch's read has its connection.
    event.listen(pool, "checkout", lambda *args: caller.cancel(), once=True)
    with contextlib.suppress(asyncio.CancelledError):
        await caller
    await wait_until(lambda: pool.checkedout() == 0)
    await loaders.settle()

    assert thrown_away == []
    assert caller.cancelled()
