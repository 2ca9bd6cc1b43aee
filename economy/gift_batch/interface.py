"""The interface of a gift batch's economy statements: the first look (keys already used,
streams, gifts, what the senders hold), the creators, and the sent-gift rows.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from economy.catalog import Gift
from economy.gifting import GiftOrder, GiftSent
from economy.streams import Stream
from economy.users import User
from ledger.batch.planning import LedgerBatch, UsedKeys


@dataclass(frozen=True)
class GiftLook:
    """What a batch of gifts reads before it books, unlocked."""

    used_keys: UsedKeys
    streams: dict[int, Stream]
    gifts: dict[int, Gift]
    available: dict[int, int] | None
    """What the senders' coin wallets hold (balance - held), or None if not read yet."""


class GiftBatch(abc.ABC):
    """One batch of gifts inside `Database.batch()`: the ledger's batch (`ledger`) books the
    ledger transactions; the economy's own reads and writes are here, one subclass per
    dialect."""

    ledger: LedgerBatch

    @abc.abstractmethod
    async def first_look(self, orders: Sequence[GiftOrder]) -> GiftLook:
        """The orders' keys already used, their streams and gifts, and (where it costs no
        round trip) the senders' available coins."""

    @abc.abstractmethod
    async def creators(self, ids: Sequence[int]) -> dict[int, User]:
        """These users (`economy.users.by_ids`)."""

    @abc.abstractmethod
    async def insert_gift_sends(self, rows: Sequence[dict[str, int]]) -> list[GiftSent]:
        """Insert the sent-gift rows (`gift_send_row`); returns them as booked, in order."""
