"""The provider conformance suite: pytest tests an integrator runs against their own provider by
subclassing `ProviderConformance` and supplying its fixtures (the provider, a payee, a sandbox).

    class TestMyProvider(ProviderConformance):
        @_fixture
        async def provider(self): ...            # yields a configured provider (closed after)
        @_fixture
        def payee(self): ...                     # a payee the sandbox will pay
        @_fixture
        async def sandbox(self): ...             # a ProviderSandbox driving its test side
        @_fixture
        async def bad_credentials_provider(self): ...  # the provider with a wrong API key

It checks: the payee fields (well formed; the sample payee accepted; missing required fields and
undeclared ones refused with `InvalidPayee`), idempotent submit, status mapping (paid, failed
with the provider's code, returned), unknown outcomes resolved by lookup, webhook verification,
bad credentials, and the records a RECONCILE provider lists (what was paid is there, under the
reference `submit` gave, amounts in integer minor units). Tests that need a capability the
provider does not declare (LOOKUP, WEBHOOKS, RECONCILE) are skipped.

The module imports without pytest (it ships with the provider SDK): the suite's own fixtures and
marks are made pytest's when a test module first subclasses `ProviderConformance`, and the tests
import pytest where they use it.
"""

from __future__ import annotations

import enum
import inspect
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from providers.base import (
    FIELD_NAME,
    MAX_FIELD_LENGTH,
    Capability,
    Payee,
    PayeeField,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
)
from providers.errors import (
    InvalidPayee,
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    UnknownOutcome,
    WebhookVerificationError,
)
from providers.records import ProviderRecord

Function = TypeVar("Function", bound=Callable[..., Any])

_FIXTURE = "__conformance_fixture__"
_PARAMETRIZE = "__conformance_parametrize__"
_ARMED = "_conformance_armed"


def _fixture(function: Function) -> Function:
    """Marks one of the suite's fixtures: it becomes a pytest fixture (pytest-asyncio's for an
    async one) when the suite is first subclassed (`_arm`)."""
    setattr(function, _FIXTURE, True)
    return function


def _parametrize(
    argnames: str | Sequence[str], argvalues: list[Any]
) -> Callable[[Function], Function]:
    """`pytest.mark.parametrize`, applied when the suite is first subclassed (`_arm`)."""

    def mark(function: Function) -> Function:
        setattr(
            function, _PARAMETRIZE, [*getattr(function, _PARAMETRIZE, []), (argnames, argvalues)]
        )
        return function

    return mark


def _arm(suite: type) -> None:
    """Makes the suite's fixtures pytest's fixtures, and marks its tests (async ones with
    `asyncio`, parametrized ones with their values), once. Called when a test module subclasses
    the suite, so that pytest is imported there and never by importing this module."""
    if vars(suite).get(_ARMED):
        return
    import pytest
    import pytest_asyncio

    for name, member in list(vars(suite).items()):
        if getattr(member, _FIXTURE, False):
            is_async = inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member)
            setattr(suite, name, (pytest_asyncio.fixture if is_async else pytest.fixture)(member))
        elif name.startswith("test_") and inspect.isfunction(member):
            for argnames, argvalues in getattr(member, _PARAMETRIZE, []):
                member = pytest.mark.parametrize(argnames, argvalues)(member)
            if inspect.iscoroutinefunction(member):
                member = pytest.mark.asyncio(member)
            setattr(suite, name, member)
    setattr(suite, _ARMED, True)


class Outcome(enum.StrEnum):
    """Where the sandbox can take a submitted payout."""

    PAID = "PAID"
    FAILED = "FAILED"
    """Failed with the sandbox's `failure_code`."""
    RETURNED = "RETURNED"
    """Paid, then came back (for Stripe: paid, then failed)."""


class LostAnswer(enum.StrEnum):
    """How the answer to a submit goes missing after the provider acted on it."""

    TIMEOUT = "TIMEOUT"
    """The provider holds the answer back longer than the client waits."""
    DROPPED_CONNECTION = "DROPPED_CONNECTION"
    """The provider closes the connection without answering."""


class Signing(enum.StrEnum):
    """How the sandbox signs a webhook delivery."""

    VALID = "VALID"
    WRONG_SECRET = "WRONG_SECRET"  # noqa: S105 - a name, not a secret
    """Signed with a key other than the one the provider is configured with."""
    STALE = "STALE"
    """Correctly signed, but with a timestamp an hour old (replayed from long ago)."""


Delivery = tuple[Mapping[str, str], bytes]
"""A webhook delivery: its headers and raw body."""


class ProviderSandbox(ABC):
    """The provider's test side (its sandbox, or a fake server) as the suite drives it."""

    failure_code: str
    """The provider's failure code `settle(..., Outcome.FAILED)` fails a payout with, e.g.
    `account_closed`; the provider must report it as `PayoutResult.failure_code`."""

    @abstractmethod
    async def settle(self, result: PayoutResult, outcome: Outcome) -> None:
        """Take the submitted payout `result` to `outcome` at the provider."""

    @abstractmethod
    async def payouts_at_provider(self, payout_id: str) -> int:
        """How many payments the provider holds for our payout id (it must never exceed 1)."""

    @abstractmethod
    async def lose_next_answer(self, how: LostAnswer) -> None:
        """Make the provider act on the next submit but lose its answer, as `how` says."""

    async def restore(self) -> None:  # noqa: B027 - optional, empty unless overridden
        """Undo `lose_next_answer` if it is still pending. Nothing by default."""

    async def webhook(self, result: PayoutResult, outcome: Outcome, signing: Signing) -> Delivery:
        """The webhook delivery announcing that `result`'s payout reached `outcome` (after
        `settle`), signed as `signing` says. Providers with `Capability.WEBHOOKS` override."""
        raise NotImplementedError("override ProviderSandbox.webhook for a provider with webhooks")


class ProviderConformance:
    """The conformance suite. Subclass it as `TestSomething` and override the fixtures marked
    "override"; `currency` and `amount_minor` have defaults."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _arm(ProviderConformance)

    # --- fixtures the integrator supplies --------------------------------------------------------

    @_fixture
    async def provider(self, *args: Any, **kwargs: Any) -> AsyncIterator[PayoutProvider]:
        """Override: the provider under test, configured against its sandbox (with a short HTTP
        timeout, so the lost-answer tests run fast)."""
        raise NotImplementedError("override the `provider` fixture")
        yield  # pragma: no cover

    @_fixture
    def payee(self, *args: Any, **kwargs: Any) -> Payee:
        """Override: a payee the provider can pay in the sandbox."""
        raise NotImplementedError("override the `payee` fixture")

    @_fixture
    async def sandbox(self, *args: Any, **kwargs: Any) -> AsyncIterator[ProviderSandbox]:
        """Override: drives the provider's sandbox or fake server."""
        raise NotImplementedError("override the `sandbox` fixture")
        yield  # pragma: no cover

    @_fixture
    async def bad_credentials_provider(
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[PayoutProvider]:
        """Override: the same provider configured with credentials the sandbox refuses."""
        raise NotImplementedError("override the `bad_credentials_provider` fixture")
        yield  # pragma: no cover

    @_fixture
    def currency(self, provider: PayoutProvider, *args: Any, **kwargs: Any) -> str:
        """A currency the provider pays in (the first in alphabetical order by default)."""
        return sorted(provider.currencies)[0]

    @_fixture
    def amount_minor(self) -> int:
        return 1_234

    @_fixture
    def reconcile_period(self) -> tuple[datetime, datetime]:
        """The period the RECONCILE tests read (`since`, `until`): from a day ago to a day
        ahead. Override it for a sandbox with a clock of its own."""
        now = datetime.now(UTC)
        return now - timedelta(days=1), now + timedelta(days=1)

    @_fixture
    def new_instruction(
        self, payee: Payee, currency: str, amount_minor: int
    ) -> Callable[[], PayoutInstruction]:
        """Makes a fresh instruction: a new payout id and its own idempotency key."""

        def make() -> PayoutInstruction:
            payout_id = f"conformance-{uuid.uuid4().hex[:16]}"
            return PayoutInstruction(
                payout_id=payout_id,
                idempotency_key=f"payout:{payout_id}",
                amount_minor=amount_minor,
                currency=currency,
                payee=payee,
                description="conformance suite",
            )

        return make

    # --- declaration -----------------------------------------------------------------------------

    async def test_declares_a_slug_currencies_and_capabilities(
        self, provider: PayoutProvider, payee: Payee, currency: str
    ) -> None:
        assert provider.slug, "a provider needs a slug"
        assert provider.slug == provider.slug.strip().lower(), "slugs are lower-case"
        assert provider.currencies, "a provider pays in at least one currency"
        assert all(len(c) == 3 and c.isupper() for c in provider.currencies), (
            "currencies are ISO 4217 codes in capitals"
        )
        assert set(provider.capabilities) <= set(Capability)
        assert provider.serves(currency, payee.country), "the provider must serve the test payee"

    # --- payee fields ----------------------------------------------------------------------------

    def test_declares_well_formed_payee_fields(self, provider: PayoutProvider) -> None:
        declared = list(provider.payee_fields)
        assert all(isinstance(f, PayeeField) for f in declared), "payee_fields are PayeeFields"
        names = [f.name for f in declared]
        assert len(names) == len(set(names)), f"payee field names repeat: {names}"
        for spec in declared:
            assert FIELD_NAME.match(spec.name), (
                f"{spec.name!r}: a field name is lower-case letters, digits and _"
            )
            assert spec.label.strip(), f"{spec.name}: a field needs a label"
            assert 0 < spec.max_length <= MAX_FIELD_LENGTH, (
                f"{spec.name}: max_length must be from 1 to {MAX_FIELD_LENGTH}"
            )
            if spec.pattern is not None:
                re.compile(spec.pattern)
            assert spec.check is None or callable(spec.check)
        assert all(n.startswith("DIAMONDS_") for n in provider.required_env), (
            "required_env names DIAMONDS_* variables"
        )

    def test_accepts_its_own_sample_payee(self, provider: PayoutProvider, payee: Payee) -> None:
        values = provider.validate_payee(payee.fields)
        declared = {f.name for f in provider.payee_fields}
        assert set(values) <= declared, "validate_payee returns declared fields only"
        required = {f.name for f in provider.payee_fields if f.required}
        assert required <= set(values), "every required field has a value"
        assert provider.validate_payee(values) == values, "normalized values stay as they are"
        country = provider.payee_country(values)
        assert country is None or re.fullmatch(r"[A-Z]{2}", country), (
            f"payee_country gives an ISO 3166-1 alpha-2 code or None, not {country!r}"
        )

    def test_refuses_a_payee_without_its_required_fields(self, provider: PayoutProvider) -> None:
        import pytest

        required = [f.name for f in provider.payee_fields if f.required]
        if not required:
            pytest.skip(f"{provider.slug} requires no payee field")
        with pytest.raises(InvalidPayee) as refused:
            provider.validate_payee({})
        missing = {p.field for p in refused.value.problems if p.code == "MISSING_FIELD"}
        assert missing == set(required), "each missing required field is named"

    def test_refuses_a_field_it_does_not_declare(
        self, provider: PayoutProvider, payee: Payee
    ) -> None:
        import pytest

        with pytest.raises(InvalidPayee) as refused:
            provider.validate_payee({**payee.fields, "no_such_field": "x"})
        assert [p.field for p in refused.value.problems] == ["no_such_field"]

    # --- idempotent submit -----------------------------------------------------------------------

    async def test_submitting_twice_pays_once(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        instruction = new_instruction()
        first = await provider.submit(instruction)
        again = await provider.submit(instruction)
        assert first.payout_id == again.payout_id == instruction.payout_id
        assert first.provider_reference, "a submitted payout has the provider's reference"
        assert again.provider_reference == first.provider_reference
        assert first.state not in (PayoutState.UNKNOWN, PayoutState.FAILED)
        assert await sandbox.payouts_at_provider(instruction.payout_id) == 1

    async def test_two_payouts_are_two_payments(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        one, two = new_instruction(), new_instruction()
        first = await provider.submit(one)
        second = await provider.submit(two)
        assert first.provider_reference != second.provider_reference
        assert await sandbox.payouts_at_provider(one.payout_id) == 1
        assert await sandbox.payouts_at_provider(two.payout_id) == 1

    # --- status mapping --------------------------------------------------------------------------

    async def _settled(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        instruction: PayoutInstruction,
        outcome: Outcome,
    ) -> PayoutResult:
        submitted = await provider.submit(instruction)
        await sandbox.settle(submitted, outcome)
        return submitted

    async def test_a_paid_payout_reads_paid(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        _require(provider, Capability.LOOKUP)
        instruction = new_instruction()
        submitted = await self._settled(provider, sandbox, instruction, Outcome.PAID)
        found = await provider.lookup(instruction.payout_id, submitted.provider_reference)
        assert found.state is PayoutState.PAID
        assert found.provider_reference == submitted.provider_reference
        assert found.failure_code is None

    async def test_a_failed_payout_reads_failed_with_the_providers_code(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        _require(provider, Capability.LOOKUP)
        instruction = new_instruction()
        submitted = await self._settled(provider, sandbox, instruction, Outcome.FAILED)
        found = await provider.lookup(instruction.payout_id, submitted.provider_reference)
        assert found.state is PayoutState.FAILED
        assert found.failure_code == sandbox.failure_code

    async def test_a_returned_payout_does_not_read_paid(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        """A lookup may not tell a return from a failure (Stripe's API cannot); the pipeline
        treats FAILED after PAID as RETURNED. It must never still read PAID."""
        _require(provider, Capability.LOOKUP)
        instruction = new_instruction()
        submitted = await self._settled(provider, sandbox, instruction, Outcome.RETURNED)
        found = await provider.lookup(instruction.payout_id, submitted.provider_reference)
        assert found.state in (PayoutState.RETURNED, PayoutState.FAILED)

    # --- unknown outcomes ------------------------------------------------------------------------

    @_parametrize("how", list(LostAnswer))
    async def test_a_lost_answer_is_unknown_and_lookup_finds_the_truth(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
        how: LostAnswer,
    ) -> None:
        import pytest

        _require(provider, Capability.LOOKUP)
        instruction = new_instruction()
        await sandbox.lose_next_answer(how)
        try:
            with pytest.raises(UnknownOutcome):
                await provider.submit(instruction)
        finally:
            await sandbox.restore()
        found = await provider.lookup(instruction.payout_id, None)
        assert found.state not in (PayoutState.UNKNOWN, PayoutState.FAILED)
        assert found.provider_reference, "the lookup names the payment the provider made"
        assert await sandbox.payouts_at_provider(instruction.payout_id) == 1
        again = await provider.submit(instruction)
        assert again.provider_reference == found.provider_reference, "a re-run pays nothing more"
        assert await sandbox.payouts_at_provider(instruction.payout_id) == 1

    async def test_looking_up_a_payout_never_made_says_not_found(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        import pytest

        _require(provider, Capability.LOOKUP)
        never = new_instruction()
        with pytest.raises(PayoutNotFound):
            await provider.lookup(never.payout_id, None)
        assert await sandbox.payouts_at_provider(never.payout_id) == 0

    # --- webhooks --------------------------------------------------------------------------------

    @_parametrize(
        ("outcome", "state"),
        [
            (Outcome.PAID, PayoutState.PAID),
            (Outcome.FAILED, PayoutState.FAILED),
            (Outcome.RETURNED, PayoutState.RETURNED),
        ],
    )
    async def test_a_signed_webhook_is_accepted_and_mapped(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
        outcome: Outcome,
        state: PayoutState,
    ) -> None:
        _require(provider, Capability.WEBHOOKS)
        instruction = new_instruction()
        submitted = await self._settled(provider, sandbox, instruction, outcome)
        headers, body = await sandbox.webhook(submitted, outcome, Signing.VALID)
        updates = await provider.parse_webhook(headers, body)
        ours = [
            u
            for u in updates
            if u.payout_id == instruction.payout_id
            or (u.provider_reference and u.provider_reference == submitted.provider_reference)
        ]
        assert len(ours) == 1, f"expected one update about the payout, got {updates}"
        update = ours[0]
        assert update.state is state
        assert update.event_id, "an update carries the provider's event id"
        if outcome is Outcome.FAILED:
            assert update.failure_code == sandbox.failure_code
        replayed = await provider.parse_webhook(headers, body)
        assert [u.event_id for u in replayed] == [u.event_id for u in updates], (
            "a redelivered event keeps its id, so the pipeline applies it once"
        )

    async def test_a_webhook_whose_body_was_changed_is_refused(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        import pytest

        _require(provider, Capability.WEBHOOKS)
        paid = await self._settled(provider, sandbox, new_instruction(), Outcome.PAID)
        failed = await self._settled(provider, sandbox, new_instruction(), Outcome.FAILED)
        paid_headers, paid_body = await sandbox.webhook(paid, Outcome.PAID, Signing.VALID)
        _failed_headers, failed_body = await sandbox.webhook(failed, Outcome.FAILED, Signing.VALID)
        with pytest.raises(WebhookVerificationError):
            await provider.parse_webhook(paid_headers, failed_body)
        with pytest.raises(WebhookVerificationError):
            await provider.parse_webhook(paid_headers, paid_body + b" ")

    @_parametrize("signing", [Signing.WRONG_SECRET, Signing.STALE])
    async def test_a_webhook_signed_wrongly_is_refused(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
        signing: Signing,
    ) -> None:
        import pytest

        _require(provider, Capability.WEBHOOKS)
        paid = await self._settled(provider, sandbox, new_instruction(), Outcome.PAID)
        headers, body = await sandbox.webhook(paid, Outcome.PAID, signing)
        with pytest.raises(WebhookVerificationError):
            await provider.parse_webhook(headers, body)

    async def test_a_webhook_without_a_signature_is_refused(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        import pytest

        _require(provider, Capability.WEBHOOKS)
        paid = await self._settled(provider, sandbox, new_instruction(), Outcome.PAID)
        _headers, body = await sandbox.webhook(paid, Outcome.PAID, Signing.VALID)
        with pytest.raises(WebhookVerificationError):
            await provider.parse_webhook({"Content-Type": "application/json"}, body)

    # --- reconciliation --------------------------------------------------------------------------

    async def test_records_cover_what_was_paid_under_the_submitted_reference(
        self,
        provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
        reconcile_period: tuple[datetime, datetime],
    ) -> None:
        _require(provider, Capability.RECONCILE)
        paid, failed = new_instruction(), new_instruction()
        paid_result = await self._settled(provider, sandbox, paid, Outcome.PAID)
        failed_result = await self._settled(provider, sandbox, failed, Outcome.FAILED)
        since, until = reconcile_period
        references = [
            r.provider_reference for r in (paid_result, failed_result) if r.provider_reference
        ]
        records = [r async for r in provider.settled_records(since, until, references=references)]
        for record in records:
            assert isinstance(record, ProviderRecord), "settled_records yields ProviderRecords"
            assert record.provider == provider.slug
            assert type(record.amount_minor) is int, "amounts are integer minor units"
            assert record.fee_minor is None or type(record.fee_minor) is int
            assert record.occurred_at.tzinfo is not None
            assert record.currency == record.currency.upper()
            assert record.raw_status, "a record keeps the provider's own status word"
        ours = {r.payout_id: r for r in records if r.payout_id is not None}
        assert paid.payout_id in ours, "the paid payout is in the provider's records"
        record = ours[paid.payout_id]
        assert record.provider_reference == paid_result.provider_reference, (
            "a record carries the reference submit returned, so the two sides join"
        )
        assert record.amount_minor == paid.amount_minor
        assert record.currency == paid.currency
        assert record.state is PayoutState.PAID
        if failed.payout_id in ours:
            assert ours[failed.payout_id].state is not PayoutState.PAID
        again = [r async for r in provider.settled_records(since, until, references=references)]
        assert sorted(map(_identity, again)) == sorted(map(_identity, records)), (
            "reading the same period twice gives the same records"
        )

    # --- bad credentials -------------------------------------------------------------------------

    async def test_bad_credentials_are_a_typed_error_and_pay_nothing(
        self,
        bad_credentials_provider: PayoutProvider,
        sandbox: ProviderSandbox,
        new_instruction: Callable[[], PayoutInstruction],
    ) -> None:
        import pytest

        instruction = new_instruction()
        with pytest.raises((PermanentProviderError, ProviderConfigError)):
            await bad_credentials_provider.submit(instruction)
        assert await sandbox.payouts_at_provider(instruction.payout_id) == 0
        if Capability.LOOKUP in bad_credentials_provider.capabilities:
            with pytest.raises((PermanentProviderError, ProviderConfigError)):
                await bad_credentials_provider.lookup(instruction.payout_id, None)


def _identity(record: ProviderRecord) -> tuple[str, str, int, str]:
    return (record.provider_reference, record.payout_id or "", record.amount_minor, record.state)


def _require(provider: PayoutProvider, capability: Capability) -> None:
    import pytest

    if capability not in provider.capabilities:
        pytest.skip(f"{provider.slug} does not declare {capability.value}")
