"""The per-request context: the economy, compliance's services, the caller, and the caller's user
record (created on first sight), with the one rule for money: your own, or everyone's for FINANCE
and ADMIN; and the one rule for staff accounts: shown only to staff and to themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from aiohttp import web

from compliance.service import Compliance
from economy.app import Economy
from economy.purchases.setup import PurchaseService
from economy.users import User
from graph.auth import Principal
from graph.errors import ApiError, forbidden, unauthenticated
from graph.loaders import Loaders
from payouts.service import PayoutService
from providers.registry import ProviderRegistry


@dataclass
class Context:
    eco: Economy
    principal: Principal
    request: web.Request | None = None
    response: web.StreamResponse | None = None
    payouts: PayoutService | None = None
    purchases: PurchaseService | None = None
    loaders: Loaders = field(init=False)
    compliance: Compliance = field(init=False)
    """Compliance's services, on the economy's database and settings."""
    _user: User | None = field(default=None, init=False)
    over_websocket: ClassVar[bool] = False
    """The caller is connected by websocket (`graph.websocket`): it signs in at connection_init."""

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.eco)
        self.compliance = Compliance(self.eco.db, self.eco.settings)

    async def user(self) -> User:
        """The caller's user record; UNAUTHENTICATED without a token."""
        if self.principal.subject is None:
            raise unauthenticated(websocket=self.over_websocket)
        if self._user is None:
            self._user = await self.eco.users.ensure(
                self.principal.subject, staff=self.principal.is_staff
            )
        return self._user

    def may_see_user(self, user: User) -> bool:
        """Staff accounts are shown only to staff and to themselves; everyone else to anyone.
        A field that would show a hidden user shows null (as for a user that does not exist)."""
        return (
            not user.is_staff or self.principal.is_staff or user.subject == self.principal.subject
        )

    def payout_service(self) -> PayoutService:
        if self.payouts is None:
            raise ApiError("PAYOUTS_UNAVAILABLE", "payouts are not configured on this server")
        return self.payouts

    def provider_registry(self) -> ProviderRegistry:
        """The payout providers: the payout service's, or (on a server without payouts) the
        registered ones, read from their entry points for what they declare."""
        if self.payouts is not None:
            return self.payouts.providers
        return ProviderRegistry()

    async def release_provider_registry(self, registry: ProviderRegistry) -> None:
        """Close what a registry of `provider_registry`'s own making built."""
        if self.payouts is None or registry is not self.payouts.providers:
            await registry.close()

    async def may_see_money_of(self, user_id: int) -> bool:
        if self.principal.sees_all_money:
            return True
        if not self.principal.authenticated:
            return False
        return (await self.user()).id == user_id

    async def require_money_of(self, user_id: int, what: str) -> None:
        if not self.principal.authenticated:
            raise unauthenticated(websocket=self.over_websocket)
        if not await self.may_see_money_of(user_id):
            raise forbidden(f"see {what}")
