"""Bank transfer configuration from `DIAMONDS_BANK_*`, `DIAMONDS_SEPA_*` and `DIAMONDS_ACH_*`
variables: the outbox folder, the batch size, our SEPA account and our ACH origin.

Every bad or missing value is reported together in one `ProviderConfigError`, naming the variable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kernel.env import EnvReader, describe_problems
from providers.bank import ach, sepa
from providers.errors import PermanentProviderError, ProviderConfigError

DEFAULT_BATCH_SIZE = 1_000
MAX_BATCH_SIZE = 100_000
DEFAULT_ACH_SETTLED_AFTER_DAYS = 3
_COMPANY_ID = re.compile(r"^[A-Z0-9]{1,10}$")


@dataclass(frozen=True)
class OutboxConfig:
    """Where bank files go, and how many payouts a file holds at most."""

    folder: Path
    batch_size: int = DEFAULT_BATCH_SIZE


@dataclass(frozen=True)
class SepaConfig:
    outbox: OutboxConfig
    debtor: sepa.SepaDebtor
    schema: str = sepa.DEFAULT_SCHEMA

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SepaConfig:
        """DIAMONDS_BANK_OUTBOX, DIAMONDS_BANK_BATCH_SIZE, DIAMONDS_SEPA_DEBTOR_NAME,
        DIAMONDS_SEPA_DEBTOR_IBAN, DIAMONDS_SEPA_DEBTOR_BIC and DIAMONDS_SEPA_SCHEMA
        (pain.001.001.09, the default, or pain.001.001.03)."""
        read = EnvReader(environ)
        problems = read.problems
        outbox = _outbox(read)
        name = sepa.sepa_text(read.required("DIAMONDS_SEPA_DEBTOR_NAME"), 70)
        if "DIAMONDS_SEPA_DEBTOR_NAME" in read.env and not name:
            problems.append("DIAMONDS_SEPA_DEBTOR_NAME: no letters or digits left after cleaning")
        iban = read.required("DIAMONDS_SEPA_DEBTOR_IBAN")
        if iban:
            try:
                iban = sepa.check_iban(iban).compact
            except PermanentProviderError as exc:
                problems.append(f"DIAMONDS_SEPA_DEBTOR_IBAN: {exc.detail}")
        bic = read.required("DIAMONDS_SEPA_DEBTOR_BIC")
        if bic:
            try:
                bic = sepa.check_bic(bic).compact
            except PermanentProviderError as exc:
                problems.append(f"DIAMONDS_SEPA_DEBTOR_BIC: {exc.detail}")
        schema = read.choice("DIAMONDS_SEPA_SCHEMA", sepa.DEFAULT_SCHEMA, sepa.SCHEMAS)
        if problems:
            raise ProviderConfigError(sepa.SLUG, describe_problems(problems))
        return cls(outbox, sepa.SepaDebtor(name=name, iban=iban, bic=bic), schema)


@dataclass(frozen=True)
class AchConfig:
    outbox: OutboxConfig
    originator: ach.AchOriginator
    settled_after_days: int = DEFAULT_ACH_SETTLED_AFTER_DAYS
    """A written ACH credit with no return this many days after its effective date is paid."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AchConfig:
        """DIAMONDS_BANK_OUTBOX, DIAMONDS_BANK_BATCH_SIZE, DIAMONDS_ACH_ORIGIN_ROUTING,
        DIAMONDS_ACH_COMPANY_NAME, DIAMONDS_ACH_COMPANY_ID, DIAMONDS_ACH_ORIGIN_NAME,
        DIAMONDS_ACH_DESTINATION_NAME, DIAMONDS_ACH_SEC_CODE (PPD, the default, or CCD) and
        DIAMONDS_ACH_SETTLED_AFTER_DAYS (default 3)."""
        read = EnvReader(environ)
        problems = read.problems
        outbox = _outbox(read)
        routing = read.required("DIAMONDS_ACH_ORIGIN_ROUTING")
        if routing:
            try:
                routing = ach.check_routing_number(routing)
            except PermanentProviderError as exc:
                problems.append(f"DIAMONDS_ACH_ORIGIN_ROUTING: {exc.detail}")
        company_id = read.required("DIAMONDS_ACH_COMPANY_ID").upper()
        if company_id and not _COMPANY_ID.match(company_id):
            problems.append(
                f"DIAMONDS_ACH_COMPANY_ID={company_id!r}: expected 1 to 10 letters and digits"
            )
        names = {
            "DIAMONDS_ACH_COMPANY_NAME": 16,
            "DIAMONDS_ACH_ORIGIN_NAME": 23,
            "DIAMONDS_ACH_DESTINATION_NAME": 23,
        }
        cleaned: dict[str, str] = {}
        for variable, width in names.items():
            raw = read.required(variable)
            cleaned[variable] = ach.nacha_text(raw, 94)
            if raw and not cleaned[variable]:
                problems.append(f"{variable}: no letters or digits left after cleaning")
            elif len(cleaned[variable]) > width:
                problems.append(f"{variable}={raw!r}: at most {width} characters")
        sec_code = read.choice("DIAMONDS_ACH_SEC_CODE", "PPD", ach.SEC_CODES)
        settled_after = read.integer(
            "DIAMONDS_ACH_SETTLED_AFTER_DAYS", DEFAULT_ACH_SETTLED_AFTER_DAYS, 1, 60
        )
        if problems:
            raise ProviderConfigError(ach.SLUG, describe_problems(problems))
        originator = ach.AchOriginator(
            origin_routing=routing,
            company_name=cleaned["DIAMONDS_ACH_COMPANY_NAME"],
            company_id=company_id,
            origin_name=cleaned["DIAMONDS_ACH_ORIGIN_NAME"],
            destination_name=cleaned["DIAMONDS_ACH_DESTINATION_NAME"],
            sec_code=sec_code,
        )
        return cls(outbox, originator, settled_after)


def outbox_folder(environ: Mapping[str, str] | None = None) -> Path:
    """DIAMONDS_BANK_OUTBOX alone (enough to read status files back)."""
    read = EnvReader(environ)
    config = _outbox(read)
    if read.problems:
        raise ProviderConfigError("bank", describe_problems(read.problems))
    return config.folder


def _outbox(read: EnvReader) -> OutboxConfig:
    raw = read.required("DIAMONDS_BANK_OUTBOX")
    folder = Path(raw).expanduser()
    if raw and folder.exists() and not folder.is_dir():
        read.problems.append(f"DIAMONDS_BANK_OUTBOX={raw!r}: exists and is not a folder")
    batch_size = read.integer("DIAMONDS_BANK_BATCH_SIZE", DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE)
    return OutboxConfig(folder, batch_size)
