"""The bank transfer providers: `sepa` (EUR credit transfers in pain.001 files) and `ach` (USD
credits in NACHA files), each with its payee fields; `submit` queues a payout, `flush` writes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import ClassVar, ParamSpec, TypeVar

from kernel.clock import utcnow
from providers.bank import ach, sepa
from providers.bank.config import AchConfig, SepaConfig
from providers.bank.outbox import (
    BatchToWrite,
    DuplicateKey,
    EntryDraft,
    Outbox,
    OutboxError,
    PayoutConflict,
    QueueRequest,
    RenderedFile,
    Slot,
    UncertainWrite,
    WrittenBatch,
)
from providers.bank.records import ach_records, sepa_records
from providers.bank.status import latest_status
from providers.base import (
    Capability,
    PayeeField,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
)
from providers.errors import (
    FieldProblem,
    InvalidFieldValue,
    InvalidPayee,
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnknownOutcome,
)
from providers.records import ProviderRecord

P = ParamSpec("P")
T = TypeVar("T")

QUEUED = "QUEUED"
"""raw_status: in the open batch, waiting for a flush."""
WRITTEN = "WRITTEN"
"""raw_status: in a bank file in the outbox, no status from the bank yet."""
SETTLED = "SETTLED"
"""raw_status (ACH): written, past its effective date and the return window, no return read."""


class BankProvider(PayoutProvider):
    """What SEPA and ACH share: the outbox, idempotent queuing, flushing and lookups from the
    manifest. Every file operation runs in a thread, off the event loop."""

    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.BATCH_FILES, Capability.LOOKUP, Capability.RECONCILE}
    )
    max_amount_minor: ClassVar[int]

    def __init__(self, outbox: Outbox, clock: Callable[[], datetime]) -> None:
        self.outbox = outbox
        self._clock = clock

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        """Queue the payout into the open batch file and answer PENDING with its reference.
        The same payout id again answers the same reference and adds nothing."""
        self._check_common(instruction)
        request = self._prepare(instruction)
        queued = await self._in_thread(self.outbox.queue, request, self._render)
        if queued.created:
            written = queued.written is not None
        else:
            written = (
                await self._in_thread(self.outbox.written, queued.entry.slot.batch_id) is not None
            )
        return PayoutResult(
            payout_id=instruction.payout_id,
            state=PayoutState.PENDING,
            provider_reference=queued.entry.reference,
            raw_status=WRITTEN if written else QUEUED,
        )

    async def flush(self) -> list[WrittenBatch]:
        """Write the open batch (and any batch a stopped flush left unwritten) into the outbox.
        Returns the batches written; none when nothing was waiting."""
        return await self._in_thread(self.outbox.flush, self._render)

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        """What the outbox knows: the latest bank status read back for the payout, else where
        its entry stands (queued, written). Raises `PayoutNotFound` for a payout never queued."""
        entry = await self._in_thread(self.outbox.entry, payout_id)
        if entry is None:
            raise PayoutNotFound(self.slug, f"no payout {payout_id!r} in {self.outbox.folder}")
        latest = latest_status(await self._in_thread(self.outbox.statuses, payout_id))
        if latest is not None:
            return PayoutResult(
                payout_id=payout_id,
                state=latest.state,
                provider_reference=entry.reference,
                raw_status=latest.raw_type,
                failure_code=latest.failure_code,
                failure_message=latest.failure_message,
            )
        written = await self._in_thread(self.outbox.written, entry.slot.batch_id)
        if written is None:
            return PayoutResult(payout_id, PayoutState.PENDING, entry.reference, QUEUED)
        return self._written_result(payout_id, entry.reference, written)

    async def settled_records(
        self, since: datetime, until: datetime, *, references: Sequence[str] = ()
    ) -> AsyncIterator[ProviderRecord]:
        """What the bank's files say about the period (see `providers.bank.records`); read from
        the outbox folder in a thread. `references` is not needed: the outbox knows ours."""
        del references
        if since.tzinfo is None or until.tzinfo is None or not since < until:
            raise ValueError("the period needs time-zone-aware bounds, since before until")
        for record in await self._in_thread(self._records, since, until):
            yield record

    @abstractmethod
    def _records(self, since: datetime, until: datetime) -> list[ProviderRecord]:
        """The rail's records for the period (blocking file IO)."""

    def _written_result(
        self, payout_id: str, reference: str, written: WrittenBatch
    ) -> PayoutResult:
        del written
        return PayoutResult(payout_id, PayoutState.PENDING, reference, WRITTEN)

    def _check_common(self, instruction: PayoutInstruction) -> None:
        amount = instruction.amount_minor
        if not instruction.payout_id or not instruction.payout_id.strip():
            raise PermanentProviderError(self.slug, "INVALID_PAYOUT_ID", "the payout id is empty")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise PermanentProviderError(
                self.slug, "INVALID_AMOUNT", f"the amount must be whole minor units, not {amount!r}"
            )
        if not 0 < amount <= self.max_amount_minor:
            raise PermanentProviderError(
                self.slug,
                "INVALID_AMOUNT",
                f"the amount must be from 1 to {self.max_amount_minor} minor units, not {amount}",
            )
        if instruction.currency not in self.currencies:
            raise PermanentProviderError(
                self.slug,
                "UNSUPPORTED_CURRENCY",
                f"{self.slug} pays {', '.join(sorted(self.currencies))}, "
                f"not {instruction.currency!r}",
            )
        if self.countries is not None and instruction.payee.country not in self.countries:
            raise PermanentProviderError(
                self.slug,
                "UNSUPPORTED_COUNTRY",
                f"{self.slug} does not pay payees in {instruction.payee.country!r}",
            )

    @abstractmethod
    def _prepare(self, instruction: PayoutInstruction) -> QueueRequest:
        """Check the payee (raising `PermanentProviderError`) and describe the entry."""

    @abstractmethod
    def _render(self, batch: BatchToWrite) -> RenderedFile:
        """The bank file for a closed batch."""

    async def _in_thread(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except PayoutConflict as exc:
            raise PermanentProviderError(self.slug, "IDEMPOTENCY_CONFLICT", str(exc)) from exc
        except DuplicateKey as exc:
            raise PermanentProviderError(self.slug, "DUPLICATE_REFERENCE", str(exc)) from exc
        except UncertainWrite as exc:
            raise UnknownOutcome(self.slug, str(exc)) from exc
        except (PermissionError, NotADirectoryError, FileExistsError) as exc:
            # The folder itself is wrong (not a folder, not ours to write): nothing was recorded,
            # and nothing will be until the configuration changes.
            raise ProviderConfigError(
                self.slug, f"the outbox {self.outbox.folder} cannot be used: {exc}"
            ) from exc
        except (OutboxError, OSError) as exc:  # nothing was recorded: safe to try again later
            raise TransientProviderError(self.slug, f"the outbox is unusable: {exc}") from exc


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


def _name(slug: str, cleaned: str, raw: str) -> str:
    if not cleaned:
        raise PermanentProviderError(
            slug, "INVALID_NAME", f"the payee name {raw!r} has no letters or digits to print"
        )
    return cleaned


MAX_HOLDER_NAME = 140


def holder_name(raw: str) -> str:
    """The account holder's name as the creator typed it: 1 to 140 printable characters."""
    if len(raw) > MAX_HOLDER_NAME or not raw.isprintable():
        raise InvalidFieldValue(
            f"the account holder's name must be 1 to {MAX_HOLDER_NAME} printable characters",
            "INVALID_HOLDER_NAME",
        )
    return raw


HOLDER_NAME = PayeeField(
    "holder_name", "Account holder's name", check=holder_name, max_length=MAX_HOLDER_NAME
)
OUTBOX_ENV = "DIAMONDS_BANK_OUTBOX"


class SepaProvider(BankProvider):
    """SEPA credit transfers in euros to an IBAN in the SEPA zone, written as pain.001 files."""

    slug: ClassVar[str] = sepa.SLUG
    currencies: ClassVar[frozenset[str]] = frozenset({"EUR"})
    countries: ClassVar[frozenset[str] | None] = sepa.SEPA_COUNTRIES
    max_amount_minor: ClassVar[int] = sepa.MAX_AMOUNT_MINOR
    payee_fields: ClassVar[Sequence[PayeeField]] = (
        HOLDER_NAME,
        PayeeField("iban", "IBAN", secret=True, check=sepa.payee_iban, max_length=42),
        PayeeField(
            "bic",
            "BIC",
            required=False,
            check=sepa.payee_bic,
            help="8 or 11 characters; found from the IBAN when left out",
            max_length=11,
        ),
    )
    required_env: ClassVar[Sequence[str]] = (
        OUTBOX_ENV,
        "DIAMONDS_SEPA_DEBTOR_NAME",
        "DIAMONDS_SEPA_DEBTOR_IBAN",
        "DIAMONDS_SEPA_DEBTOR_BIC",
    )

    @classmethod
    def validate_payee(cls, fields: Mapping[str, str]) -> dict[str, str]:
        """The fields checked one by one, then the BIC found from the IBAN when it was left
        out (MISSING_FIELD on `bic` when the IBAN's bank is not known)."""
        values = super().validate_payee(fields)
        if "bic" not in values:
            derived = sepa.bic_of(values["iban"])
            if derived is None:
                raise InvalidPayee(
                    cls.slug,
                    [
                        FieldProblem(
                            "bic", "MISSING_FIELD", "the BIC is required: the IBAN does not tell it"
                        )
                    ],
                )
            values["bic"] = derived
        return values

    @classmethod
    def payee_country(cls, fields: Mapping[str, str]) -> str | None:
        return sepa.iban_country(fields["iban"]) if fields.get("iban") else None

    def __init__(self, config: SepaConfig, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        super().__init__(
            Outbox(
                config.outbox.folder, sepa.SLUG, batch_size=config.outbox.batch_size, clock=clock
            ),
            clock,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SepaProvider:
        return cls(SepaConfig.from_env(environ))

    def _prepare(self, instruction: PayoutInstruction) -> QueueRequest:
        payee = instruction.payee
        iban = sepa.check_iban(payee.iban).compact
        bic = sepa.check_bic(payee.bic).compact if payee.bic and payee.bic.strip() else ""
        name = _name(self.slug, sepa.sepa_text(payee.name, 70), payee.name)
        remittance = sepa.sepa_text(
            instruction.description or f"Diamonds payout {instruction.payout_id}", 140
        ) or sepa.sepa_text(f"Diamonds payout {instruction.payout_id}", 140)
        e2e = sepa.end_to_end_id(instruction.payout_id)

        def draft(slot: Slot) -> EntryDraft:
            return EntryDraft(
                key=e2e,
                reference=f"{sepa.SLUG}:{slot.file_name}#{e2e}",
                fields={"name": name, "iban": iban, "bic": bic, "remittance": remittance},
            )

        return QueueRequest(
            payout_id=instruction.payout_id,
            amount_minor=instruction.amount_minor,
            fingerprint=_fingerprint(instruction.amount_minor, instruction.currency, iban),
            draft=draft,
        )

    def _records(self, since: datetime, until: datetime) -> list[ProviderRecord]:
        """camt.053/054 files in `<outbox>/sepa/statements/`, then pain.002 statuses."""
        return sepa_records(self.outbox, since, until)

    def _render(self, batch: BatchToWrite) -> RenderedFile:
        execution_date = batch.written_at.date()
        credits = [
            sepa.SepaCredit(
                end_to_end_id=entry.key,
                amount_minor=entry.amount_minor,
                name=entry.fields["name"],
                iban=entry.fields["iban"],
                bic=entry.fields["bic"] or None,
                remittance=entry.fields["remittance"],
            )
            for entry in batch.entries
        ]
        content = sepa.write_pain001(
            self.config.debtor,
            batch.batch_id,
            batch.written_at,
            execution_date,
            credits,
            self.config.schema,
        )
        return RenderedFile(
            content,
            {"schema": self.config.schema, "execution_date": execution_date.isoformat()},
        )


class AchProvider(BankProvider):
    """US ACH credits in dollars to a checking or savings account, written as NACHA files."""

    slug: ClassVar[str] = ach.SLUG
    currencies: ClassVar[frozenset[str]] = frozenset({"USD"})
    countries: ClassVar[frozenset[str] | None] = frozenset({"US"})
    max_amount_minor: ClassVar[int] = ach.MAX_AMOUNT_MINOR
    payee_fields: ClassVar[Sequence[PayeeField]] = (
        HOLDER_NAME,
        PayeeField(
            "routing_number",
            "Routing number",
            check=ach.payee_routing_number,
            help="9 digits (ABA)",
            max_length=20,
        ),
        PayeeField(
            "account_number",
            "Account number",
            secret=True,
            check=ach.payee_account_number,
            help="4 to 17 digits",
            max_length=30,
        ),
        PayeeField(
            "account_type",
            "Account type",
            check=ach.payee_account_type,
            help="checking or savings",
            max_length=8,
        ),
    )
    required_env: ClassVar[Sequence[str]] = (
        OUTBOX_ENV,
        "DIAMONDS_ACH_ORIGIN_ROUTING",
        "DIAMONDS_ACH_COMPANY_NAME",
        "DIAMONDS_ACH_COMPANY_ID",
        "DIAMONDS_ACH_ORIGIN_NAME",
        "DIAMONDS_ACH_DESTINATION_NAME",
    )

    @classmethod
    def payee_country(cls, fields: Mapping[str, str]) -> str | None:
        return "US"

    def __init__(self, config: AchConfig, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        super().__init__(
            Outbox(
                config.outbox.folder,
                ach.SLUG,
                batch_size=config.outbox.batch_size,
                max_total_minor=ach.MAX_TOTAL_MINOR,
                clock=clock,
            ),
            clock,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AchProvider:
        return cls(AchConfig.from_env(environ))

    def _prepare(self, instruction: PayoutInstruction) -> QueueRequest:
        payee = instruction.payee
        routing = ach.check_routing_number(payee.ach_routing_number)
        account = ach.check_account_number(payee.ach_account_number)
        code = ach.transaction_code(payee.ach_account_type)
        name = _name(self.slug, ach.nacha_text(payee.name, 22), payee.name)
        individual = ach.individual_id(instruction.payout_id)
        origin = self.config.originator.origin_routing

        def draft(slot: Slot) -> EntryDraft:
            trace = ach.trace_number(origin, slot.sequence)
            line = slot.position + 3  # after the file header and the batch header
            return EntryDraft(
                key=trace,
                reference=f"{ach.SLUG}:{slot.file_name}:{line}#{trace}",
                fields={
                    "transaction_code": code,
                    "routing": routing,
                    "account": account,
                    "name": name,
                    "individual_id": individual,
                },
            )

        return QueueRequest(
            payout_id=instruction.payout_id,
            amount_minor=instruction.amount_minor,
            fingerprint=_fingerprint(
                instruction.amount_minor, instruction.currency, routing, account, code
            ),
            draft=draft,
        )

    def _records(self, since: datetime, until: datetime) -> list[ProviderRecord]:
        """Returns read back, and the settled-after rule."""
        return ach_records(
            self.outbox,
            since,
            until,
            settled_after_days=self.config.settled_after_days,
            now=self._clock(),
        )

    def _render(self, batch: BatchToWrite) -> RenderedFile:
        effective = ach.effective_entry_date(batch.written_at.date())
        credits = [
            ach.AchCredit(
                transaction_code=entry.fields["transaction_code"],
                routing_number=entry.fields["routing"],
                account_number=entry.fields["account"],
                amount_minor=entry.amount_minor,
                individual_id=entry.fields["individual_id"],
                name=entry.fields["name"],
                trace_number=entry.key,
            )
            for entry in batch.entries
        ]
        text = ach.write_nacha(
            self.config.originator,
            credits,
            created_at=batch.written_at,
            effective_date=effective,
            file_number=batch.batch_number,
            batch_number=batch.batch_number,
        )
        return RenderedFile(text.encode("ascii"), {"effective_date": effective.isoformat()})

    def _written_result(
        self, payout_id: str, reference: str, written: WrittenBatch
    ) -> PayoutResult:
        """ACH sends no news of a credit that went through: one with no return read back
        `settled_after_days` after its effective date counts as paid."""
        effective = datetime.fromisoformat(written.details["effective_date"]).date()
        settled_on = effective + timedelta(days=self.config.settled_after_days)
        if self._clock().date() >= settled_on:
            return PayoutResult(payout_id, PayoutState.PAID, reference, SETTLED)
        return PayoutResult(payout_id, PayoutState.PENDING, reference, WRITTEN)
