"""The wallets' subscription: `walletChanged`, the caller's own coin and diamond wallets as they
move. It takes no user: nobody can follow another's wallets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from economy import events
from economy.fanout import SubscriberTooSlow
from graph.context import Context
from graph.live_feeds import paced, too_slow
from graph.permissions import IsAuthenticated
from graph.scalars import BigInt
from graph.wallets.types import Asset, Wallet, WalletUpdate


@strawberry.type
class WalletSubscriptions:
    @strawberry.subscription(
        permission_classes=[IsAuthenticated],
        description="The caller's own coin and diamond wallets: first where each stands now "
        "(reason CURRENT), then as they move. Changes within one delivery tick come summed up "
        "in one message per wallet.",
    )
    async def wallet_changed(self, info: Info[Context, None]) -> AsyncGenerator[WalletUpdate, None]:
        context = info.context
        user = await context.user()
        tick = context.eco.settings.live_tick_ms / 1000
        with context.eco.events.subscribe(events.wallet_topic(user.id)) as subscription:
            try:
                async for batch in paced(subscription, tick):
                    if batch is None:  # first: where the wallets stand now
                        for account_id, held in (
                            (user.coin_account_id, Asset.COIN),
                            (user.diamond_account_id, Asset.DIAMOND),
                        ):
                            yield WalletUpdate(
                                wallet=Wallet.of(account_id, user.id, held),
                                change=BigInt(0),
                                reason="CURRENT",
                                transactions=0,
                            )
                        continue
                    changes: dict[tuple[int, str], list[events.WalletChanged]] = defaultdict(list)
                    for event in batch:
                        if isinstance(event, events.WalletChanged) and event.user_id == user.id:
                            changes[(event.account_id, event.asset)].append(event)
                    # Balances are read afresh for each message, not from an earlier one's cache.
                    context.loaders = context.loaders.fresh()
                    for (account_id, asset_name), moved in changes.items():
                        yield WalletUpdate(
                            wallet=Wallet.of(account_id, user.id, Asset(asset_name)),
                            change=BigInt(sum(e.change for e in moved)),
                            reason=moved[-1].reason,
                            transactions=len(moved),
                        )
            except SubscriberTooSlow as exc:
                raise too_slow(exc) from None
