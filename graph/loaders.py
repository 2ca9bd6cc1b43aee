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

    def _loader(self, read: Callable[[Sequence[K]], Read[V]]) -> DataLoader[K, V]:
        async def load(keys: Sequence[K]) -> list[V]:
            # Strawberry cancels a batch once every caller waiting on it is gone (a closed
            # websocket, say). A read cut off mid-statement makes SQLAlchemy throw its connection
            # away from a task nobody awaits, and aiosqlite's close can then wait forever; so
            # the read runs to its end in a task of its own, and the cancelled batch waits for it.
            task = asyncio.create_task(read(keys))
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                await asyncio.wait((task,))
                raise

        return DataLoader(load_fn=load)

    @cached_property
    def user(self) -> DataLoader[int, User | None]:
        return self._loader(self._users)

    @cached_property
    def gift(self) -> DataLoader[int, Gift | None]:
        return self._loader(self._gifts)

    @cached_property
    def stream(self) -> DataLoader[int, Stream | None]:
        return self._loader(self._streams)

    @cached_property
    def balance(self) -> DataLoader[int, Balance]:
        return self._loader(self._balances)

    async def _users(self, ids: Sequence[int]) -> list[User | None]:
        async with self._eco.db.read() as conn:
            found = await users_by_ids(conn, ids)
        return [found.get(i) for i in ids]

    async def _gifts(self, ids: Sequence[int]) -> list[Gift | None]:
        async with self._eco.db.read() as conn:
            found = await gifts_by_ids(conn, ids)
        return [found.get(i) for i in ids]

    async def _streams(self, ids: Sequence[int]) -> list[Stream | None]:
        async with self._eco.db.read() as conn:
            found = await streams_by_ids(conn, ids)
        return [found.get(i) for i in ids]

    async def _balances(self, account_ids: Sequence[int]) -> list[Balance]:
        async with self._eco.db.read() as conn:
            found = await wallet_balances(conn, account_ids)
        return [found[i] for i in account_ids]
