"""The payout provider contract: provider-neutral data classes for an instruction, its result and a
webhook's status update, and the small interface every provider implements.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar


class PayoutState(enum.StrEnum):
    """Where a payout stands at the provider, in our words."""

    PENDING = "PENDING"
    """Accepted by the provider, not settled yet (in transit, processing, unclaimed so far)."""
    PAID = "PAID"
    FAILED = "FAILED"
    """Will not be paid; the amount never left (or came straight back)."""
    RETURNED = "RETURNED"
    """Was paid, then came back (a bank return, an unclaimed PayPal payment, a reversal)."""
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"
    """We could not learn the outcome: look it up, never assume."""


class Capability(enum.StrEnum):
    LOOKUP = "LOOKUP"
    """Can answer what became of a payout (after a timeout, say)."""
    CANCEL = "CANCEL"
    """Can cancel a payout that has not settled."""
    WEBHOOKS = "WEBHOOKS"
    """Pushes signed status updates."""
    BATCH_FILES = "BATCH_FILES"
    """Settles through files exchanged with a bank rather than an API call per payout."""


@dataclass(frozen=True)
class Payee:
    """Where the money goes. Each provider reads the fields it needs and refuses (permanently)
    an instruction that lacks them."""

    name: str
    country: str
    """ISO 3166-1 alpha-2."""
    email: str | None = None
    stripe_account: str | None = None
    """A Stripe Connect account id, `acct_...`."""
    iban: str | None = None
    bic: str | None = None
    ach_routing_number: str | None = None
    ach_account_number: str | None = None
    ach_account_type: str | None = None
    """`checking` or `savings`."""


@dataclass(frozen=True)
class PayoutInstruction:
    """Pay `amount_minor` of `currency` to `payee`, once. `idempotency_key` is derived from our
    payout's id and is the same on every retry and every re-run."""

    payout_id: str
    idempotency_key: str
    amount_minor: int
    currency: str
    payee: Payee
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PayoutResult:
    """What the provider said about a payout."""

    payout_id: str
    state: PayoutState
    provider_reference: str | None = None
    """The provider's own id for it (`po_...`, a PayPal batch id, a file and line)."""
    raw_status: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A verified webhook's news about one payout."""

    event_id: str
    """The provider's event id: the same event delivered twice is applied once."""
    state: PayoutState
    occurred_at: datetime
    payout_id: str | None = None
    provider_reference: str | None = None
    raw_type: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


class PayoutProvider(ABC):
    """One way to pay creators. Providers never touch the database: the payout pipeline gives
    them instructions and records what they answer."""

    slug: ClassVar[str]
    """Stable lower-case name, e.g. `stripe`, `paypal`, `sepa`."""
    currencies: ClassVar[frozenset[str]]
    countries: ClassVar[frozenset[str] | None] = None
    """Payee countries served; None means any."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    idempotency_window: ClassVar[timedelta | None] = None
    """How long the provider remembers an idempotency key (Stripe: 24 hours; PayPal's
    sender_batch_id: 30 days); None when it never forgets. Past it, a payout whose outcome is
    unknown must not be submitted again: an operator resolves it."""

    @abstractmethod
    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        """Hand the payout to the provider, idempotently.

        Raises `TransientProviderError` (safe to retry with the same key),
        `PermanentProviderError` (it will never go through as given) or `UnknownOutcome` (a timeout
        or a dropped connection: the payout may or may not exist now).
        """

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        """What became of a payout. Providers with `Capability.LOOKUP` override this."""
        raise NotImplementedError(f"{self.slug} cannot look up a payout")

    async def cancel(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        """Cancel a payout that has not settled. Providers with `Capability.CANCEL` override."""
        raise NotImplementedError(f"{self.slug} cannot cancel a payout")

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """Verify a webhook delivery and read the status updates it carries. Raises
        `WebhookVerificationError` when the signature does not hold. Providers with
        `Capability.WEBHOOKS` override this."""
        raise NotImplementedError(f"{self.slug} does not send webhooks")

    def fee_minor(self, amount_minor: int, currency: str) -> int:
        """The provider's fee for a payout, passed through to the creator. None by default."""
        del amount_minor, currency
        return 0

    def serves(self, currency: str, country: str) -> bool:
        return currency in self.currencies and (self.countries is None or country in self.countries)

    async def close(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release connections and threads."""
