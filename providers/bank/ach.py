"""US ACH credits as NACHA files: routing numbers checked with python-stdnum, a writer for one
batch of PPD or CCD credit entries, and a strict reader that checks every count, hash and total.
"""

from __future__ import annotations

import hashlib
import math
import re
from base64 import b32encode
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.us import rtn
from text_unidecode import unidecode  # type: ignore[import-untyped]

from providers.errors import InvalidFieldValue, PermanentProviderError

SLUG = "ach"
RECORD_LENGTH = 94
BLOCKING_FACTOR = 10
FILLER = "9" * RECORD_LENGTH
SEC_CODES = ("PPD", "CCD")
SERVICE_CLASS_CREDITS = "220"
CHECKING_CREDIT = "22"
SAVINGS_CREDIT = "32"
MAX_AMOUNT_MINOR = 9_999_999_999
"""An entry's amount field has ten digits: $99,999,999.99."""
MAX_TOTAL_MINOR = 999_999_999_999
"""A batch's and a file's total credit fields have twelve digits."""

_FILE_ID_MODIFIERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DISALLOWED = re.compile(r"[^A-Z0-9 .,&'/()\-]")
_SPACES = re.compile(r" {2,}")
_ACCOUNT = re.compile(r"^[A-Z0-9]{1,17}$")
_SAFE_ID = re.compile(r"^[A-Z0-9\-]{1,15}$")
_ROUTING_PREFIXES = frozenset(
    # Federal Reserve routing symbols: 00 government, 01-12 banks, 21-32 thrifts,
    # 61-72 electronic transactions, 80 traveler's cheques.
    [f"{n:02d}" for n in (*range(13), *range(21, 33), *range(61, 73), 80)]
)


class NachaFormatError(ValueError):
    """A NACHA file whose layout, counts, hashes or totals do not hold."""


def check_routing_number(raw: str | None) -> str:
    """A valid nine-digit ABA routing number (checksum and Federal Reserve prefix), or a
    `PermanentProviderError` with code INVALID_ROUTING_NUMBER (MISSING_ACCOUNT when absent)."""
    if raw is None or not raw.strip():
        raise PermanentProviderError(SLUG, "MISSING_ACCOUNT", "the payee has no routing number")
    try:
        number = rtn.validate(raw)
    except StdnumValidationError as exc:
        raise PermanentProviderError(
            SLUG, "INVALID_ROUTING_NUMBER", f"{raw!r} is not a valid routing number: {exc}"
        ) from None
    if number[:2] not in _ROUTING_PREFIXES:
        raise PermanentProviderError(
            SLUG, "INVALID_ROUTING_NUMBER", f"{raw!r} has no valid Federal Reserve prefix"
        )
    return number


ACCOUNT_TYPES = ("checking", "savings")
_PAYEE_ACCOUNT = re.compile(r"^[0-9]{4,17}$")
_SEPARATORS = re.compile(r"[\s-]")


def payee_routing_number(raw: str) -> str:
    """A payout method's routing number (spaces and dashes dropped), or `InvalidFieldValue`."""
    try:
        return check_routing_number(_SEPARATORS.sub("", raw))
    except PermanentProviderError:
        raise InvalidFieldValue(
            "this is not a valid ABA routing number (9 digits with a check digit)",
            "INVALID_ROUTING_NUMBER",
        ) from None


def payee_account_number(raw: str) -> str:
    """A payout method's account number: 4 to 17 digits once spaces and dashes are dropped."""
    number = _SEPARATORS.sub("", raw)
    if not _PAYEE_ACCOUNT.match(number):
        raise InvalidFieldValue("an account number is 4 to 17 digits", "INVALID_ACCOUNT_NUMBER")
    return number


def payee_account_type(raw: str) -> str:
    kind = raw.lower()
    if kind not in ACCOUNT_TYPES:
        raise InvalidFieldValue("the account type is checking or savings", "INVALID_ACCOUNT_TYPE")
    return kind


def check_account_number(raw: str | None) -> str:
    """A DFI account number: 1 to 17 letters and digits (spaces and dashes are not allowed)."""
    if raw is None or not raw.strip():
        raise PermanentProviderError(SLUG, "MISSING_ACCOUNT", "the payee has no account number")
    number = raw.strip().upper()
    if not _ACCOUNT.match(number):
        raise PermanentProviderError(
            SLUG,
            "INVALID_ACCOUNT_NUMBER",
            "an ACH account number has 1 to 17 letters and digits, no spaces or dashes",
        )
    return number


def transaction_code(account_type: str | None) -> str:
    """22 credits a checking account (the default), 32 a savings account."""
    kind = (account_type or "checking").strip().lower()
    if kind == "checking":
        return CHECKING_CREDIT
    if kind == "savings":
        return SAVINGS_CREDIT
    raise PermanentProviderError(
        SLUG, "INVALID_ACCOUNT_TYPE", f"account type {account_type!r}: expected checking or savings"
    )


def nacha_text(value: str, limit: int) -> str:
    """`value` transliterated to upper-case ASCII letters, digits and a few punctuation marks,
    cut to `limit` characters, as banks expect in NACHA name fields."""
    upper = unidecode(value).upper()
    return _SPACES.sub(" ", _DISALLOWED.sub(" ", upper)).strip()[:limit].rstrip()


def individual_id(payout_id: str) -> str:
    """The entry's 15-character identification number: the payout id when it fits, otherwise
    `H` and 14 base32 characters of its SHA-256 (printed on the payee's statement)."""
    candidate = payout_id.upper()
    if _SAFE_ID.match(candidate):
        return candidate
    return "H" + b32encode(hashlib.sha256(payout_id.encode()).digest()).decode("ascii")[:14]


def trace_number(origin_routing: str, sequence: int) -> str:
    """The entry's trace number: the ODFI's first eight routing digits and a seven-digit
    sequence (it wraps after ten million entries)."""
    return f"{origin_routing[:8]}{sequence % 10_000_000:07d}"


def file_id_modifier(file_number: int) -> str:
    """A-Z then 0-9: tells apart files written on the same day from the same origin."""
    return _FILE_ID_MODIFIERS[(file_number - 1) % len(_FILE_ID_MODIFIERS)]


def effective_entry_date(written: date) -> date:
    """The next weekday after the file is written (bank holidays are not known here)."""
    day = written + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class AchOriginator:
    """Who sends the file and through which bank (the ODFI)."""

    origin_routing: str
    company_name: str
    company_id: str
    origin_name: str
    destination_name: str
    sec_code: str = "PPD"
    entry_description: str = "PAYOUT"


@dataclass(frozen=True)
class AchCredit:
    """One credit entry, already checked."""

    transaction_code: str
    routing_number: str
    account_number: str
    amount_minor: int
    individual_id: str
    name: str
    trace_number: str


def write_nacha(
    originator: AchOriginator,
    credits: list[AchCredit],
    *,
    created_at: datetime,
    effective_date: date,
    file_number: int,
    batch_number: int,
) -> str:
    """A NACHA file with one batch of credit entries (service class 220), blocked to a
    multiple of ten 94-character records with 9-filler lines. Depends only on its arguments."""
    if not credits:
        raise ValueError("a NACHA file needs at least one entry")
    if originator.sec_code not in SEC_CODES:
        raise ValueError(f"SEC code {originator.sec_code!r}: expected one of {SEC_CODES}")
    odfi = originator.origin_routing[:8]
    entry_hash = sum(int(c.routing_number[:8]) for c in credits) % 10**10
    total = sum(c.amount_minor for c in credits)
    if total > MAX_TOTAL_MINOR:
        raise ValueError(f"the batch total {total} does not fit twelve digits")
    records = [
        "1"
        + "01"
        + " "
        + originator.origin_routing
        + originator.company_id.rjust(10)
        + created_at.strftime("%y%m%d%H%M")
        + file_id_modifier(file_number)
        + "094"
        + f"{BLOCKING_FACTOR:02d}"
        + "1"
        + _alpha(originator.destination_name, 23)
        + _alpha(originator.origin_name, 23)
        + _numeric(file_number, 8),
        "5"
        + SERVICE_CLASS_CREDITS
        + _alpha(originator.company_name, 16)
        + _alpha("", 20)
        + _alpha(originator.company_id, 10)
        + originator.sec_code
        + _alpha(originator.entry_description, 10)
        + _alpha("", 6)
        + effective_date.strftime("%y%m%d")
        + "   "
        + "1"
        + odfi
        + _numeric(batch_number, 7),
    ]
    for credit in credits:
        if not 0 < credit.amount_minor <= MAX_AMOUNT_MINOR:
            raise ValueError(f"entry amount {credit.amount_minor} out of range")
        records.append(
            "6"
            + credit.transaction_code
            + credit.routing_number
            + _alpha(credit.account_number, 17)
            + _numeric(credit.amount_minor, 10)
            + _alpha(credit.individual_id, 15)
            + _alpha(credit.name, 22)
            + "  "
            + "0"
            + credit.trace_number
        )
    records.append(
        "8"
        + SERVICE_CLASS_CREDITS
        + _numeric(len(credits), 6)
        + _numeric(entry_hash, 10)
        + _numeric(0, 12)
        + _numeric(total, 12)
        + _alpha(originator.company_id, 10)
        + _alpha("", 19)
        + _alpha("", 6)
        + odfi
        + _numeric(batch_number, 7)
    )
    blocks = math.ceil((len(records) + 1) / BLOCKING_FACTOR)
    records.append(
        "9"
        + _numeric(1, 6)
        + _numeric(blocks, 6)
        + _numeric(len(credits), 8)
        + _numeric(entry_hash, 10)
        + _numeric(0, 12)
        + _numeric(total, 12)
        + _alpha("", 39)
    )
    records.extend([FILLER] * (blocks * BLOCKING_FACTOR - len(records)))
    for number, record in enumerate(records, start=1):
        if len(record) != RECORD_LENGTH:  # a field overflowed: a bug, never a bank file
            raise AssertionError(f"record {number} has {len(record)} characters: {record!r}")
    return "\n".join(records) + "\n"


def _alpha(value: str, width: int) -> str:
    if len(value) > width:
        raise ValueError(f"{value!r} does not fit {width} characters")
    return value.ljust(width)


def _numeric(value: int, width: int) -> str:
    text = str(value)
    if value < 0 or len(text) > width:
        raise ValueError(f"{value} does not fit {width} digits")
    return text.zfill(width)


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NachaAddenda:
    line: int
    type_code: str
    record: str

    @property
    def return_reason(self) -> str:
        """R01, R02, ... in a return (type 99); C01, ... in a notification of change (98)."""
        return self.record[3:6]

    @property
    def original_trace(self) -> str:
        return self.record[6:21]

    @property
    def information(self) -> str:
        return self.record[35:79].strip()


@dataclass(frozen=True)
class NachaEntry:
    line: int
    transaction_code: str
    routing_number: str
    account_number: str
    amount_minor: int
    individual_id: str
    name: str
    trace_number: str
    addenda: tuple[NachaAddenda, ...]


@dataclass(frozen=True)
class NachaBatch:
    line: int
    service_class: str
    company_name: str
    company_id: str
    sec_code: str
    entry_description: str
    effective_date: str
    odfi: str
    batch_number: int
    entries: tuple[NachaEntry, ...]
    total_debit_minor: int
    total_credit_minor: int


@dataclass(frozen=True)
class NachaFile:
    immediate_destination: str
    immediate_origin: str
    created_at: datetime
    file_id_modifier: str
    destination_name: str
    origin_name: str
    batches: tuple[NachaBatch, ...]
    lines: int


def parse_nacha(text: str) -> NachaFile:
    """Read a NACHA file and check it whole: every record 94 characters, the records in order,
    each batch's and the file's entry counts, entry hashes and totals, and the block count.
    Raises `NachaFormatError` naming the line at fault."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise NachaFormatError("the file is empty")
    for number, line in enumerate(lines, start=1):
        if len(line) != RECORD_LENGTH:
            raise NachaFormatError(f"line {number}: {len(line)} characters, expected 94")
    records = [(n, line) for n, line in enumerate(lines, start=1) if line != FILLER]
    if records[0][1][0] != "1":
        raise NachaFormatError("line 1: expected the file header (record type 1)")
    header = records[0][1]
    if header[34:37] != "094" or header[37:39] != "10":
        raise NachaFormatError("line 1: expected record size 094 and blocking factor 10")
    batches: list[NachaBatch] = []
    index = 1
    file_control: str | None = None
    while index < len(records):
        number, record = records[index]
        kind = record[0]
        if kind == "5":
            batch, index = _read_batch(records, index)
            batches.append(batch)
        elif kind == "9":
            file_control = record
            index += 1
            if index != len(records):
                raise NachaFormatError(f"line {records[index][0]}: a record after the file control")
        else:
            raise NachaFormatError(f"line {number}: unexpected record type {kind!r}")
    if file_control is None:
        raise NachaFormatError("no file control record (type 9)")
    entries = [e for b in batches for e in b.entries]
    addenda_count = len(entries) + sum(len(e.addenda) for e in entries)
    _expect(file_control, 1, 7, len(batches), "file control batch count")
    _expect(file_control, 7, 13, math.ceil(len(lines) / BLOCKING_FACTOR), "file control blocks")
    _expect(file_control, 13, 21, addenda_count, "file control entry/addenda count")
    _expect(file_control, 21, 31, _entry_hash(entries), "file control entry hash")
    _expect(file_control, 31, 43, sum(b.total_debit_minor for b in batches), "file control debits")
    _expect(
        file_control, 43, 55, sum(b.total_credit_minor for b in batches), "file control credits"
    )
    return NachaFile(
        immediate_destination=header[3:13].strip(),
        immediate_origin=header[13:23].strip(),
        created_at=_created_at(header),
        file_id_modifier=header[33],
        destination_name=header[40:63].strip(),
        origin_name=header[63:86].strip(),
        batches=tuple(batches),
        lines=len(lines),
    )


def _read_batch(records: list[tuple[int, str]], index: int) -> tuple[NachaBatch, int]:
    start_line, header = records[index]
    index += 1
    entries: list[NachaEntry] = []
    while index < len(records) and records[index][1][0] == "6":
        line, record = records[index]
        index += 1
        addenda: list[NachaAddenda] = []
        while index < len(records) and records[index][1][0] == "7":
            addenda_line, addenda_record = records[index]
            addenda.append(NachaAddenda(addenda_line, addenda_record[1:3], addenda_record))
            index += 1
        _digits(record, 3, 12, line)
        if (record[78] == "1") != bool(addenda):
            raise NachaFormatError(f"line {line}: the addenda indicator does not match")
        entries.append(
            NachaEntry(
                line=line,
                transaction_code=record[1:3],
                routing_number=record[3:12],
                account_number=record[12:29].strip(),
                amount_minor=_digits(record, 29, 39, line),
                individual_id=record[39:54].strip(),
                name=record[54:76].strip(),
                trace_number=record[79:94],
                addenda=tuple(addenda),
            )
        )
    if index >= len(records) or records[index][1][0] != "8":
        where = records[index][0] if index < len(records) else "end"
        raise NachaFormatError(f"line {where}: expected the batch control of line {start_line}")
    control_line, control = records[index]
    # Transaction codes x1-x4 are credits, x5-x9 debits (x1 and x6 are returns and NOCs).
    credits = sum(e.amount_minor for e in entries if e.transaction_code[1] in "01234")
    debits = sum(e.amount_minor for e in entries if e.transaction_code[1] in "56789")
    addenda_count = len(entries) + sum(len(e.addenda) for e in entries)
    _expect(control, 4, 10, addenda_count, f"line {control_line}: batch entry/addenda count")
    _expect(control, 10, 20, _entry_hash(entries), f"line {control_line}: batch entry hash")
    _expect(control, 20, 32, debits, f"line {control_line}: batch total debits")
    _expect(control, 32, 44, credits, f"line {control_line}: batch total credits")
    if control[87:94] != header[87:94]:
        raise NachaFormatError(f"line {control_line}: batch number differs from its header")
    batch = NachaBatch(
        line=start_line,
        service_class=header[1:4],
        company_name=header[4:20].strip(),
        company_id=header[40:50].strip(),
        sec_code=header[50:53],
        entry_description=header[53:63].strip(),
        effective_date=header[69:75],
        odfi=header[79:87],
        batch_number=_digits(header, 87, 94, start_line),
        entries=tuple(entries),
        total_debit_minor=debits,
        total_credit_minor=credits,
    )
    return batch, index + 1


def _entry_hash(entries: list[NachaEntry] | tuple[NachaEntry, ...]) -> int:
    return sum(int(e.routing_number[:8]) for e in entries) % 10**10


def _digits(record: str, start: int, end: int, line: int) -> int:
    field = record[start:end]
    if not field.isdigit():
        raise NachaFormatError(f"line {line}: expected digits at {start + 1}-{end}, got {field!r}")
    return int(field)


def _expect(record: str, start: int, end: int, actual: int, what: str) -> None:
    field = record[start:end]
    if not field.isdigit() or int(field) != actual:
        raise NachaFormatError(f"{what} is {field!r}, expected {actual}")


def _created_at(header: str) -> datetime:
    stamp = header[23:29] + (header[29:33] if header[29:33].strip() else "0000")
    try:
        return datetime.strptime(stamp, "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise NachaFormatError(f"line 1: bad creation date/time {stamp!r}") from None
