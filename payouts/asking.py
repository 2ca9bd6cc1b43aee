"""Asking a provider about one attempt before a decision relies on it (a webhook's reversal,
FINANCE's resolution or retry): a lookup with a few quick retries, and a cancel where it can.
"""

from __future__ import annotations

from dataclasses import dataclass

from payouts.attempts import Attempt
from providers.base import Capability, PayoutProvider, PayoutResult, PayoutState
from providers.errors import PayoutNotFound, PermanentProviderError, ProviderError
from providers.retry import RetryPolicy, call_with_retries, lookup_with_retries

ASKING = RetryPolicy(
    max_attempts=3,
    max_total_seconds=10.0,
    initial_backoff_seconds=0.2,
    max_backoff_seconds=2.0,
    jitter_seconds=0.1,
)
"""A person (or a webhook delivery) is waiting: a few quick tries, then say it failed."""


@dataclass(frozen=True)
class Answer:
    """What the provider said about an attempt: `said` when it answered, `missing` when it has no
    record of it, `unreachable` (with why) when it could not be asked or keeps failing."""

    said: PayoutResult | None = None
    missing: bool = False
    unreachable: str | None = None

    @property
    def state(self) -> PayoutState | None:
        return None if self.said is None else self.said.state


async def ask(
    provider: PayoutProvider | None, attempt: Attempt, slug: str, policy: RetryPolicy = ASKING
) -> Answer:
    """Look the attempt up at its provider. A lookup that cannot tell counts as unreachable."""
    if provider is None:
        return Answer(unreachable=f"the provider {slug!r} is not available here")
    if Capability.LOOKUP not in provider.capabilities:
        return Answer(unreachable=f"{slug} cannot look up a payout")
    try:
        said = await lookup_with_retries(
            provider, attempt.idempotency_key, attempt.provider_reference, policy
        )
    except (PayoutNotFound, PermanentProviderError):
        # As the dispatcher reads it: a lookup refused for good means no such payout there.
        return Answer(missing=True)
    except ProviderError as exc:
        return Answer(unreachable=str(exc))
    if said.state is PayoutState.UNKNOWN:
        return Answer(unreachable=f"{slug} could not tell what became of it")
    return Answer(said=said)


async def cancel(
    provider: PayoutProvider, attempt: Attempt, policy: RetryPolicy = ASKING
) -> Answer:
    """Ask the provider to cancel the attempt. `said` is its answer (CANCELED once confirmed);
    a provider that refuses or cannot cancel is `unreachable` with its reason."""
    if Capability.CANCEL not in provider.capabilities:
        return Answer(unreachable=f"{provider.slug} cannot cancel a payout")
    try:
        said = await call_with_retries(
            lambda: provider.cancel(attempt.idempotency_key, attempt.provider_reference),
            policy,
            what=f"{provider.slug} cancel of {attempt.idempotency_key}",
            labels=(provider.slug, "cancel"),
        )
    except ProviderError as exc:
        return Answer(unreachable=str(exc))
    return Answer(said=said)
