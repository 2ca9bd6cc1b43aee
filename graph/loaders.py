"""Per-request DataLoaders: users, gifts, streams and wallet balances fetched in batches, so a
leaderboard of fifty gifters costs one query for their users, not fifty.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from strawberry.dataloader import DataLoader

from economy.app import Economy
from economy.catalog import Gift, gifts_by_ids
from economy.streams import Stream, streams_by_ids
from economy.users import User
from economy.users import by_ids as users_by_ids
from economy.wallets import Balance, wallet_balances


class Loaders:
    """One request's loaders, each built when first used (most requests use none)."""

    def __init__(self, eco: Economy) -> None:
        self._eco = eco

    @cached_property
    def user(self) -> DataLoader[int, User | None]:
        return DataLoader(load_fn=self._users)

    @cached_property
    def gift(self) -> DataLoader[int, Gift | None]:
        return DataLoader(load_fn=self._gifts)

    @cached_property
    def stream(self) -> DataLoader[int, Stream | None]:
        return DataLoader(load_fn=self._streams)

    @cached_property
    def balance(self) -> DataLoader[int, Balance]:
        return DataLoader(load_fn=self._balances)

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
