"""GraphQL types of wallets: `Wallet` (a user's coin or diamond account) and the transfers
in its history, seen from the wallet's side (positive in, negative out).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from economy.wallets import WalletEntry, diamonds_owed, wallet_entries
from graph.context import Context
from graph.global_ids import Connection, Node, PageRequest, connection, to_global_id
from graph.scalars import BigInt, utc

if TYPE_CHECKING:
    from graph.users.types import User


@strawberry.enum(description="What a wallet holds.")
class Asset(enum.Enum):
    COIN = "COIN"
    DIAMOND = "DIAMOND"


@strawberry.enum(description="Why money moved.")
class WalletTransactionKind(enum.Enum):
    GIFT = "GIFT"
    GRANT = "GRANT"
    HOLD_POSTED = "HOLD_POSTED"
    OTHER = "OTHER"


@strawberry.type(description="One movement in or out of a wallet.")
class WalletTransaction:
    id: strawberry.ID
    amount: BigInt = strawberry.field(description="Positive when it came in, negative when out.")
    kind: WalletTransactionKind
    created_at: datetime

    @classmethod
    def of(cls, entry: WalletEntry) -> WalletTransaction:
        known = WalletTransactionKind.__members__
        return cls(
            id=to_global_id("WalletTransaction", entry.transfer_id),
            amount=BigInt(entry.amount),
            kind=WalletTransactionKind[entry.kind]
            if entry.kind in known
            else WalletTransactionKind.OTHER,
            created_at=utc(entry.created_at),
        )


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
        return connection(entries, page, lambda e: e.transfer_id, WalletTransaction.of)
