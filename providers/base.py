"""The payout provider contract: the data classes of an instruction, its result, a status update
and the payee details a provider asks for, and the interface every provider implements."""

from __future__ import annotations

import enum
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

from kernel.validation import unstorable
from providers.errors import (
    FieldProblem,
    InvalidFieldValue,
    InvalidPayee,
    UnappliableWebhook,
    usable_event_id,
)

if TYPE_CHECKING:
    from providers.records import ProviderRecord


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
    RECONCILE = "RECONCILE"
    """Can list what it paid in a period from its own records (`settled_records`)."""


@dataclass(frozen=True)
class PayeeField:
    """One detail a provider needs about a payee (an email, an IBAN), as a form shows it.

    `name` is the key in `Payee.fields` and in `addPayoutMethod`'s `fields` (lower-case, `a-z`,
    digits and `_`). A `secret` field is encrypted at rest and shown masked to its last four
    characters. A value is stripped of surrounding blanks, must match `pattern` (a regular
    expression for the whole value) when there is one, then goes through `check`, which returns
    the normalized value or raises `ValueError` with a message for the payee (never repeating a
    secret value)."""

    name: str
    label: str
    required: bool = True
    secret: bool = False
    pattern: str | None = None
    check: Callable[[str], str] | None = field(default=None, compare=False, repr=False)
    help: str = ""
    """What the value looks like, for the form (`acct_...`, `checking or savings`)."""
    max_length: int = 200
    """At most `MAX_FIELD_LENGTH`."""


@dataclass(frozen=True)
class Payee:
    """Where the money goes: the payee's name and country, and `fields`, the verified values of
    the provider's `payee_fields` by name (secret ones in clear only inside an instruction).
    Each provider reads the fields it needs and refuses (permanently) an instruction that lacks
    them; the properties below read the built-in providers' fields."""

    name: str
    country: str
    """ISO 3166-1 alpha-2."""
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> str | None:
        """The field's value, or None when it is absent or blank."""
        value = self.fields.get(name)
        return value if value is not None and value.strip() else None

    @property
    def email(self) -> str | None:
        """PayPal: the PayPal account's email address."""
        return self.get("email")

    @property
    def stripe_account(self) -> str | None:
        """Stripe: a Stripe Connect account id, `acct_...`."""
        return self.get("account_id")

    @property
    def iban(self) -> str | None:
        """SEPA: the IBAN."""
        return self.get("iban")

    @property
    def bic(self) -> str | None:
        """SEPA: the BIC."""
        return self.get("bic")

    @property
    def ach_routing_number(self) -> str | None:
        return self.get("routing_number")

    @property
    def ach_account_number(self) -> str | None:
        return self.get("account_number")

    @property
    def ach_account_type(self) -> str | None:
        """`checking` or `savings`."""
        return self.get("account_type")


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


def unappliable_update(provider: str, update: StatusUpdate) -> UnappliableWebhook | None:
    """Why a verified webhook's update cannot be applied, whichever provider read it: an event
    id that is not usable text, a time no aware UTC datetime can hold, a field of the wrong type
    or with text no database stores. None when it can be applied."""
    references = {"payout_id": update.payout_id, "provider_reference": update.provider_reference}
    problem = None
    for name, value in {
        **references,
        "raw_type": update.raw_type,
        "failure_code": update.failure_code,
    }.items():
        if value is not None and (not isinstance(value, str) or unstorable(value)):
            problem = problem or f"{name} {value!r:.40} is not usable text"
    message = update.failure_message
    if message is not None and (not isinstance(message, str) or _unstorable_message(message)):
        problem = problem or "failure_message is not usable text"
    if not isinstance(update.state, PayoutState):
        problem = problem or f"state {update.state!r:.40} is not a payout state"
    moment = update.occurred_at
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        problem = problem or f"occurred_at {moment!r:.40} is not a time with a zone"
    else:
        try:
            moment.astimezone(UTC)
        except (OverflowError, ValueError):
            problem = problem or f"occurred_at {moment} is not a time"
    event_id: object = update.event_id
    if not usable_event_id(event_id):
        problem = problem or "the event id is not usable text"
        readable = repr(event_id).encode("utf-8", "surrogatepass")
        event_id = f"sha256:{hashlib.sha256(readable).hexdigest()}"
    if problem is None:
        return None
    clean = {
        k: v if isinstance(v, str) and not unstorable(v) else None for k, v in references.items()
    }
    return UnappliableWebhook(
        provider,
        str(event_id),
        problem,
        payout_reference=clean["payout_id"],
        provider_reference=clean["provider_reference"],
    )


def _unstorable_message(text: str) -> bool:
    """NUL or a lone surrogate: a message may hold line breaks, but no database stores those."""
    return "\x00" in text or any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


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
    payee_fields: ClassVar[Sequence[PayeeField]] = ()
    """The payee details a creator gives when adding a payout method for this provider; their
    verified values reach `submit` as `instruction.payee.fields`."""
    required_env: ClassVar[Sequence[str]] = ()
    """The `DIAMONDS_*` variables the provider cannot be built without: the registry names the
    unset ones (a provider "not configured") without building it."""

    @classmethod
    def validate_payee(cls, fields: Mapping[str, str]) -> dict[str, str]:
        """The normalized values of a payout method's `fields`, checked against `payee_fields`
        (required, pattern, `check`; names not declared are refused). Raises `InvalidPayee`
        naming every bad field. Override to add checks across fields, calling this first."""
        return check_payee_fields(cls.slug, cls.payee_fields, fields)

    @classmethod
    def payee_country(cls, fields: Mapping[str, str]) -> str | None:
        """The country (ISO 3166-1 alpha-2) validated `fields` pay into, when they tell (an IBAN
        does); the compliance gate checks it is served. None by default."""
        del fields
        return None

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

    async def settled_records(
        self, since: datetime, until: datetime, *, references: Sequence[str] = ()
    ) -> AsyncIterator[ProviderRecord]:
        """The provider's own records of the payouts it made from `since` (included) to `until`
        (excluded), both time-zone aware, one `ProviderRecord` each, fetched page by page as the
        caller iterates. `references` are the provider references we hold for payouts of the
        period (from our records): a provider that cannot list by date (PayPal) reads those;
        the others may ignore them. Providers with `Capability.RECONCILE` override this.

        Raises `TransientProviderError` (try the run again), `ProviderConfigError` or
        `ProviderError` (an answer it cannot read exactly, e.g. a fraction of a cent)."""
        raise NotImplementedError(f"{self.slug} cannot list its records for reconciliation")
        yield  # pragma: no cover - makes this an async generator, as overrides are

    def fee_minor(self, amount_minor: int, currency: str) -> int:
        """The provider's fee for a payout, passed through to the creator. None by default."""
        del amount_minor, currency
        return 0

    def serves(self, currency: str, country: str) -> bool:
        return currency in self.currencies and (self.countries is None or country in self.countries)

    async def close(self) -> None:  # noqa: B027 - most providers hold nothing to release
        """Release connections and threads."""


FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""What a payee field's name looks like: it is a key in JSON and in GraphQL error paths."""
MAX_FIELD_LENGTH = 500
"""The longest value any payee field may hold (what payout methods store), whatever its
`max_length` says."""


def check_payee_fields(
    slug: str, declared: Sequence[PayeeField], given: Mapping[str, str]
) -> dict[str, str]:
    """`given` checked against `declared`: every problem found, or the normalized values of the
    fields given (blank optional ones left out). Raises `InvalidPayee`."""
    problems: list[FieldProblem] = []
    known = {f.name for f in declared}
    for name in sorted(set(given) - known):
        shown = name if FIELD_NAME.match(name) else repr(name[:40])
        problems.append(
            FieldProblem(
                name[:64],
                "UNKNOWN_FIELD",
                f"{slug} takes no field {shown} (it takes {', '.join(sorted(known)) or 'none'})",
            )
        )
    values: dict[str, str] = {}
    for spec in declared:
        raw = (given.get(spec.name) or "").strip()
        if not raw:
            if spec.required:
                problems.append(
                    FieldProblem(spec.name, "MISSING_FIELD", f"{spec.label} is required")
                )
            continue
        checked = _checked_value(spec, raw)
        if isinstance(checked, FieldProblem):
            problems.append(checked)
        else:
            values[spec.name] = checked
    if problems:
        raise InvalidPayee(slug, problems)
    return values


def _checked_value(spec: PayeeField, raw: str) -> str | FieldProblem:
    """The field's normalized value, or what is wrong with it."""
    limit = min(spec.max_length, MAX_FIELD_LENGTH)
    if len(raw) > limit:
        return FieldProblem(
            spec.name, "INVALID_FIELD", f"{spec.label} has at most {limit} characters"
        )
    if spec.pattern is not None and not re.fullmatch(spec.pattern, raw):
        hint = f" ({spec.help})" if spec.help else ""
        return FieldProblem(spec.name, "INVALID_FIELD", f"this is not a valid {spec.label}{hint}")
    if spec.check is None:
        return raw
    try:
        return spec.check(raw)
    except InvalidFieldValue as exc:
        return FieldProblem(spec.name, exc.code, str(exc))
    except ValueError as exc:
        return FieldProblem(spec.name, "INVALID_FIELD", str(exc) or f"invalid {spec.label}")
