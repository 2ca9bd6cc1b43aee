"""GraphQL type of a user: public name and subject; wallets only for the user themselves and
for FINANCE and ADMIN.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.types import Info

from economy import earnings
from economy import users as economy_users
from economy.streams import count_creator_streams, creator_streams_page, streams_earnings
from graph.context import Context
from graph.errors import bad_input
from graph.global_ids import Connection, Node, PageRequest, connection, to_global_id
from graph.scalars import BigInt, utc
from graph.streams.summary import CreatorStream
from graph.wallets.types import Asset, Wallet
from kernel.errors import DomainError


@strawberry.type(description="What a creator earned on one day (UTC).")
class DayEarnings:
    day: date
    diamonds: BigInt = strawberry.field(description="Diamonds received from gifts that day.")
    gifts: int = strawberry.field(description="How many gift sends brought them.")


@strawberry.type(
    description="A person on the platform: a viewer, a creator, or staff (staff users are shown "
    "only to staff and to themselves)."
)
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

    @strawberry.field(
        description="The streams this user ran, live and ended, newest first (at most 100 a "
        "page), each with its earnings. Owner, FINANCE and ADMIN only."
    )
    async def streams(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[CreatorStream]:
        await info.context.require_money_of(self.record.id, "this user's streams")
        page = PageRequest.of(first, after)
        async with info.context.eco.db.read() as conn:
            rows = await creator_streams_page(
                conn, self.record.id, after_id=page.after, limit=page.limit + 1
            )
            earned = await streams_earnings(conn, [s.id for s in rows])
        creator_id = self.record.id
        return connection(
            rows,
            page,
            lambda s: s.id,
            lambda s: CreatorStream.earning(s, earned[s.id]),
            lambda conn: count_creator_streams(conn, creator_id),
        )

    @strawberry.field(
        description="Diamonds received from gifts per UTC day, from `since` to `until` (both "
        f"included, at most {earnings.MAX_DAYS} days), every day listed, zero when nothing came. "
        "Owner, FINANCE and ADMIN only."
    )
    async def earnings_by_day(
        self, info: Info[Context, None], since: date, until: date
    ) -> list[DayEarnings]:
        await info.context.require_money_of(self.record.id, "this user's earnings")
        try:
            earnings.check_range(since, until)
        except DomainError as refused:
            raise bad_input(refused.message, argument=refused.field or "since") from None
        async with info.context.eco.db.read() as conn:
            days = await earnings.earnings_by_day(conn, self.record.id, since, until)
        return [DayEarnings(day=d.day, diamonds=BigInt(d.diamonds), gifts=d.gifts) for d in days]
