"""SEPA credit transfers: the payee checks (IBAN and BIC with schwifty, names in the SEPA character
set) and the ISO 20022 pain.001 writer (sepaxml), validated against the schema sepaxml ships.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b32encode
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sepaxml  # type: ignore[import-untyped]
from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)
from text_unidecode import unidecode  # type: ignore[import-untyped]

from providers.errors import InvalidFieldValue, PermanentProviderError

if TYPE_CHECKING:
    import xmlschema

SLUG = "sepa"
SCHEMAS = ("pain.001.001.03", "pain.001.001.09")
DEFAULT_SCHEMA = "pain.001.001.09"

_SEPA_ZONE = (
    # The EPC's SEPA scheme countries and territories whose IBANs schwifty marks in_sepa_zone:
    # the EU, EEA, Switzerland, the UK, the microstates, Crown dependencies, French territories.
    "AD AT AX BE BG BL CH CY CZ DE DK EE ES FI FR GB GF GG GI GP GR HR HU IE IM IS IT JE LI LT "
    "LU LV MC MF MQ MT NC NL NO PF PL PM PT RE RO SE SI SK SM TF VA WF YT"
)
SEPA_COUNTRIES = frozenset(_SEPA_ZONE.split())

MAX_AMOUNT_MINOR = 99_999_999_999
"""The EPC rulebook's ceiling for one credit transfer: EUR 999,999,999.99."""

_DISALLOWED = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_SPACES = re.compile(r" {2,}")
_SLASHES = re.compile(r"/{2,}")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,34}$")


def sepa_text(value: str, limit: int) -> str:
    """`value` transliterated to the SEPA Latin character set (a-z A-Z 0-9 / - ? : ( ) . , ' +
    and space) and cut to `limit` characters: `Zoë & Łukasz` becomes `Zoe + Lukasz`."""
    ascii_text = unidecode(value).replace("&", "+").replace("_", "-")
    cleaned = _SPACES.sub(" ", _DISALLOWED.sub(" ", ascii_text)).strip()
    # A reference must not start with "/" nor hold "//" (the EPC's rule for identifiers).
    cleaned = _SLASHES.sub("/", cleaned).lstrip("/")
    return cleaned[:limit].rstrip()


def end_to_end_id(payout_id: str) -> str:
    """The EndToEndId (at most 35 characters) that names a payout in a pain.001 and comes back in
    the bank's pain.002: the payout id itself when it fits, otherwise `H` and 32 base32
    characters of its SHA-256. The same payout id always gives the same EndToEndId."""
    if _SAFE_ID.match(payout_id):
        return payout_id
    digest = hashlib.sha256(payout_id.encode()).digest()
    return "H" + b32encode(digest).decode("ascii")[:32]


def check_iban(raw: str | None) -> IBAN:
    """A valid IBAN in the SEPA zone, or a `PermanentProviderError` that says what is wrong."""
    if raw is None or not raw.strip():
        raise PermanentProviderError(SLUG, "MISSING_ACCOUNT", "the payee has no IBAN")
    try:
        iban = IBAN(raw)
    except SchwiftyException as exc:
        raise PermanentProviderError(
            SLUG, "INVALID_IBAN", f"{raw!r} is not a valid IBAN: {exc}"
        ) from None
    if not iban.in_sepa_zone or iban.country_code not in SEPA_COUNTRIES:
        raise PermanentProviderError(
            SLUG, "IBAN_NOT_IN_SEPA", f"the IBAN's country {iban.country_code} is not in SEPA"
        )
    return iban


def check_bic(raw: str) -> BIC:
    """A valid BIC (8 or 11 characters, a known country), or a `PermanentProviderError`."""
    try:
        return BIC(raw)
    except SchwiftyException as exc:
        raise PermanentProviderError(
            SLUG, "INVALID_BIC", f"{raw!r} is not a valid BIC: {exc}"
        ) from None


def payee_iban(raw: str) -> str:
    """A payout method's IBAN, compact: valid and in the SEPA zone, or `InvalidFieldValue`
    (whose message never repeats the number)."""
    try:
        iban = IBAN(raw)
    except SchwiftyException as exc:
        raise InvalidFieldValue(
            f"this is not a valid IBAN: {_plain(exc)}", "INVALID_IBAN"
        ) from None
    if not iban.in_sepa_zone or iban.country_code not in SEPA_COUNTRIES:
        raise InvalidFieldValue(
            f"IBANs of {iban.country_code} cannot receive SEPA transfers", "INVALID_IBAN"
        )
    return str(iban.compact)


def payee_bic(raw: str) -> str:
    """A payout method's BIC, compact, or `InvalidFieldValue`."""
    try:
        return str(BIC(raw).compact)
    except SchwiftyException as exc:
        raise InvalidFieldValue(f"this is not a valid BIC: {_plain(exc)}", "INVALID_BIC") from None


def bic_of(iban: str) -> str | None:
    """The BIC schwifty's bank registry knows for a valid IBAN's bank, if any."""
    found = IBAN(iban).bic
    return None if found is None else str(found.compact)


def iban_country(iban: str) -> str:
    return str(IBAN(iban).country_code)


def _plain(exc: SchwiftyException) -> str:
    """Why schwifty refused, in our words: some of its messages repeat the number."""
    if isinstance(exc, InvalidChecksumDigits | InvalidBBANChecksum):
        return "its check digits are wrong"
    if isinstance(exc, InvalidLength):
        return "it has the wrong length"
    if isinstance(exc, InvalidCountryCode):
        return "its country code is unknown"
    return "it has the wrong format"


@dataclass(frozen=True)
class SepaDebtor:
    """Our account, which every credit transfer in a file debits."""

    name: str
    iban: str
    bic: str


@dataclass(frozen=True)
class SepaCredit:
    """One credit transfer, already checked: amounts in cents, texts in the SEPA set."""

    end_to_end_id: str
    amount_minor: int
    name: str
    iban: str
    bic: str | None
    remittance: str


def write_pain001(
    debtor: SepaDebtor,
    message_id: str,
    created_at: datetime,
    execution_date: date,
    credits: list[SepaCredit],
    schema: str = DEFAULT_SCHEMA,
) -> bytes:
    """A pain.001 customer credit transfer initiation holding `credits` in one payment
    information block, validated against sepaxml's XSD for `schema`.

    The output depends only on the arguments: the message id and the payment information id
    are `message_id`, the creation time is `created_at`, so a batch rendered twice is the same
    file byte for byte.
    """
    if schema not in SCHEMAS:
        raise ValueError(f"unsupported pain.001 schema {schema!r}; expected one of {SCHEMAS}")
    if not credits:
        raise ValueError("a pain.001 needs at least one credit transfer")
    transfer = sepaxml.SepaTransfer(
        {
            "name": debtor.name,
            "IBAN": debtor.iban,
            "BIC": debtor.bic,
            "batch": True,
            "currency": "EUR",
        },
        schema=schema,
        clean=False,
    )
    for credit in credits:
        payment: dict[str, Any] = {
            "name": credit.name,
            "IBAN": credit.iban,
            "amount": credit.amount_minor,
            "execution_date": execution_date,
            "description": credit.remittance,
            "endtoend_id": credit.end_to_end_id,
        }
        if credit.bic is not None:
            payment["BIC"] = credit.bic
        transfer.add_payment(payment)
    raw: bytes = transfer.export(validate=False, pretty_print=True)
    text = raw.decode("utf-8")
    # sepaxml draws random ids and the wall clock; pin them so the file is reproducible.
    text = _replace_once(text, "MsgId", message_id)
    text = _replace_once(text, "PmtInfId", message_id)
    text = _replace_once(text, "CreDtTm", created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    content = text.encode("utf-8")
    validate_pain001(content, schema)
    return content


def _replace_once(text: str, tag: str, value: str) -> str:
    pattern = re.compile(rf"<{tag}>[^<]*</{tag}>")
    replaced, count = pattern.subn(f"<{tag}>{value}</{tag}>", text)
    if count != 1:
        raise RuntimeError(f"expected one <{tag}> in sepaxml's output, found {count}")
    return replaced


def validate_pain001(content: bytes, schema: str = DEFAULT_SCHEMA) -> None:
    """Raise `xmlschema.XMLSchemaValidationError` unless `content` is valid under `schema`."""
    _schema(schema).validate(content.decode("utf-8"))


@cache
def _schema(name: str) -> xmlschema.XMLSchema:
    """sepaxml's own XSD, loaded once per process (loading it takes a few hundred ms)."""
    import xmlschema  # half a second to import: only when a file is written

    return xmlschema.XMLSchema(str(Path(sepaxml.__file__).parent / "schemas" / f"{name}.xsd"))
