"""Per-request DataLoaders: users, gifts, streams and wallet balances fetched in batches, so a
leaderboard of fifty gifters costs one query for their users, not fifty; each batch's read runs to
its end even when the batch is cancelled, and the reads still running can be awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from economy.app import Economy
from economy.catalog import Gift, gifts_by_ids
from economy.streams import Stream, streams_by_ids
from economy.users import User
from economy.users import by_ids as users_by_ids
from economy.wallets import Balance, wallet_balances

K = TypeVar("K")
V = TypeVar("V")
Read = Coroutine[Any, Any, list[V]]


class Loaders:
    """One request's loaders, each built when first used (most requests use none)."""

    def __init__(self, eco: Economy, reads: set[asyncio.Task[Any]] | None = None) -> None:
        self._eco = eco
        self._reads: set[asyncio.Task[Any]] = set() if reads is None else reads
        """The batch reads still running (shared with the loaders `fresh` makes)."""

    def fresh(self) -> Loaders:
        """New loaders (nothing cached) whose reads are awaited with these ones'."""
        return Loaders(self._eco, self._reads)

    async def settle(self) -> None:
        """Until every batch read started by these loaders (or their `fresh` ones) has ended."""
        while self._reads:
            await asyncio.wait(tuple(self._reads))

    def _loader(self, read: Callable[[Economy, Sequence[K]], Read[V]]) -> DataLoader[K, V]:
        # The batch function holds the economy and the set of reads, not these loaders: a loader
        # that pointed back at its `Loaders` would make a reference cycle of every request's
        # loaders, freed only by the cyclic garbage collector (graph.execution says why that
        # matters).
        eco, reads = self._eco, self._reads

        async def load(keys: Sequence[K]) -> list[V]:
            # Strawberry cancels a batch once every caller waiting on it is gone (a closed
            # websocket, say). A read cut off mid-statement makes SQLAlchemy throw its connection
            # away from a task nobody awaits, and aiosqlite's close can then wait forever; so
            # the read runs to its end in a task of its own, and the cancelled batch waits for it.
            task = asyncio.create_task(read(eco, keys))
            reads.add(task)
            task.add_done_callback(reads.discard)
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                await asyncio.wait((task,))
                raise

        return DataLoader(load_fn=load)

    @cached_property
    def user(self) -> DataLoader[int, User | None]:
        return self._loader(_users)

    @cached_property
    def gift(self) -> DataLoader[int, Gift | None]:
        return self._loader(_gifts)

    @cached_property
    def stream(self) -> DataLoader[int, Stream | None]:
        return self._loader(_streams)

    @cached_property
    def balance(self) -> DataLoader[int, Balance]:
        return self._loader(_balances)


async def _users(eco: Economy, ids: Sequence[int]) -> list[User | None]:
    async with eco.db.read() as conn:
        found = await users_by_ids(conn, ids)
    return [found.get(i) for i in ids]


async def _gifts(eco: Economy, ids: Sequence[int]) -> list[Gift | None]:
    async with eco.db.read() as conn:
        found = await gifts_by_ids(conn, ids)
    return [found.get(i) for i in ids]


async def _streams(eco: Economy, ids: Sequence[int]) -> list[Stream | None]:
    async with eco.db.read() as conn:
        found = await streams_by_ids(conn, ids)
    return [found.get(i) for i in ids]


async def _balances(eco: Economy, account_ids: Sequence[int]) -> list[Balance]:
    async with eco.db.read() as conn:
        found = await wallet_balances(conn, account_ids)
    return [found[i] for i in account_ids]
