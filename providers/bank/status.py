"""Bank status files read back as provider-neutral `StatusUpdate`s: ISO 20022 pain.002 payment
status reports for SEPA and NACHA return files (addenda 99, R-codes) for ACH.

Event ids come from the file's content and the place in it (`sepa:<sha256 prefix>:<n>`), so the
same file read twice gives the same updates and the pipeline applies them once. With the outbox
at hand, each update names the payout (`payout_id`) and the reference `submit` returned.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from providers.bank import ach
from providers.bank.outbox import MANIFEST, Outbox
from providers.base import PayoutState, StatusUpdate

_TERMINAL = {PayoutState.PAID, PayoutState.FAILED, PayoutState.RETURNED, PayoutState.CANCELED}


class StatusFileError(ValueError):
    """A file that is not a bank status report we can read."""


# ISO 20022 ExternalPaymentTransactionStatus1Code, as a payer sees it.
PAIN002_STATES: dict[str, PayoutState] = {
    "ACSC": PayoutState.PAID,  # settlement on our account completed: the money left
    "ACCC": PayoutState.PAID,  # settlement on the creditor's account completed
    "ACCP": PayoutState.PENDING,  # accepted, customer profile checked
    "ACSP": PayoutState.PENDING,  # accepted, settlement in process
    "ACTC": PayoutState.PENDING,  # accepted, technical validation passed
    "ACWC": PayoutState.PENDING,  # accepted with change
    "ACWP": PayoutState.PENDING,  # accepted without posting
    "ACFC": PayoutState.PENDING,  # accepted, funds checked
    "ACIS": PayoutState.PENDING,  # accepted, with a change of instruction
    "BLCK": PayoutState.PENDING,  # blocked for now (sanctions screening, a hold)
    "PDNG": PayoutState.PENDING,  # pending
    "PRES": PayoutState.PENDING,  # presented
    "RCVD": PayoutState.PENDING,  # received
    "RJCT": PayoutState.FAILED,
    "CANC": PayoutState.CANCELED,
}

PARTIAL = frozenset({"PART", "PATC"})
"""Group or block statuses that say only "some were accepted": the transactions say the rest."""

REASONS: dict[str, str] = {
    # ISO 20022 status reasons most seen on SEPA credit transfers.
    "AC01": "incorrect account number",
    "AC04": "closed account number",
    "AC06": "blocked account",
    "AC13": "invalid debtor account type",
    "AG01": "transaction forbidden on this account",
    "AG02": "invalid bank operation code",
    "AM04": "insufficient funds",
    "AM05": "duplicate payment",
    "BE04": "missing creditor address",
    "CNOR": "creditor bank is not registered under this BIC",
    "CUST": "requested by the customer",
    "DUPL": "duplicate payment",
    "FF01": "invalid file format",
    "MD07": "end customer deceased",
    "MS02": "reason not specified (customer)",
    "MS03": "reason not specified (agent)",
    "RC01": "bank identifier incorrect",
    "RR01": "regulatory reason: missing debtor account or identification",
    "RR02": "regulatory reason: missing debtor name or address",
    "RR03": "regulatory reason: missing creditor name or address",
    "RR04": "regulatory reason",
    "TM01": "received after the cut-off time",
    # NACHA return reason codes.
    "R01": "insufficient funds",
    "R02": "account closed",
    "R03": "no account, or unable to locate the account",
    "R04": "invalid account number",
    "R06": "returned at the originating bank's request",
    "R13": "invalid ACH routing number",
    "R14": "representative payee deceased",
    "R15": "beneficiary or account holder deceased",
    "R16": "account frozen, or returned per OFAC",
    "R17": "file record edit criteria",
    "R20": "non-transaction account",
    "R23": "credit entry refused by the receiver",
    "R24": "duplicate entry",
    "R28": "routing number check digit error",
    "R29": "corporate customer advises not authorized",
    "R31": "permissible return entry",
}

ACH_FAILED_CODES = frozenset(
    # The receiving bank could not post the credit to the payee's account: the payee never
    # had the money, and their account details need fixing.
    {"R01", "R02", "R03", "R04", "R13", "R14", "R15", "R16", "R20", "R28"}
)
"""Every other R-code is RETURNED: the payee's bank, or the payee, sent the money back."""


@dataclass(frozen=True)
class StatusReport:
    """What a status file said, for one rail: `slug` is `sepa` or `ach`, the provider slug the
    updates belong to."""

    slug: str
    path: Path
    sha256: str
    updates: list[StatusUpdate]

    @property
    def unmatched(self) -> list[StatusUpdate]:
        """Updates that name no payout of this outbox."""
        return [u for u in self.updates if u.payout_id is None]


def read_status_file(path: str | Path, outbox: str | Path | None = None) -> list[StatusUpdate]:
    """The status updates in a pain.002 or ACH return file. `outbox` is the bank outbox root
    (DIAMONDS_BANK_OUTBOX): with it, every update names its payout. Reading writes nothing."""
    return read_status_report(path, outbox).updates


def read_status_report(path: str | Path, outbox: str | Path | None = None) -> StatusReport:
    """`read_status_file`, with the rail the file belongs to."""
    file = Path(path)
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise StatusFileError(f"cannot read {file}: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(content).hexdigest()
    start = content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"<":
        slug, updates = "sepa", _read_pain002(content, digest, _outbox(outbox, "sepa"))
    elif start == b"1":
        slug, updates = "ach", _read_ach_returns(content, digest, _outbox(outbox, "ach"))
    else:
        raise StatusFileError(f"{file} is neither a pain.002 XML report nor a NACHA return file")
    return StatusReport(slug, file, digest, updates)


def import_status_file(path: str | Path, outbox: str | Path) -> StatusReport:
    """Read a status file and remember its updates in the outbox (so `lookup` knows them).
    Importing the same file again records nothing new and returns the same updates."""
    report = read_status_report(path, outbox)
    Outbox(Path(outbox), report.slug).record_statuses(report.updates)
    return report


def _outbox(root: str | Path | None, rail: str) -> Outbox | None:
    if root is None:
        return None
    outbox = Outbox(Path(root), rail)
    if not (outbox.folder / MANIFEST).is_file():
        raise StatusFileError(f"{outbox.folder} is no {rail} outbox (it has no {MANIFEST})")
    return outbox


# --- pain.002 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Status:
    code: str
    reason: str | None
    info: str | None


def _read_pain002(content: bytes, digest: str, outbox: Outbox | None) -> list[StatusUpdate]:
    root = _parse_xml(content)
    report = _child(root, "CstmrPmtStsRpt")
    if _local(root.tag) != "Document" or report is None:
        raise StatusFileError("not a pain.002 payment status report (no CstmrPmtStsRpt)")
    created = _text(report, "GrpHdr", "CreDtTm")
    if created is None:
        raise StatusFileError("the report has no GrpHdr/CreDtTm")
    occurred_at = _timestamp(created)
    group = _child(report, "OrgnlGrpInfAndSts")
    message_id = _text(group, "OrgnlMsgId")
    if group is None or not message_id:
        raise StatusFileError("the report has no OrgnlGrpInfAndSts/OrgnlMsgId")
    file_name = f"{message_id}.xml"
    event = f"sepa:{digest[:20]}"
    group_status = _status_of(group, "GrpSts")
    # Our files hold one payment information block, whose id is the message id.
    whole_file = group_status
    updates: list[StatusUpdate] = []
    answered: set[str] = set()
    position = 0
    for block in _children(report, "OrgnlPmtInfAndSts"):
        block_status = _status_of(block, "PmtInfSts")
        if block_status is not None and _text(block, "OrgnlPmtInfId") == message_id:
            whole_file = block_status
        for tx in _children(block, "TxInfAndSts"):
            position += 1
            e2e = _text(tx, "OrgnlEndToEndId")
            status = _status_of(tx, "TxSts") or block_status or group_status
            if not e2e or status is None or status.code in PARTIAL:
                raise StatusFileError(f"transaction status {position} has no usable status")
            answered.add(e2e)
            updates.append(
                _sepa_update(f"{event}:{position}", status, occurred_at, outbox, file_name, e2e)
            )
    if whole_file is None or whole_file.code in PARTIAL:
        return updates
    # A status for the whole file, without a word per transaction, covers every transaction
    # of the file not answered one by one: the outbox knows which those are.
    if outbox is None:
        updates.append(
            StatusUpdate(
                event_id=f"{event}:file",
                state=_state(whole_file, message_id),
                occurred_at=occurred_at,
                provider_reference=f"sepa:{file_name}",
                raw_type=whole_file.code,
                failure_code=_failure_code(whole_file),
                failure_message=_failure_message(whole_file),
            )
        )
        return updates
    for entry in outbox.entries_of(message_id):
        if entry.key not in answered:
            updates.append(
                _sepa_update(
                    f"{event}:file:{entry.key}",
                    whole_file,
                    occurred_at,
                    outbox,
                    file_name,
                    entry.key,
                )
            )
    return updates


def _state(status: _Status, subject: str) -> PayoutState:
    state = PAIN002_STATES.get(status.code)
    if state is None:
        raise StatusFileError(f"unknown pain.002 status code {status.code!r} for {subject}")
    return state


def _sepa_update(
    event_id: str,
    status: _Status,
    occurred_at: datetime,
    outbox: Outbox | None,
    file_name: str,
    e2e: str,
) -> StatusUpdate:
    state = _state(status, e2e)
    entry = outbox.entry_by_key(e2e) if outbox is not None else None
    if entry is not None and entry.slot.file_name != file_name:
        entry = None  # the bank speaks of another file than the one we wrote it in: not ours
    return StatusUpdate(
        event_id=event_id,
        state=state,
        occurred_at=occurred_at,
        payout_id=entry.payout_id if entry else None,
        provider_reference=entry.reference if entry else f"sepa:{file_name}#{e2e}",
        raw_type=status.code,
        failure_code=_failure_code(status),
        failure_message=_failure_message(status),
    )


def _failure_code(status: _Status) -> str | None:
    if PAIN002_STATES.get(status.code) not in (PayoutState.FAILED, PayoutState.CANCELED):
        return None
    return status.reason or status.code


def _failure_message(status: _Status) -> str | None:
    if _failure_code(status) is None:
        return None
    known = REASONS.get(status.reason or "")
    parts = [p for p in (known, status.info) if p]
    return "; ".join(parts) or None


def _status_of(element: ET.Element, tag: str) -> _Status | None:
    code = _text(element, tag)
    if not code:
        return None
    reason_info = _child(element, "StsRsnInf")
    reason = info = None
    if reason_info is not None:
        reason = _text(reason_info, "Rsn", "Cd") or _text(reason_info, "Rsn", "Prtry")
        info = " ".join(t.strip() for t in _texts(reason_info, "AddtlInf")) or None
    return _Status(code, reason, info)


def _parse_xml(content: bytes) -> ET.Element:
    # A pain.002 needs no DTD: refusing one shuts out entity tricks. Python's expat does not
    # fetch external entities and bounds entity expansion.
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise StatusFileError("the XML declares a DOCTYPE or entities; a pain.002 has none")
    try:
        return ET.fromstring(content)  # noqa: S314
    except ET.ParseError as exc:
        raise StatusFileError(f"not well-formed XML: {exc}") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next(_children(element, name), None)


def _text(element: ET.Element | None, *path: str) -> str | None:
    for name in path:
        if element is None:
            return None
        element = _child(element, name)
    if element is None or element.text is None:
        return None
    return element.text.strip()


def _texts(element: ET.Element, name: str) -> list[str]:
    return [child.text for child in _children(element, name) if child.text]


def _timestamp(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise StatusFileError(f"bad timestamp {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- ACH returns --------------------------------------------------------------------------------


def _read_ach_returns(content: bytes, digest: str, outbox: Outbox | None) -> list[StatusUpdate]:
    try:
        parsed = ach.parse_nacha(content.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise StatusFileError(f"a NACHA file is ASCII; byte {exc.start} is not") from exc
    except ach.NachaFormatError as exc:
        raise StatusFileError(f"not a valid NACHA file: {exc}") from exc
    updates: list[StatusUpdate] = []
    for batch in parsed.batches:
        for entry in batch.entries:
            kinds = {a.type_code for a in entry.addenda}
            if "99" not in kinds:
                if "98" in kinds:  # a notification of change: the payment went through
                    continue
                raise StatusFileError(
                    f"line {entry.line}: an entry that is neither a return nor a notification "
                    "of change; is this an outgoing file?"
                )
            addenda = next(a for a in entry.addenda if a.type_code == "99")
            code = addenda.return_reason
            queued = outbox.entry_by_key(addenda.original_trace) if outbox is not None else None
            described = REASONS.get(code)
            message = "; ".join(p for p in (described, addenda.information) if p) or None
            updates.append(
                StatusUpdate(
                    event_id=f"ach:{digest[:20]}:{entry.line}",
                    state=PayoutState.FAILED if code in ACH_FAILED_CODES else PayoutState.RETURNED,
                    occurred_at=parsed.created_at,
                    payout_id=queued.payout_id if queued else None,
                    provider_reference=(
                        queued.reference if queued else f"ach:#{addenda.original_trace}"
                    ),
                    raw_type=f"RETURN {code}",
                    failure_code=code,
                    failure_message=message,
                )
            )
    return updates


def latest_status(statuses: list[StatusUpdate]) -> StatusUpdate | None:
    """The status that stands: the latest by time; at the same time, a final one over news
    that it is still pending; then the one recorded last."""
    if not statuses:
        return None
    return max(
        enumerate(statuses),
        key=lambda pair: (pair[1].occurred_at, pair[1].state in _TERMINAL, pair[0]),
    )[1]
