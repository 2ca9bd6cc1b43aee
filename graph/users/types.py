"""GraphQL type of a user: public name and subject; wallets only for the user themselves and
for FINANCE and ADMIN.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from economy import users as economy_users
from graph.context import Context
from graph.global_ids import Node, to_global_id
from graph.scalars import utc
from graph.wallets.types import Asset, Wallet


@strawberry.type(description="A person on the platform: a viewer, a creator, or staff.")
class User(Node):
    id: strawberry.ID
    subject: str
    display_name: str
    created_at: datetime
    record: strawberry.Private[economy_users.User]

    @classmethod
    def of(cls, user: economy_users.User) -> User:
        return cls(
            id=to_global_id("User", user.id),
            subject=user.subject,
            display_name=user.display_name,
            created_at=utc(user.created_at),
            record=user,
        )

    @strawberry.field(description="Coins to spend on gifts. Owner, FINANCE and ADMIN only.")
    async def coin_wallet(self, info: Info[Context, None]) -> Wallet:
        await info.context.require_money_of(self.record.id, "this user's coin wallet")
        return Wallet.of(self.record.coin_account_id, self.record.id, Asset.COIN)

    @strawberry.field(description="Diamonds earned from gifts. Owner, FINANCE and ADMIN only.")
    async def diamond_wallet(self, info: Info[Context, None]) -> Wallet:
        await info.context.require_money_of(self.record.id, "this user's diamond wallet")
        return Wallet.of(self.record.diamond_account_id, self.record.id, Asset.DIAMOND)
