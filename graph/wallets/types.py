"""GraphQL types of wallets: `Wallet` (a user's coin or diamond account) and the transfers
in its history, seen from the wallet's side (positive in, negative out), each saying what it was.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from economy.wallets import (
    EntryKind,
    WalletEntry,
    count_wallet_entries,
    diamonds_owed,
    wallet_entries,
)
from graph.context import Context
from graph.global_ids import Connection, Node, PageRequest, connection, to_global_id
from graph.scalars import BigInt, utc
from graph.streams.summary import StreamSummary
from payouts.queries import payout_requested_in

if TYPE_CHECKING:
    from graph.users.types import User


@strawberry.enum(description="What a wallet holds.")
class Asset(enum.Enum):
    COIN = "COIN"
    DIAMOND = "DIAMOND"


WalletTransactionKind = strawberry.enum(
    EntryKind,
    description="What a movement was: GIFT_RECEIVED (in a stream, from a sender), GIFT_SENT, "
    "PURCHASE, GRANT, PAYOUT_REQUESTED (diamonds held for a payout), PAYOUT_RELEASED (held "
    "diamonds let go: the payout failed, was rejected or canceled), PAYOUT_PAID (diamonds that "
    "left with a paid payout), PAYOUT_RETURNED "
    "(diamonds back from a payout the provider returned), DEBT_SETTLED (diamonds that paid "
    "down what was owed), CORRECTION (a payment booked on a discrepancy), OTHER.",
)

RELATED_TYPES = (
    ("payout_id", "Payout"),
    ("stream_id", "LiveStream"),
    ("purchase_id", "CoinPurchase"),
)
"""The object a movement links to, the first one it has, by its global id's type."""


@strawberry.type(
    description="One ledger transaction that moved a wallet's balance or what it holds, saying "
    "what it was."
)
class WalletTransaction:
    id: strawberry.ID
    amount: BigInt = strawberry.field(description="Positive when it came in, negative when out.")
    held: BigInt = strawberry.field(
        description="Change to what is held: positive when diamonds were reserved for a payout, "
        "negative when the hold was paid out or released."
    )
    kind: WalletTransactionKind  # type: ignore[valid-type]
    created_at: datetime
    entry: strawberry.Private[WalletEntry]

    @classmethod
    def of(cls, entry: WalletEntry) -> WalletTransaction:
        return cls(
            id=to_global_id("WalletTransaction", entry.transaction_id),
            amount=BigInt(entry.amount),
            held=BigInt(entry.held),
            kind=entry.kind,
            created_at=utc(entry.created_at),
            entry=entry,
        )

    @strawberry.field(
        description="What it is about: the Payout, the LiveStream a gift was sent in, or the "
        "CoinPurchase (a global id for `node`); null for grants and other movements."
    )
    async def related_id(self, info: Info[Context, None]) -> strawberry.ID | None:
        entry = self.entry
        if entry.payout_id is None and entry.kind is EntryKind.PAYOUT_REQUESTED:
            async with info.context.eco.db.read() as conn:
                payout_id = await payout_requested_in(conn, entry.transaction_id)
            return to_global_id("Payout", payout_id) if payout_id is not None else None
        return next(
            (
                to_global_id(type_name, pk)
                for attr, type_name in RELATED_TYPES
                if (pk := getattr(entry, attr)) is not None
            ),
            None,
        )

    @strawberry.field(description="The stream a gift was sent in (gifts only).")
    async def stream(self, info: Info[Context, None]) -> StreamSummary | None:
        if self.entry.stream_id is None:
            return None
        found = await info.context.loaders.stream.load(self.entry.stream_id)
        return StreamSummary.of(found) if found else None

    @strawberry.field(
        description="Who sent the gift (gifts only); null when the sender is staff and you are not."
    )
    async def sender(
        self, info: Info[Context, None]
    ) -> Annotated[User, strawberry.lazy("graph.users.types")] | None:
        from graph.users.types import User

        if self.entry.sender_id is None:
            return None
        found = await info.context.loaders.user.load(self.entry.sender_id)
        return User.of(found) if found and info.context.may_see_user(found) else None


@strawberry.type(
    description="A user's coins or diamonds. Only its owner, FINANCE and ADMIN see it."
)
class Wallet(Node):
    id: strawberry.ID
    asset: Asset
    account_id: strawberry.Private[int]
    owner_id: strawberry.Private[int]

    @classmethod
    def of(cls, account_id: int, owner_id: int, asset: Asset) -> Wallet:
        return cls(
            id=to_global_id("Wallet", account_id),
            asset=asset,
            account_id=account_id,
            owner_id=owner_id,
        )

    @strawberry.field(description="Everything in the wallet, including what is held.")
    async def balance(self, info: Info[Context, None]) -> BigInt:
        return BigInt((await info.context.loaders.balance.load(self.account_id)).balance)

    @strawberry.field(description="What can be spent now: the balance minus holds.")
    async def available(self, info: Info[Context, None]) -> BigInt:
        return BigInt((await info.context.loaders.balance.load(self.account_id)).available)

    @strawberry.field(description="Reserved for pending payouts.")
    async def held(self, info: Info[Context, None]) -> BigInt:
        return BigInt((await info.context.loaders.balance.load(self.account_id)).held)

    @strawberry.field(
        description="Diamonds the owner owes: a payment the provider made after we had given its "
        "diamonds back. Their next diamonds settle it first. Always 0 for coins."
    )
    async def owed(self, info: Info[Context, None]) -> BigInt:
        if self.asset is not Asset.DIAMOND:
            return BigInt(0)
        async with info.context.eco.db.read() as conn:
            return BigInt(await diamonds_owed(conn, self.owner_id))

    @strawberry.field
    async def owner(
        self, info: Info[Context, None]
    ) -> Annotated[User, strawberry.lazy("graph.users.types")]:
        from graph.users.types import User

        found = await info.context.loaders.user.load(self.owner_id)
        assert found is not None
        return User.of(found)

    @strawberry.field(description="Movements of this wallet, newest first (at most 100 a page).")
    async def transactions(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[WalletTransaction]:
        page = PageRequest.of(first, after)
        async with info.context.eco.db.read() as conn:
            entries = await wallet_entries(
                conn, self.account_id, before_id=page.after, limit=page.limit + 1
            )
        account_id = self.account_id
        return connection(
            entries,
            page,
            lambda e: e.transaction_id,
            WalletTransaction.of,
            lambda conn: count_wallet_entries(conn, account_id),
        )


@strawberry.type(description="The caller's wallet moved.")
class WalletUpdate:
    wallet: Wallet
    change: BigInt = strawberry.field(
        description="The net change this message reports: negative when money went out."
    )
    reason: str = strawberry.field(
        description="Why: GIFT, GRANT, ... (the latest), or CURRENT for the first messages."
    )
    transactions: int = strawberry.field(description="How many transactions it sums up.")
