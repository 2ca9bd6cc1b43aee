"""The two fake providers the simulation pays through, behind one shape: PayPal (one item per
attempt) and Stripe Connect (a transfer, then a payout to the bank), each over real HTTP, with
what it holds paid for each of our payouts, its own moves and its webhooks.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from diamonds_fakes.faults import Fault, FaultInjector
from diamonds_fakes.paypal_server import FakeItem, FakePayPal
from diamonds_fakes.stripe_server import FakeStripe

from providers.base import Payee, PayoutProvider
from providers.config import StripeConfig
from providers.paypal import PayPalConfig, PayPalProvider
from providers.stripe import StripeProvider

TIMEOUT_SECONDS = 0.5
"""The clients' bound on one exchange: a hang past it is an unknown outcome."""

OLD_EVENT_TIME = datetime(2024, 6, 1)
"""An old webhook's time: before every event the simulation dates."""


@dataclass(frozen=True)
class Payment:
    """One payment the provider made (or holds) for an attempt of one of our payouts."""

    reference: str
    """Our reference `diamonds-payout-<id>[-n]`: stable from run to run (the fake's ids are not)."""
    status: str
    minor: int
    paid: bool
    """The provider holds it paid now."""
    ever_paid: bool
    """It was paid at some point (and may have come back since)."""


def payout_of(reference: str | None) -> int | None:
    if not reference or not reference.startswith("diamonds-payout-"):
        return None
    return int(reference.split("-")[2])


class _FakeServer(Protocol):
    faults: FaultInjector

    async def stop(self) -> None: ...

    def add_fault(self, fault: Fault) -> Fault: ...


class _OverHttp:
    """What both simulated providers do alike with their fake server and client."""

    fake: _FakeServer
    provider: PayoutProvider | None

    async def close(self) -> None:
        self.fake.faults.clear()
        if self.provider is not None:
            await self.provider.close()
        await self.fake.stop()

    def add_fault(self, fault: Fault) -> Fault:
        return self.fake.add_fault(fault)

    def clear_faults(self) -> None:
        self.fake.faults.clear()


@dataclass
class SimPayPal(_OverHttp):
    fake: FakePayPal = field(default_factory=FakePayPal)
    provider: PayPalProvider | None = None
    reached: list[tuple[FakeItem, str]] = field(default_factory=list)

    slug = "paypal"
    write_path = "/v1/payments/payouts"
    read_paths = ("/v1/payments/payouts/",)
    MOVES = ("SUCCESS", "SUCCESS", "FAILED", "UNCLAIMED", "RETURNED", "ONHOLD", "PENDING")
    EVENTS = {"SUCCESS": "SUCCEEDED", "FAILED": "FAILED", "UNCLAIMED": "UNCLAIMED"} | {
        "RETURNED": "RETURNED"
    }

    async def start(self) -> PayoutProvider:
        await self.fake.start()
        self.provider = paypal_provider(self.wiring(), TIMEOUT_SECONDS)
        return self.provider

    def wiring(self) -> dict[str, str]:
        """How a client reaches this fake (a worker in another process too)."""
        return {
            "client_id": self.fake.settings.client_id,
            "client_secret": self.fake.settings.client_secret,
            "api_base": self.fake.url,
            "webhook_id": self.fake.settings.webhook_id,
        }

    def written(self) -> int:
        """How many payout requests took effect: a crash waits for one more."""
        return len(self.fake.batches)

    def payee(self, user_id: int) -> Payee:
        return paypal_payee(user_id)

    def items(self) -> list[FakeItem]:
        found = [i for i in self.fake.items.values() if payout_of(i.sender_batch_id) is not None]
        return sorted(found, key=lambda i: _order(i.sender_batch_id or ""))

    def payments(self) -> dict[int, list[Payment]]:
        found: dict[int, list[Payment]] = defaultdict(list)
        for item in self.items():
            ref = item.sender_batch_id or ""
            minor = int(Decimal(str(item.item["amount"]["value"])) * 100)
            paid = item.status == "SUCCESS"
            ever = paid or any(i is item and s == "SUCCESS" for i, s in self.reached)
            found[payout_of(ref) or 0].append(Payment(ref, item.status, minor, paid, ever))
        return found

    def move(self, rng: random.Random, when: datetime) -> str:
        items = self.items()
        if not items:
            return "PayPal: nothing to move"
        item = items[rng.randrange(len(items))]
        status = rng.choice(self.MOVES)
        try:
            self.fake.set_item_status(item.payout_item_id, status)
        except ValueError:
            return f"PayPal: {item.sender_batch_id} stays {item.status} (not {status})"
        if status in self.EVENTS:
            self.reached.append((item, status))
        return f"PayPal moved {item.sender_batch_id} to {status}"

    def collect(self, when: datetime) -> None:
        """PayPal's events are made when they are delivered: nothing to collect."""

    def current_events(self, when: datetime) -> list[tuple[str, dict[str, Any]]]:
        """The webhook of every item's current status (not pending), dated `when`."""
        events = []
        for item in self.items():
            if item.status != "PENDING":
                events.append((item.sender_batch_id or "", self._dated(item, None, when)))
        return events

    def old_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Events PayPal really sent earlier, arriving late."""
        return [
            (item.sender_batch_id or "", self._dated(item, self.EVENTS[s], OLD_EVENT_TIME))
            for item, s in self.reached
        ]

    def _dated(self, item: FakeItem, kind: str | None, when: datetime) -> dict[str, Any]:
        event = self.fake.event_for_item(item, kind)
        event["create_time"] = when.isoformat(timespec="milliseconds") + "Z"
        return event

    def signed(self, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        body = json.dumps(event).encode()
        return self.fake.sign(body), body

    @staticmethod
    def kind(event: dict[str, Any]) -> str:
        return str(event["event_type"]).rsplit(".", 1)[-1]


@dataclass
class SimStripe(_OverHttp):
    fake: FakeStripe = field(default_factory=FakeStripe)
    provider: StripeProvider | None = None
    accounts: dict[int, str] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Every event the fake emitted about our payouts, dated by the simulation, oldest first."""
    ever_paid: set[str] = field(default_factory=set)
    seen: int = 0

    slug = "stripe"
    write_path = "/v1/payouts"
    read_paths = ("/v1/transfers", "/v1/payouts/")
    MOVES = ("paid", "paid", "in_transit", "failed", "canceled")

    async def start(self) -> PayoutProvider:
        await self.fake.start()
        self.provider = stripe_provider(self.wiring(), TIMEOUT_SECONDS)
        return self.provider

    def wiring(self) -> dict[str, str]:
        """How a client reaches this fake (a worker in another process too)."""
        return {
            "api_key": self.fake.secret_key,
            "api_base": self.fake.url,
            "webhook_secret": self.fake.webhook_secret,
        }

    def written(self) -> int:
        return len(self.fake.payouts)

    def payee(self, user_id: int) -> Payee:
        if user_id not in self.accounts:
            self.accounts[user_id] = self.fake.create_account()
        return stripe_payee(user_id, self.accounts[user_id])

    def ours(self) -> list[dict[str, Any]]:
        found = [
            p
            for p in self.fake.payouts.values()
            if payout_of(p["metadata"].get("payout_id")) is not None
        ]
        return sorted(found, key=lambda p: _order(p["metadata"]["payout_id"]))

    def payments(self) -> dict[int, list[Payment]]:
        found: dict[int, list[Payment]] = defaultdict(list)
        for payout in self.ours():
            ref = payout["metadata"]["payout_id"]
            paid = payout["status"] == "paid"
            ever = paid or payout["id"] in self.ever_paid
            found[payout_of(ref) or 0].append(
                Payment(ref, payout["status"], int(payout["amount"]), paid, ever)
            )
        return found

    def move(self, rng: random.Random, when: datetime) -> str:
        ours = self.ours()
        if not ours:
            return "Stripe: nothing to move"
        payout = ours[rng.randrange(len(ours))]
        status = rng.choice(self.MOVES)
        ref = payout["metadata"]["payout_id"]
        if payout["status"] == status:
            return f"Stripe: {ref} is already {status}"
        try:
            self.fake.advance_payout(payout["id"], status)
        except ValueError:
            return f"Stripe: {ref} stays {payout['status']} (not {status})"
        if status == "paid":
            self.ever_paid.add(payout["id"])
        self.collect(when)
        return f"Stripe moved {ref} to {status}"

    def collect(self, when: datetime) -> None:
        """Take the events the fake emitted since last time, dated `when` (not the real clock)."""
        for event in self.fake.events[self.seen :]:
            obj = event["data"]["object"]
            ref = str((obj.get("metadata") or {}).get("payout_id") or "")
            if event["type"].startswith("payout.") and payout_of(ref) is not None:
                dated = json.loads(json.dumps(event))
                dated["created"] = int(when.timestamp())
                self.events.append((ref, dated))
        self.seen = len(self.fake.events)

    def current_events(self, when: datetime) -> list[tuple[str, dict[str, Any]]]:
        """The latest event about each of our payouts (dated when it was emitted)."""
        latest: dict[str, dict[str, Any]] = {}
        for ref, event in self.events:
            latest[ref] = event
        return sorted(latest.items(), key=lambda pair: _order(pair[0]))

    def old_events(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self.events)

    def signed(self, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        return self.fake.webhook_delivery(event)

    @staticmethod
    def kind(event: dict[str, Any]) -> str:
        return str(event["type"])


SimProvider = SimPayPal | SimStripe


def paypal_provider(wiring: dict[str, str], timeout: float) -> PayPalProvider:
    return PayPalProvider(
        PayPalConfig(
            client_id=wiring["client_id"],
            client_secret=wiring["client_secret"],
            api_base=wiring["api_base"],
            webhook_id=wiring["webhook_id"],
            cert_hosts=("http://127.0.0.1",),
            timeout_seconds=timeout,
        )
    )


def stripe_provider(wiring: dict[str, str], timeout: float) -> StripeProvider:
    return StripeProvider(
        StripeConfig(
            api_key=wiring["api_key"],
            api_base=wiring["api_base"],
            webhook_secret=wiring["webhook_secret"],
            timeout_seconds=timeout,
        )
    )


def paypal_payee(user_id: int) -> Payee:
    return Payee(f"Creator {user_id}", "US", {"email": f"creator{user_id}@example.com"})


def stripe_payee(user_id: int, account_id: str) -> Payee:
    return Payee(f"Creator {user_id}", "US", {"account_id": account_id})


def _order(reference: str) -> tuple[int, int]:
    parts = reference.split("-")
    return int(parts[2]), int(parts[3]) if len(parts) > 3 else 1
