"""A small in-memory payout provider that keeps its own books like a real one (idempotent by key,
scripted faults and outcomes, HMAC-signed webhooks), and the fixtures the payout tests share.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.gate.rules import Eligibility, Requirement
from economy.app import Economy
from economy.catalog import list_gifts, put_gift
from economy.gifting import send_gift
from economy.streams import end_stream, start_stream
from economy.users import User
from kernel.clock import utcnow
from ledger import verify_ledger
from payouts.service import PayoutService
from providers.base import (
    Capability,
    Payee,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
    StatusUpdate,
)
from providers.errors import (
    PermanentProviderError,
    TransientProviderError,
    UnknownOutcome,
    WebhookVerificationError,
)
from providers.registry import ProviderRegistry
from providers.retry import RetryPolicy
from settings.payouts import PayoutPolicy

WEBHOOK_SECRET = b"ledgerbank-webhook-secret"
_serial = itertools.count(1)


@dataclass
class LedgerBank(PayoutProvider):
    """Pays from its own books. `script` lists what the next submits do: "ok", "transient",
    "unknown" (records the payment, then loses the answer), "unknown-before" (loses the request),
    or a failure code such as "account_closed"."""

    slug = "ledgerbank"
    currencies = frozenset({"USD", "EUR"})
    capabilities = frozenset({Capability.LOOKUP, Capability.WEBHOOKS})
    idempotency_window = timedelta(hours=24)

    script: list[str] = field(default_factory=list)
    fee: int = 0
    paid: dict[str, PayoutInstruction] = field(default_factory=dict)
    submits: int = 0
    settled: dict[str, PayoutState] = field(default_factory=dict)
    """What the bank's own books say of a reference when asked (else PAID once submitted)."""

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        self.submits += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "transient":
            raise TransientProviderError(self.slug, "busy", retry_after=0)
        if step == "unknown-before":
            raise UnknownOutcome(self.slug, "connection dropped before the request arrived")
        if step not in ("ok", "unknown"):
            raise PermanentProviderError(self.slug, step, f"the bank said {step}")
        self.paid.setdefault(instruction.idempotency_key, instruction)
        if step == "unknown":
            raise UnknownOutcome(self.slug, "timed out waiting for the answer")
        return PayoutResult(
            instruction.payout_id, PayoutState.PENDING, provider_reference=self._ref(instruction)
        )

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        if payout_id in self.settled:
            return PayoutResult(
                payout_id, self.settled[payout_id], provider_reference=f"lb_{payout_id}"
            )
        for instruction in self.paid.values():
            if instruction.payout_id == payout_id:
                return PayoutResult(
                    payout_id, PayoutState.PAID, provider_reference=self._ref(instruction)
                )
        raise PermanentProviderError(self.slug, "not_found", f"no payout {payout_id}")

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        expected = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("X-Signature", "")):
            raise WebhookVerificationError(self.slug, "bad signature")
        event = json.loads(body)
        return [
            StatusUpdate(
                event_id=event["id"],
                state=PayoutState(event["state"]),
                occurred_at=utcnow(),
                payout_id=event.get("payout"),
                failure_code=event.get("code"),
                raw_type=event.get("type"),
            )
        ]

    def fee_minor(self, amount_minor: int, currency: str) -> int:
        return self.fee

    @staticmethod
    def _ref(instruction: PayoutInstruction) -> str:
        return "lb_" + instruction.idempotency_key

    def payments_to(self, reference_prefix: str) -> int:
        return sum(1 for i in self.paid.values() if i.payout_id.startswith(reference_prefix))


def signed(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(event).encode()
    signature = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
    return {"X-Signature": signature, "Content-Type": "application/json"}, body


@dataclass
class ScriptedGate:
    """Compliance as the test says: eligible unless `blocked` lists requirements."""

    blocked: list[Requirement] = field(default_factory=list)
    withholding_bps: int = 0
    payee_missing: bool = False

    async def check(self, conn: AsyncConnection, **_: Any) -> Eligibility:
        return Eligibility(not self.blocked, tuple(self.blocked), self.withholding_bps)

    async def payee(self, conn: AsyncConnection, **_: Any) -> Payee | None:
        if self.payee_missing:
            return None
        return Payee("Cat Creator", "US", {"email": "cat@example.com"})


FAST_RETRIES = RetryPolicy(
    max_attempts=3,
    max_total_seconds=2,
    initial_backoff_seconds=0,
    max_backoff_seconds=0,
    jitter_seconds=0,
)


@dataclass
class Rig:
    eco: Economy
    bank: LedgerBank
    gate: ScriptedGate
    svc: PayoutService


@pytest.fixture
def bank() -> LedgerBank:
    return LedgerBank()


@pytest.fixture
def gate() -> ScriptedGate:
    return ScriptedGate()


@pytest.fixture
async def rig(economy: Economy, bank: LedgerBank, gate: ScriptedGate) -> Rig:
    registry = ProviderRegistry({}, discover=False)
    registry.register(bank)
    svc = PayoutService(
        eco=economy,
        gate=gate,
        providers=registry,
        policy=PayoutPolicy(
            minimum_minor=100,
            daily_cap_minor=100_000,
            approval_threshold_minor=50_000,
            retry_base_seconds=0,
            lookup_after_seconds=3_600,
            max_dispatch_attempts=3,
        ),
    )
    return Rig(economy, bank, gate, svc)


@pytest.fixture
def rich_creator(economy: Economy, funded_viewer: Any) -> Callable[..., Awaitable[User]]:
    """`await rich_creator(diamonds)`: a creator who earned exactly that many diamonds (even)."""

    async def make(diamonds: int, subject: str | None = None) -> User:
        creator = await economy.users.ensure(subject or f"creator:{next(_serial)}")
        # The default rate gives the creator one diamond per coin: one gift priced `diamonds`.
        viewer = await funded_viewer(diamonds)
        name = f"Treasure {diamonds}"
        async with economy.db.write() as conn:
            await put_gift(conn, name, diamonds)
        async with economy.db.read() as conn:
            treasure = next(g for g in await list_gifts(conn) if g.name == name)
        stream = await start_stream(economy, creator, "earning")
        await send_gift(
            economy, viewer, stream_id=stream.id, gift_id=treasure.id, quantity=1, key="earn"
        )
        await end_stream(economy, creator, stream.id, may_end_any=False)
        return creator

    return make


async def ledger_is_clean(eco: Economy) -> None:
    async with eco.db.read() as conn:
        assert await verify_ledger(conn) == []
