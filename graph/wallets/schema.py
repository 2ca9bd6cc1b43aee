"""The wallets' root fields: `grantCoins` for admins. Wallets are read through their users."""

from __future__ import annotations

import strawberry

from graph.permissions import IsAdmin
from graph.wallets.mutations.grant_coins import GrantCoinsPayload, grant_coins


@strawberry.type
class WalletMutations:
    grant_coins: GrantCoinsPayload | None = strawberry.mutation(
        resolver=grant_coins,
        permission_classes=[IsAdmin],
        description="Grant promotional coins (ADMIN only; audited).",
    )
