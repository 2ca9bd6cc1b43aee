"""Typed provider failures: transient (retry), permanent (the payout fails, with the provider's
code), unknown (look the outcome up, never assume), and bad webhooks or configuration.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Something went wrong talking to a payout provider."""

    def __init__(self, provider: str, message: str) -> None:
        self.provider = provider
        super().__init__(f"{provider}: {message}")


class TransientProviderError(ProviderError):
    """Worth retrying with the same idempotency key: rate limits, 5xx, a refused connection
    before anything was sent. `retry_after` is the provider's hint, in seconds."""

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(provider, message)


class PermanentProviderError(ProviderError):
    """The provider refused the payout as given; retrying cannot help."""

    def __init__(self, provider: str, code: str, message: str) -> None:
        self.code = code
        self.detail = message
        super().__init__(provider, f"{code}: {message}")


class UnknownOutcome(ProviderError):
    """The request may or may not have taken effect (a timeout, a dropped connection)."""


class WebhookVerificationError(ProviderError):
    """A webhook whose signature, timestamp or shape cannot be trusted."""


class ProviderConfigError(ProviderError):
    """The provider is missing configuration or has bad credentials."""


class PayoutNotFound(ProviderError):
    """A lookup found no payout for this id at the provider: nothing was paid. Submitting the same
    instruction again (same idempotency key) is safe inside the provider's idempotency window."""
