"""Retries around provider calls (tenacity): exponential backoff with jitter on transient errors,
honouring the provider's Retry-After, bounded in attempts and total time, each retry logged.

Only `TransientProviderError` is retried. `UnknownOutcome` is never retried here: the outcome must
be looked up first. `PermanentProviderError` and configuration errors go straight to the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base

from kernel.metrics import PROVIDER_CALL_SECONDS, PROVIDER_FAULTS, PROVIDER_RETRIES
from providers.base import PayoutInstruction, PayoutProvider, PayoutResult
from providers.errors import (
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnknownOutcome,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. The n-th retry waits `initial * 2**(n-1)` seconds plus up to `jitter`
    seconds at random, capped at `max_backoff`, or the provider's Retry-After if longer. The call
    gives up (re-raising the last transient error) after `max_attempts` attempts, or before a wait
    that would end later than `max_total_seconds` after the first attempt began."""

    max_attempts: int = 5
    max_total_seconds: float = 60.0
    initial_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 10.0
    jitter_seconds: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in (
            "max_total_seconds",
            "initial_backoff_seconds",
            "max_backoff_seconds",
            "jitter_seconds",
        ):
            value = getattr(self, name)
            if not value >= 0:  # also refuses nan
                raise ValueError(f"{name} must not be negative, got {value}")

    def backoff(self) -> wait_base:
        """The wait strategy: exponential with jitter, at least the provider's Retry-After."""
        return wait_at_least_retry_after(
            wait_exponential_jitter(
                multiplier=self.initial_backoff_seconds,
                max=self.max_backoff_seconds,
                jitter=self.jitter_seconds,
            )
        )


DEFAULT_POLICY = RetryPolicy()


class wait_at_least_retry_after(wait_base):
    """Wait as `fallback` says, but never less than the `retry_after` the provider asked for."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self.fallback(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, TransientProviderError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


def _log_retry(what: str, labels: tuple[str, str] | None) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        if labels is not None:
            PROVIDER_RETRIES.labels(*labels).inc()
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        log.warning(
            "%s: attempt %d failed transiently (%s); retrying in %.2fs",
            what,
            retry_state.attempt_number,
            error,
            retry_state.upcoming_sleep,
        )

    return before_sleep


async def call_with_retries(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    what: str = "provider call",
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    labels: tuple[str, str] | None = None,
) -> T:
    """Run `operation` until it succeeds or fails other than transiently, within `policy`.
    Re-raises the last `TransientProviderError` when the policy is spent. `what` names the call in
    the retry log lines; `sleep` may be replaced in tests. With `labels` (the provider's slug and
    the call's name) every attempt is timed and its failures and retries counted."""
    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(policy.max_attempts) | stop_before_delay(policy.max_total_seconds),
        wait=policy.backoff(),
        retry=retry_if_exception_type(TransientProviderError),
        before_sleep=_log_retry(what, labels),
        reraise=True,
    )

    async def attempt() -> T:
        # A coroutine function, so that tenacity awaits each attempt (a lambda it would not).
        if labels is None:
            return await operation()
        with PROVIDER_CALL_SECONDS.labels(*labels).time():
            try:
                return await operation()
            except Exception as exc:
                PROVIDER_FAULTS.labels(*labels, _fault_kind(exc)).inc()
                raise

    result: T = await retrying(attempt)
    return result


async def submit_with_retries(
    provider: PayoutProvider,
    instruction: PayoutInstruction,
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PayoutResult:
    """Submit `instruction` with retries. Every attempt carries the same instruction, hence the
    same idempotency key, so the provider pays at most once however many attempts it takes.

    Raises `PermanentProviderError` or `UnknownOutcome` at once (look an unknown up with
    `lookup_with_retries`), or the last `TransientProviderError` once the policy is spent.
    """
    return await call_with_retries(
        lambda: provider.submit(instruction),
        policy,
        what=f"{provider.slug} submit of payout {instruction.payout_id}",
        sleep=sleep,
        labels=(provider.slug, "submit"),
    )


async def lookup_with_retries(
    provider: PayoutProvider,
    payout_id: str,
    provider_reference: str | None,
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> PayoutResult:
    """Look a payout up with retries on transient errors. A lookup changes nothing at the
    provider, so it is always safe to repeat. Raises `PayoutNotFound` when the provider has no
    such payout."""
    return await call_with_retries(
        lambda: provider.lookup(payout_id, provider_reference),
        policy,
        what=f"{provider.slug} lookup of payout {payout_id}",
        sleep=sleep,
        labels=(provider.slug, "lookup"),
    )


def _fault_kind(exc: Exception) -> str:
    """The `kind` label of a failed attempt."""
    kinds: tuple[tuple[type[Exception], str], ...] = (
        (TransientProviderError, "transient"),
        (PermanentProviderError, "permanent"),
        (UnknownOutcome, "unknown"),
        (ProviderConfigError, "config"),
        (PayoutNotFound, "not_found"),
    )
    return next((kind for error, kind in kinds if isinstance(exc, error)), "other")
