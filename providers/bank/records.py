"""What the bank says it paid, as reconciliation records: SEPA from the camt.053 statements and
camt.054 notifications dropped in the outbox's `statements/` folder (matched to our payouts by
EndToEndId), then the pain.002 statuses already read; ACH from the returns already read and the
"no return by the settlement day" rule."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from providers.bank.camt import CamtEntry, CamtError, read_camt_file
from providers.bank.outbox import Outbox, QueuedEntry
from providers.bank.status import latest_status
from providers.base import PayoutState, StatusUpdate
from providers.errors import ProviderError
from providers.records import ProviderRecord

STATEMENTS = "statements"
"""The folder, inside a rail's outbox folder, where camt.053/054 files are dropped."""

CAMT_STATES = {"BOOK": PayoutState.PAID, "PDNG": PayoutState.PENDING, "INFO": PayoutState.PENDING}
"""An entry's status in our words (for money that left); any other is UNKNOWN."""


def statements_folder(outbox: Outbox) -> Path:
    return outbox.folder / STATEMENTS


def _in(moment: datetime, since: datetime, until: datetime) -> bool:
    return since <= moment < until


def camt_entries(folder: Path) -> list[CamtEntry]:
    """Every transaction of every `*.xml` file in `folder`, files in name order. A file that
    cannot be read exactly raises `ProviderError` naming it: a statement is never half-read."""
    if not folder.is_dir():
        return []
    found: list[CamtEntry] = []
    for file in sorted(folder.glob("*.xml")):
        try:
            found.extend(read_camt_file(file))
        except CamtError as exc:
            raise ProviderError("sepa", f"{file.name}: {exc}") from exc
    return found


def sepa_records(outbox: Outbox, since: datetime, until: datetime) -> list[ProviderRecord]:
    """One record per EndToEndId booked in the period: the debit that paid it (PAID when
    booked, PENDING when pending), RETURNED when a return of it was booked too (the credit's
    return reason as failure code). Debits without an EndToEndId (bank fees, other payments)
    are not payouts and are left out; a debit whose EndToEndId our outbox never wrote is a
    record with no payout id. Then, for our entries with no statement line in the period, the
    latest pain.002 status read back in the period (source `pain.002`, amount as instructed)."""
    by_e2e: dict[str, list[CamtEntry]] = {}
    for entry in camt_entries(statements_folder(outbox)):
        if entry.end_to_end_id is None or not _in(entry.booked_at, since, until):
            continue
        if entry.credit and not (entry.return_reason or entry.reversal):
            continue  # money in that is not a payout coming back
        by_e2e.setdefault(entry.end_to_end_id, []).append(entry)
    records = [_camt_record(outbox.entry_by_key(e2e), e2e, lines) for e2e, lines in by_e2e.items()]
    for queued in outbox.entries():
        if queued.key in by_e2e:
            continue
        latest = latest_status(outbox.statuses(queued.payout_id))
        if latest is not None and _in(latest.occurred_at, since, until):
            records.append(_status_record("sepa", queued, latest, "EUR"))
    return records


def _camt_record(queued: QueuedEntry | None, e2e: str, lines: list[CamtEntry]) -> ProviderRecord:
    debits = [line for line in lines if not line.credit and not line.reversal]
    returns = [line for line in lines if line not in debits]
    paid = debits[0] if debits else returns[0]
    latest = max(lines, key=lambda line: line.booked_at)
    if returns:
        state, raw_status = PayoutState.RETURNED, f"RETURN {returns[-1].return_reason or ''}"
    else:
        state = CAMT_STATES.get(paid.status, PayoutState.UNKNOWN)
        raw_status = paid.status
    charges = [line.charges_minor for line in lines if line.charges_minor is not None]
    converted = paid.instructed_currency not in (None, paid.currency)
    return ProviderRecord(
        provider="sepa",
        provider_reference=queued.reference if queued else f"sepa:camt#{e2e}",
        payout_id=queued.payout_id if queued else None,
        amount_minor=paid.amount_minor,
        currency=paid.currency,
        state=state,
        raw_status=raw_status.strip(),
        occurred_at=latest.booked_at,
        fee_minor=sum(charges) if charges else None,
        converted_amount_minor=paid.instructed_amount_minor if converted else None,
        converted_currency=paid.instructed_currency if converted else None,
        exchange_rate=paid.exchange_rate if converted else None,
        failure_code=returns[-1].return_reason if returns else None,
        source="+".join(dict.fromkeys(line.message for line in lines)),
        raw={"end_to_end_id": e2e, "lines": [_line(line) for line in lines]},
    )


def _line(line: CamtEntry) -> dict[str, Any]:
    return {
        "message": line.message,
        "document": line.document_id,
        "amount_minor": line.amount_minor,
        "currency": line.currency,
        "credit": line.credit,
        "status": line.status,
        "booked_at": line.booked_at.isoformat(),
        "return_reason": line.return_reason,
        "account_servicer_reference": line.account_servicer_reference,
    }


def _status_record(
    rail: str, queued: QueuedEntry, status: StatusUpdate, currency: str
) -> ProviderRecord:
    return ProviderRecord(
        provider=rail,
        provider_reference=queued.reference,
        payout_id=queued.payout_id,
        amount_minor=queued.amount_minor,
        currency=currency,
        state=status.state,
        raw_status=status.raw_type or status.state.value,
        occurred_at=status.occurred_at,
        failure_code=status.failure_code,
        source="pain.002" if rail == "sepa" else "ach-return",
        raw={"event_id": status.event_id, "key": queued.key},
    )


def ach_records(
    outbox: Outbox,
    since: datetime,
    until: datetime,
    *,
    settled_after_days: int,
    now: datetime,
) -> list[ProviderRecord]:
    """One record per ACH entry written to a file, whose news falls in the period: a return read
    back (RETURNED or FAILED, its R-code), else PAID on the day no return can come any more
    (`settled_after_days` after the effective date, if that day has come by `now`), else
    PENDING from the day its file was written. NACHA sends no word of a credit that went
    through: the bank's silence is the record, and amounts are as written in the file."""
    records: list[ProviderRecord] = []
    for queued in _written(outbox, outbox.entries()):
        latest = latest_status(outbox.statuses(queued.payout_id))
        if latest is not None:
            if _in(latest.occurred_at, since, until):
                records.append(_status_record("ach", queued, latest, "USD"))
            continue
        written = outbox.written(queued.slot.batch_id)
        assert written is not None
        effective = datetime.fromisoformat(written.details["effective_date"]).date()
        settled_day = effective + timedelta(days=settled_after_days)
        settled_at = datetime(settled_day.year, settled_day.month, settled_day.day, tzinfo=UTC)
        if settled_at <= now:
            state, raw_status, moment = PayoutState.PAID, "SETTLED", settled_at
        else:
            state, raw_status, moment = PayoutState.PENDING, "WRITTEN", written.written_at
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if _in(moment, since, until):
            records.append(
                ProviderRecord(
                    provider="ach",
                    provider_reference=queued.reference,
                    payout_id=queued.payout_id,
                    amount_minor=queued.amount_minor,
                    currency="USD",
                    state=state,
                    raw_status=raw_status,
                    occurred_at=moment,
                    source="nacha",
                    raw={"file": written.file_name, "effective_date": effective.isoformat()},
                )
            )
    return records


def _written(outbox: Outbox, entries: Iterable[QueuedEntry]) -> list[QueuedEntry]:
    """The entries whose file is written (queued ones have not reached the bank)."""
    return [e for e in entries if outbox.written(e.slot.batch_id) is not None]
