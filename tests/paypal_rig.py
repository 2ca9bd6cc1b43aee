"""A payout pipeline wired to the fake PayPal server over real HTTP: the rig, signed webhooks for
an item's status (current or made up and old), and what the provider and the ledger say left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from diamonds_fakes.paypal_server import FakeItem, FakePayPal

from economy.app import Economy
from economy.users import User
from ledger import verify_ledger
from ledger.accounts import find_account, read_balance, user_owner
from ledger.debts import diamonds_owed
from payouts.dispatch import Dispatcher
from payouts.service import PayoutService
from payouts.store import Payout, load_payout
from payouts.webhooks import Applied, payout_id_of, receive_webhook
from providers.errors import ProviderError
from providers.paypal import PayPalProvider
from providers.registry import ProviderRegistry
from providers.retry import submit_with_retries
from settings.payouts import PayoutPolicy

from .payout_fixtures import FAST_RETRIES, ScriptedGate
from .test_provider_paypal import config_for


@dataclass
class PayPalRig:
    eco: Economy
    fake: FakePayPal
    paypal: PayPalProvider
    svc: PayoutService

    @classmethod
    def build(cls, eco: Economy, fake: FakePayPal) -> PayPalRig:
        paypal = PayPalProvider(config_for(fake))
        registry = ProviderRegistry({}, discover=False)
        registry.register(paypal)
        svc = PayoutService(
            eco=eco,
            gate=ScriptedGate(),
            providers=registry,
            policy=PayoutPolicy(
                minimum_minor=100,
                daily_cap_minor=10**12,
                approval_threshold_minor=10**12,
                retry_base_seconds=0,
                lookup_after_seconds=0,
                max_dispatch_attempts=3,
            ),
            asking=FAST_RETRIES,
        )
        return cls(eco, fake, paypal, svc)

    def worker(self, name: str = "w1") -> Dispatcher:
        async def submit(provider: Any, instruction: Any) -> Any:
            return await submit_with_retries(provider, instruction, FAST_RETRIES)

        return Dispatcher(self.svc, name=name, submit=submit)

    async def reload(self, payout: Payout) -> Payout:
        async with self.eco.db.read() as conn:
            found = await load_payout(conn, payout.id)
        assert found is not None
        return found

    def items_of(self, payout: Payout) -> list[FakeItem]:
        """The fake's items for every attempt of the payout, oldest first."""
        return [
            item
            for item in self.fake.items.values()
            if (payout_id_of(item.sender_batch_id) or (0, 0))[0] == payout.id
        ]

    def paid_at_provider(self, payout: Payout) -> list[FakeItem]:
        return [i for i in self.items_of(payout) if i.status == "SUCCESS"]

    def minor_paid_at_provider(self, payout: Payout) -> int:
        return sum(
            int(Decimal(str(i.item["amount"]["value"])) * 100)
            for i in self.paid_at_provider(payout)
        )

    async def minor_paid_by_ledger(self, creator: User, currency: str = "USD") -> int:
        """What the ledger says left for the creator: their payouts_received cash account."""
        async with self.eco.db.read() as conn:
            account = await find_account(conn, user_owner(creator.id), "payouts_received", currency)
            return 0 if account is None else (await read_balance(conn, account.id)).balance

    async def owed(self, creator: User) -> int:
        async with self.eco.db.read() as conn:
            return await diamonds_owed(conn, creator.id)

    async def diamonds(self, creator: User) -> tuple[int, int]:
        async with self.eco.db.read() as conn:
            balance = await read_balance(conn, creator.diamond_account_id)
        return balance.balance, balance.available

    async def deliver(self, event: dict[str, Any]) -> list[Applied]:
        """Hand a signed delivery of `event` to the webhook path, as `/webhooks/paypal` does."""
        body = json.dumps(event).encode()
        return await receive_webhook(self.svc, self.paypal, self.fake.sign(body), body)

    async def deliver_current(self, payout: Payout) -> list[str]:
        """Deliver the webhook of every attempt's current item status (not PENDING); a 503
        (the confirming lookup failed) counts as 'redeliver'."""
        outcomes: list[str] = []
        for item in self.items_of(payout):
            if item.status == "PENDING":
                continue
            try:
                applied = await self.deliver(self.fake.event_for_item(item))
            except ProviderError:
                outcomes.append("redeliver")
                continue
            outcomes.extend(a.outcome for a in applied)
        return outcomes

    def old_event(self, item: FakeItem, event_type: str, create_time: str) -> dict[str, Any]:
        event = self.fake.event_for_item(item, event_type)
        event["create_time"] = create_time
        return event

    async def ledger_is_clean(self) -> None:
        async with self.eco.db.read() as conn:
            assert await verify_ledger(conn) == []
