"""ISO 20022 bank statements read for reconciliation: camt.053 (the account statement) and
camt.054 (debit and credit notifications), any version from .001.02, as one `CamtEntry` per
transaction, amounts in integer minor units, matched to our payouts by EndToEndId."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from providers.errors import ProviderError
from providers.records import decimal_to_minor

RAIL = "sepa"
NOT_PROVIDED = "NOTPROVIDED"
"""What banks write for an EndToEndId the payer did not give."""


class CamtError(ValueError):
    """A file that is not a camt.053 or camt.054 we can read exactly."""


@dataclass(frozen=True)
class CamtEntry:
    """One transaction of a statement or notification. `credit` is False for money that left
    our account (a payout), True for money that came in (a payout returned). `status` is the
    entry's status code (`BOOK`, `PDNG`, `INFO`, or whatever the bank wrote)."""

    message: str
    """`camt.053` or `camt.054`."""
    document_id: str
    """The statement's or notification's Id."""
    event_id: str
    """Stable for the file's content and the transaction's place in it."""
    end_to_end_id: str | None
    amount_minor: int
    currency: str
    credit: bool
    reversal: bool
    status: str
    booked_at: datetime
    """The booking date (midnight UTC for a date without a time); the value date, else the
    document's creation time, when the entry has none."""
    charges_minor: int | None
    return_reason: str | None
    account_servicer_reference: str | None
    instructed_amount_minor: int | None = None
    instructed_currency: str | None = None
    exchange_rate: str | None = None
    creditor_name: str | None = None


def read_camt_file(path: str | Path) -> list[CamtEntry]:
    """The transactions of a camt.053 or camt.054 file. Raises `CamtError`."""
    file = Path(path)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise CamtError(f"cannot read {file}: {exc.strerror or exc}") from exc
    return parse_camt(content)


def parse_camt(content: bytes) -> list[CamtEntry]:
    """The transactions of a camt.053 (BkToCstmrStmt/Stmt) or camt.054
    (BkToCstmrDbtCdtNtfctn/Ntfctn) document. An entry booked as a batch gives one transaction
    per TxDtls, each with its own amount (the entry's amount when it holds one transaction).
    Raises `CamtError`; a DOCTYPE or entity declaration is refused."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise CamtError("the XML declares a DOCTYPE or entities; a camt document has none")
    try:
        root = ET.fromstring(content)  # noqa: S314 - no DTD allowed (checked above)
    except ET.ParseError as exc:
        raise CamtError(f"not well-formed XML: {exc}") from exc
    digest = hashlib.sha256(content).hexdigest()[:20]
    if _local(root.tag) != "Document":
        raise CamtError("not an ISO 20022 document (no Document root)")
    statement = _child(root, "BkToCstmrStmt")
    notification = _child(root, "BkToCstmrDbtCdtNtfctn")
    if statement is not None:
        message, body, part = "camt.053", statement, "Stmt"
    elif notification is not None:
        message, body, part = "camt.054", notification, "Ntfctn"
    else:
        raise CamtError("neither a camt.053 statement nor a camt.054 notification")
    created = _timestamp(_text(body, "GrpHdr", "CreDtTm"), "GrpHdr/CreDtTm")
    entries: list[CamtEntry] = []
    position = 0
    for document in _children(body, part):
        document_id = _text(document, "Id") or ""
        for entry in _children(document, "Ntry"):
            for tx in _transactions(entry):
                position += 1
                entries.append(
                    _entry(message, document_id, f"camt:{digest}:{position}", entry, tx, created)
                )
    return entries


def _transactions(entry: ET.Element) -> list[ET.Element | None]:
    details = [tx for block in _children(entry, "NtryDtls") for tx in _children(block, "TxDtls")]
    return list(details) if details else [None]


def _entry(
    message: str,
    document_id: str,
    event_id: str,
    entry: ET.Element,
    tx: ET.Element | None,
    created: datetime,
) -> CamtEntry:
    entry_amount = _amount(_child(entry, "Amt"), "Ntry/Amt")
    if entry_amount is None:
        raise CamtError(f"{event_id}: the entry has no amount")
    amount = entry_amount
    if tx is not None:
        own = _amount(_child(tx, "Amt"), "TxDtls/Amt") or _amount(
            _find(tx, "AmtDtls", "TxAmt", "Amt"), "TxDtls/AmtDtls/TxAmt/Amt"
        )
        siblings = sum(
            1 for block in _children(entry, "NtryDtls") for _ in _children(block, "TxDtls")
        )
        if own is None and siblings > 1:
            raise CamtError(f"{event_id}: a batch entry's transaction has no amount of its own")
        amount = own or entry_amount
    indicator = (_text(tx, "CdtDbtInd") if tx is not None else None) or _text(entry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise CamtError(f"{event_id}: CdtDbtInd must be CRDT or DBIT, not {indicator!r}")
    status = _text(entry, "Sts", "Cd") or _text(entry, "Sts") or ""
    booked = _date_or_time(_child(entry, "BookgDt")) or _date_or_time(_child(entry, "ValDt"))
    e2e = _text(tx, "Refs", "EndToEndId") if tx is not None else None
    instructed = _amount(_find(tx, "AmtDtls", "InstdAmt", "Amt"), "InstdAmt") if tx else None
    rate = _text(tx, "AmtDtls", "TxAmt", "CcyXchg", "XchgRate") if tx is not None else None
    charges = _charges(tx) if tx is not None else None
    if charges is None:
        charges = _charges(entry)
    reason = None
    if tx is not None:
        reason = _text(tx, "RtrInf", "Rsn", "Cd") or _text(tx, "RtrInf", "Rsn", "Prtry")
    return CamtEntry(
        message=message,
        document_id=document_id,
        event_id=event_id,
        end_to_end_id=None if not e2e or e2e == NOT_PROVIDED else e2e,
        amount_minor=amount[0],
        currency=amount[1],
        credit=indicator == "CRDT",
        reversal=(_text(entry, "RvslInd") or "").lower() == "true",
        status=status,
        booked_at=booked or created,
        charges_minor=charges,
        return_reason=reason,
        account_servicer_reference=_text(entry, "AcctSvcrRef")
        or (_text(tx, "Refs", "AcctSvcrRef") if tx is not None else None),
        instructed_amount_minor=instructed[0] if instructed else None,
        instructed_currency=instructed[1] if instructed else None,
        exchange_rate=rate,
        creditor_name=_text(tx, "RltdPties", "Cdtr", "Nm")
        or _text(tx, "RltdPties", "Cdtr", "Pty", "Nm")
        if tx is not None
        else None,
    )


def _amount(element: ET.Element | None, where: str) -> tuple[int, str] | None:
    if element is None or element.text is None:
        return None
    currency = (element.get("Ccy") or "").upper()
    if len(currency) != 3:
        raise CamtError(f"{where}: an amount without its Ccy")
    try:
        return decimal_to_minor(RAIL, element.text, currency), currency
    except ProviderError as exc:
        raise CamtError(f"{where}: {exc}") from exc


def _charges(element: ET.Element) -> int | None:
    """Charges taken by the bank (Chrgs/TtlChrgsAndTaxAmt, else the sum of Chrgs/Rcrd/Amt)."""
    block = _child(element, "Chrgs")
    if block is None:
        return None
    total = _amount(_child(block, "TtlChrgsAndTaxAmt"), "Chrgs/TtlChrgsAndTaxAmt")
    if total is not None:
        return total[0]
    records = [_amount(_child(r, "Amt"), "Chrgs/Rcrd/Amt") for r in _children(block, "Rcrd")]
    return sum(r[0] for r in records if r is not None) if records else None


def _date_or_time(element: ET.Element | None) -> datetime | None:
    if element is None:
        return None
    moment = _text(element, "DtTm")
    if moment:
        return _timestamp(moment, "DtTm")
    day = _text(element, "Dt")
    if not day:
        return None
    try:
        parsed = date.fromisoformat(day[:10])
    except ValueError:
        raise CamtError(f"bad date {day!r}") from None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def _timestamp(raw: str | None, where: str) -> datetime:
    if not raw:
        raise CamtError(f"no {where}")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise CamtError(f"{where}: bad timestamp {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _find(element: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if element is None:
            return None
        element = _child(element, name)
    return element


def _text(element: ET.Element | None, *path: str) -> str | None:
    found = _find(element, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None
