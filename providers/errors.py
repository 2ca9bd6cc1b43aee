"""Typed provider failures: transient (retry), permanent (the payout fails), unknown (look it up,
never assume), bad webhooks, bad configuration, and payee details a provider will not pay to."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from kernel.validation import unstorable

MAX_EVENT_ID_LENGTH = 255
"""The longest provider event id the pipeline records."""


def usable_event_id(value: object) -> bool:
    """Whether a provider's event id can be recorded as given: 1 to 255 characters of text
    that both databases store."""
    return (
        isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID_LENGTH and not unstorable(value)
    )


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


class UnappliableWebhook(ProviderError):
    """A verified webhook that cannot be applied (a field no value of ours can hold, such as a
    `created` time past year 9999): recorded and answered so the provider stops redelivering,
    and shown on the payout it names. `payout_reference` is ours (`diamonds-payout-<id>`),
    `provider_reference` the provider's, when the event carries them."""

    def __init__(
        self,
        provider: str,
        event_id: str,
        reason: str,
        *,
        payout_reference: str | None = None,
        provider_reference: str | None = None,
    ) -> None:
        super().__init__(provider, f"event {event_id} cannot be applied: {reason}")
        self.event_id = event_id
        self.reason = reason
        self.payout_reference = payout_reference
        self.provider_reference = provider_reference

    @classmethod
    def of_body(
        cls, provider: str, body: bytes, reason: str, event_id: object = None
    ) -> UnappliableWebhook:
        """A verified body that is not an event we can read: recorded under its `event_id` when
        that is usable text, else under `sha256:<hex>` of the body (the same for every
        redelivery of it, so it is recorded once)."""
        named = (
            event_id if usable_event_id(event_id) else f"sha256:{hashlib.sha256(body).hexdigest()}"
        )
        return cls(provider, str(named), reason)


class ProviderConfigError(ProviderError):
    """The provider is missing configuration or has bad credentials. `missing` names the
    variables that are not set, when that is the reason."""

    def __init__(self, provider: str, message: str, missing: Sequence[str] = ()) -> None:
        self.missing = tuple(missing)
        self.detail = message
        super().__init__(provider, message)


class PayoutNotFound(ProviderError):
    """A lookup found no payout for this id at the provider: nothing was paid. Submitting the same
    instruction again (same idempotency key) is safe inside the provider's idempotency window."""


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one payee field: `code` is `MISSING_FIELD`, `UNKNOWN_FIELD`,
    `INVALID_FIELD` or a more precise code of the provider's (`INVALID_IBAN`)."""

    field: str
    code: str
    message: str


class InvalidPayee(ProviderError):
    """A payout method's details that the provider will not pay to, one problem per bad field.
    Messages never repeat a secret value."""

    def __init__(self, provider: str, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        listed = "; ".join(f"{p.field}: {p.message}" for p in self.problems)
        super().__init__(provider, f"invalid payee details: {listed}")


class InvalidFieldValue(ValueError):
    """Raised by a `PayeeField.check` for a value it refuses, with a code more precise than
    `INVALID_FIELD` when it has one (`INVALID_IBAN`)."""

    def __init__(self, message: str, code: str = "INVALID_FIELD") -> None:
        self.code = code
        super().__init__(message)
