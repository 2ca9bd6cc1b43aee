"""`node(id:)`: any object by its global id, with the visibility rules of everywhere else: a wallet
or a sent gift only for those whose money it shows (or FINANCE and ADMIN), a staff user for staff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry
from strawberry.types import Info

from economy.gifting import gift_sent_by_id
from economy.users import owner_of_account
from graph.context import Context
from graph.errors import bad_input
from graph.gifts.types import Gift, GiftSend
from graph.global_ids import MalformedId, Node, from_global_id
from graph.payouts.types import Payout
from graph.streams.types import LiveStream
from graph.users.types import User
from graph.wallets.types import Asset, Wallet
from payouts.store import load_payout

Resolver = Callable[[Context, int], Awaitable[Node | None]]


async def _user(ctx: Context, pk: int) -> Node | None:
    found = await ctx.loaders.user.load(pk)
    return User.of(found) if found and ctx.may_see_user(found) else None


async def _gift(ctx: Context, pk: int) -> Node | None:
    found = await ctx.loaders.gift.load(pk)
    return Gift.of(found) if found else None


async def _stream(ctx: Context, pk: int) -> Node | None:
    found = await ctx.loaders.stream.load(pk)
    return LiveStream.of(found) if found else None


async def _wallet(ctx: Context, pk: int) -> Node | None:
    async with ctx.eco.db.read() as conn:
        owner = await owner_of_account(conn, pk)
    if owner is None or not await ctx.may_see_money_of(owner.id):
        return None
    asset = Asset.COIN if owner.coin_account_id == pk else Asset.DIAMOND
    return Wallet.of(pk, owner.id, asset)


async def _gift_send(ctx: Context, pk: int) -> Node | None:
    async with ctx.eco.db.read() as conn:
        sent = await gift_sent_by_id(conn, pk)
    if sent is None:
        return None
    if await ctx.may_see_money_of(sent.sender_id) or await ctx.may_see_money_of(sent.creator_id):
        return GiftSend.of(sent)
    return None


async def _payout(ctx: Context, pk: int) -> Node | None:
    async with ctx.eco.db.read() as conn:
        found = await load_payout(conn, pk)
    if found is None or not await ctx.may_see_money_of(found.user_id):
        return None
    return Payout.of(found)


RESOLVERS: dict[str, Resolver] = {
    "User": _user,
    "Gift": _gift,
    "LiveStream": _stream,
    "Wallet": _wallet,
    "GiftSend": _gift_send,
    "Payout": _payout,
}


async def resolve_node(info: Info[Context, None], id: strawberry.ID) -> Node | None:
    """The object behind a global id; null when it does not exist or is not yours to see."""
    try:
        type_name, pk = from_global_id(id)
    except MalformedId:
        raise bad_input(f"{id!r} is not a valid id", argument="id") from None
    resolver = RESOLVERS.get(type_name)
    return None if resolver is None else await resolver(info.context, pk)
