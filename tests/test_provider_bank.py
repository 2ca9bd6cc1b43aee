"""Bank transfers end to end on real files in a temporary outbox: payouts queued once, SEPA
pain.001 files valid under sepaxml's schema, NACHA files whose counts and hashes hold when parsed
back, bank status files (pain.002, ACH returns) read back idempotently, and the `diamonds bank`
commands."""

from __future__ import annotations

import asyncio
import errno
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from schwifty import registry as schwifty_registry

from diamonds.cli import main as diamonds
from providers.bank import ach, outbox, sepa
from providers.bank.config import AchConfig, SepaConfig
from providers.bank.outbox import MANIFEST
from providers.bank.provider import AchProvider, SepaProvider
from providers.bank.status import (
    StatusFileError,
    import_status_file,
    read_status_file,
    read_status_report,
)
from providers.base import (
    Capability,
    Payee,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
)
from providers.errors import (
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnknownOutcome,
)
from providers.testing import LostAnswer, Outcome, ProviderConformance, ProviderSandbox

DATA = Path(__file__).parent / "data" / "bank"
MONDAY = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


@dataclass
class Clock:
    now: datetime = MONDAY

    def __call__(self) -> datetime:
        return self.now


def bank_env(folder: Path, **extra: str) -> dict[str, str]:
    return {
        "DIAMONDS_BANK_OUTBOX": str(folder),
        "DIAMONDS_BANK_BATCH_SIZE": "5",
        "DIAMONDS_SEPA_DEBTOR_NAME": "Diamonds Plattform GmbH",
        "DIAMONDS_SEPA_DEBTOR_IBAN": "DE89 3704 0044 0532 0130 00",
        "DIAMONDS_SEPA_DEBTOR_BIC": "COBADEFFXXX",
        "DIAMONDS_ACH_ORIGIN_ROUTING": "111000025",
        "DIAMONDS_ACH_COMPANY_NAME": "Diamonds Inc",
        "DIAMONDS_ACH_COMPANY_ID": "1234567890",
        "DIAMONDS_ACH_ORIGIN_NAME": "Diamonds Inc",
        "DIAMONDS_ACH_DESTINATION_NAME": "First Bank",
        **extra,
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return bank_env(tmp_path / "outbox")


@pytest.fixture
def sepa_provider(env: dict[str, str], clock: Clock) -> SepaProvider:
    return SepaProvider(SepaConfig.from_env(env), clock=clock)


@pytest.fixture
def ach_provider(env: dict[str, str], clock: Clock) -> AchProvider:
    return AchProvider(AchConfig.from_env(env), clock=clock)


FR_IBAN = "FR14 2004 1010 0505 0001 3M02 606"


def euro(
    n: int, amount: int = 1000, *, iban: str | None = FR_IBAN, bic: str | None = None
) -> PayoutInstruction:
    return PayoutInstruction(
        payout_id=f"diamonds-payout-{n}",
        idempotency_key=f"payout-{n}",
        amount_minor=amount,
        currency="EUR",
        payee=Payee(f"Créatrice Nº{n}", "FR", {"iban": iban, "bic": bic}),
    )


def dollar(
    n: int,
    amount: int = 1000,
    *,
    routing: str | None = "021000021",
    account: str | None = "123456789",
    kind: str | None = None,
) -> PayoutInstruction:
    return PayoutInstruction(
        payout_id=f"diamonds-payout-{n}",
        idempotency_key=f"payout-{n}",
        amount_minor=amount,
        currency="USD",
        payee=Payee(
            f"José Núñez {n}",
            "US",
            {"routing_number": routing, "account_number": account, "account_type": kind},
        ),
    )


def manifest_lines(provider: SepaProvider | AchProvider) -> list[str]:
    path = provider.outbox.folder / MANIFEST
    return path.read_text().splitlines() if path.exists() else []


def bank_files(provider: SepaProvider | AchProvider) -> list[Path]:
    suffix = outbox.RAIL_SUFFIXES[provider.slug]
    return sorted(provider.outbox.folder.glob(f"*{suffix}"))


# --- configuration ------------------------------------------------------------------------------


def test_configuration_comes_from_the_environment(env: dict[str, str]) -> None:
    sepa_config = SepaConfig.from_env(env)
    assert sepa_config.debtor == sepa.SepaDebtor(
        "Diamonds Plattform GmbH", "DE89370400440532013000", "COBADEFFXXX"
    )
    assert sepa_config.outbox.batch_size == 5
    assert sepa_config.schema == "pain.001.001.09"
    ach_config = AchConfig.from_env(env)
    assert ach_config.originator.company_name == "DIAMONDS INC"
    assert ach_config.originator.sec_code == "PPD"
    assert ach_config.settled_after_days == 3


def test_every_missing_variable_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ProviderConfigError) as sepa_error:
        SepaConfig.from_env({})
    for name in ("BANK_OUTBOX", "SEPA_DEBTOR_NAME", "SEPA_DEBTOR_IBAN", "SEPA_DEBTOR_BIC"):
        assert f"DIAMONDS_{name}: required" in str(sepa_error.value)
    with pytest.raises(ProviderConfigError) as ach_error:
        AchConfig.from_env({"DIAMONDS_BANK_OUTBOX": str(tmp_path)})
    for name in ("ORIGIN_ROUTING", "COMPANY_NAME", "COMPANY_ID", "ORIGIN_NAME", "DESTINATION_NAME"):
        assert f"DIAMONDS_ACH_{name}: required" in str(ach_error.value)


def test_bad_values_are_refused_with_their_variable(tmp_path: Path) -> None:
    bad = bank_env(
        tmp_path,
        DIAMONDS_BANK_BATCH_SIZE="0",
        DIAMONDS_SEPA_DEBTOR_IBAN="DE89370400440532013001",
        DIAMONDS_SEPA_DEBTOR_BIC="COBADEFF1",
        DIAMONDS_SEPA_SCHEMA="pain.001.001.99",
        DIAMONDS_ACH_ORIGIN_ROUTING="111000026",
        DIAMONDS_ACH_COMPANY_ID="12-34",
        DIAMONDS_ACH_COMPANY_NAME="A company name far too long for NACHA",
        DIAMONDS_ACH_SEC_CODE="WEB",
    )
    with pytest.raises(ProviderConfigError) as sepa_error:
        SepaConfig.from_env(bad)
    message = str(sepa_error.value)
    assert "DIAMONDS_BANK_BATCH_SIZE='0'" in message
    assert "DIAMONDS_SEPA_DEBTOR_IBAN" in message
    assert "checksum" in message
    assert "DIAMONDS_SEPA_DEBTOR_BIC" in message
    assert "DIAMONDS_SEPA_SCHEMA" in message
    with pytest.raises(ProviderConfigError) as ach_error:
        AchConfig.from_env(bad)
    message = str(ach_error.value)
    for name in ("ORIGIN_ROUTING", "COMPANY_ID", "COMPANY_NAME", "SEC_CODE"):
        assert f"DIAMONDS_ACH_{name}" in message


def test_the_sepa_zone_matches_schwifty() -> None:
    assert all(_in_sepa(country) for country in sepa.SEPA_COUNTRIES)
    assert not any(_in_sepa(country) for country in ("BR", "TR", "SA", "AL"))


def _in_sepa(country: str) -> bool:
    return bool(schwifty_registry.get_iban_spec(country).in_sepa_zone)


# --- SEPA ---------------------------------------------------------------------------------------


async def test_a_sepa_payout_is_queued_then_written_as_a_valid_pain001(
    sepa_provider: SepaProvider,
) -> None:
    assert sepa_provider.slug == "sepa"
    assert sepa_provider.currencies == {"EUR"}
    assert Capability.BATCH_FILES in sepa_provider.capabilities
    assert sepa_provider.serves("EUR", "DE")
    assert not sepa_provider.serves("EUR", "US")

    first = await sepa_provider.submit(euro(1, 1234))
    second = await sepa_provider.submit(euro(2, 5, bic="BNPAFRPPXXX"))
    assert first.state is PayoutState.PENDING
    assert first.raw_status == "QUEUED"
    assert first.provider_reference == "sepa:sepa-20250303-000001.xml#diamonds-payout-1"
    assert second.provider_reference == "sepa:sepa-20250303-000001.xml#diamonds-payout-2"
    assert bank_files(sepa_provider) == []  # nothing leaves before a flush

    (written,) = await sepa_provider.flush()
    assert (written.count, written.total_minor) == (2, 1239)
    assert written.path == sepa_provider.outbox.folder / "sepa-20250303-000001.xml"
    content = written.path.read_bytes()
    sepa.validate_pain001(content, "pain.001.001.09")  # raises when invalid

    doc = ET.fromstring(content)  # noqa: S314 - our own file
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS) == written.batch_id
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert doc.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "12.39"
    txs = doc.findall(".//p:CdtTrfTxInf", NS)
    assert [t.findtext("p:Amt/p:InstdAmt", namespaces=NS) for t in txs] == ["12.34", "0.05"]
    assert [t.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for t in txs] == [
        "diamonds-payout-1",
        "diamonds-payout-2",
    ]
    assert [t.findtext("p:Cdtr/p:Nm", namespaces=NS) for t in txs] == [
        "Creatrice No1",
        "Creatrice No2",
    ]
    assert txs[1].findtext(".//p:BICFI", namespaces=NS) == "BNPAFRPPXXX"
    assert await sepa_provider.flush() == []  # nothing left to write

    found = await sepa_provider.lookup("diamonds-payout-1", first.provider_reference)
    assert (found.state, found.raw_status) == (PayoutState.PENDING, "WRITTEN")


@pytest.mark.parametrize("schema", sepa.SCHEMAS)
def test_pain001_files_validate_under_both_shipped_schemas(schema: str) -> None:
    credits = [
        sepa.SepaCredit("E2E-1", 99_999_999_999, "A", "NL91ABNA0417164300", "ABNANL2A", "x"),
        sepa.SepaCredit("E2E-2", 1, "B", "DE89370400440532013000", None, "y"),
    ]
    debtor = sepa.SepaDebtor("Diamonds", "DE89370400440532013000", "COBADEFFXXX")
    content = sepa.write_pain001(debtor, "MSG-1", MONDAY, MONDAY.date(), credits, schema)
    sepa.validate_pain001(content, schema)
    assert b'<InstdAmt Ccy="EUR">999999999.99</InstdAmt>' in content
    assert b'<InstdAmt Ccy="EUR">0.01</InstdAmt>' in content
    assert b"<CtrlSum>1000000000.00</CtrlSum>" in content
    again = sepa.write_pain001(debtor, "MSG-1", MONDAY, MONDAY.date(), credits, schema)
    assert again == content  # reproducible byte for byte


def test_names_are_transliterated_to_the_sepa_character_set() -> None:
    assert sepa.sepa_text("Zoë & Łukasz Müller-Straße", 70) == "Zoe + Lukasz Muller-Strasse"
    assert sepa.sepa_text("李小龙 <b>“quoted”</b>", 70) == "Li Xiao Long b quoted /b"
    assert sepa.sepa_text("//leading slashes", 70) == "leading slashes"
    assert sepa.sepa_text("a///b", 70) == "a/b"
    assert sepa.sepa_text("x" * 100, 70) == "x" * 70


def test_the_end_to_end_id_is_derived_from_the_payout_id() -> None:
    assert sepa.end_to_end_id("diamonds-payout-42") == "diamonds-payout-42"
    long_id = "diamonds-payout-123456789012345678-2"
    derived = sepa.end_to_end_id(long_id)
    assert re.fullmatch(r"H[A-Z2-7]{32}", derived)
    assert sepa.end_to_end_id(long_id) == derived
    assert sepa.end_to_end_id("payout/with spaces") != sepa.end_to_end_id("payout/with  spaces")


async def test_the_same_payout_twice_is_queued_once(
    sepa_provider: SepaProvider, env: dict[str, str], clock: Clock
) -> None:
    first = await sepa_provider.submit(euro(1))
    again = await sepa_provider.submit(euro(1))
    assert again == first
    rerun = SepaProvider(SepaConfig.from_env(env), clock=clock)  # another process, a re-run
    assert (await rerun.submit(euro(1))).provider_reference == first.provider_reference
    assert len(manifest_lines(sepa_provider)) == 1
    (written,) = await rerun.flush()
    assert written.count == 1
    after = await sepa_provider.submit(euro(1))
    assert (after.provider_reference, after.raw_status) == (first.provider_reference, "WRITTEN")
    assert await sepa_provider.flush() == []
    assert len(bank_files(sepa_provider)) == 1


async def test_the_same_payout_id_with_other_money_is_a_conflict(
    sepa_provider: SepaProvider,
) -> None:
    await sepa_provider.submit(euro(1, 1000))
    with pytest.raises(PermanentProviderError) as caught:
        await sepa_provider.submit(euro(1, 2000))
    assert caught.value.code == "IDEMPOTENCY_CONFLICT"
    with pytest.raises(PermanentProviderError) as caught:
        await sepa_provider.submit(euro(1, 1000, iban="DE89370400440532013000"))
    assert caught.value.code == "IDEMPOTENCY_CONFLICT"
    assert len(manifest_lines(sepa_provider)) == 1


@pytest.mark.parametrize(
    ("instruction", "code"),
    [
        (euro(1, iban=None), "MISSING_ACCOUNT"),
        (euro(1, iban="FR1420041010050500013M02607"), "INVALID_IBAN"),
        (euro(1, iban="not an iban"), "INVALID_IBAN"),
        (euro(1, iban="BR1800360305000010009795493C1"), "IBAN_NOT_IN_SEPA"),
        (euro(1, bic="BNPAFRPP1"), "INVALID_BIC"),
        (euro(1, bic="BNPAZZPP"), "INVALID_BIC"),
        (euro(1, 0), "INVALID_AMOUNT"),
        (euro(1, -500), "INVALID_AMOUNT"),
        (euro(1, 100_000_000_000), "INVALID_AMOUNT"),
        (replace(euro(1), amount_minor=True), "INVALID_AMOUNT"),
        (replace(euro(1), currency="USD"), "UNSUPPORTED_CURRENCY"),
        (
            replace(euro(1), payee=Payee("Ana", "US", {"iban": "DE89370400440532013000"})),
            "UNSUPPORTED_COUNTRY",
        ),
        (
            replace(euro(1), payee=Payee("💎🎁", "DE", {"iban": "DE89370400440532013000"})),
            "INVALID_NAME",
        ),
    ],
)
async def test_a_bad_sepa_instruction_is_refused_and_writes_nothing(
    sepa_provider: SepaProvider, instruction: PayoutInstruction, code: str
) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        await sepa_provider.submit(instruction)
    assert caught.value.code == code
    assert caught.value.provider == "sepa"
    assert manifest_lines(sepa_provider) == []


async def test_a_full_batch_is_written_at_once_and_the_next_payout_opens_another(
    sepa_provider: SepaProvider,
) -> None:
    results = [await sepa_provider.submit(euro(n)) for n in range(1, 7)]
    assert [r.raw_status for r in results] == ["QUEUED"] * 4 + ["WRITTEN", "QUEUED"]
    assert [p.name for p in bank_files(sepa_provider)] == ["sepa-20250303-000001.xml"]
    assert results[5].provider_reference == "sepa:sepa-20250303-000002.xml#diamonds-payout-6"
    assert [e.payout_id for e in sepa_provider.outbox.open_batch()] == ["diamonds-payout-6"]


async def test_concurrent_submits_from_two_processes_queue_each_payout_once(
    env: dict[str, str], clock: Clock
) -> None:
    config = replace(
        SepaConfig.from_env(env), outbox=replace(SepaConfig.from_env(env).outbox, batch_size=1000)
    )
    one, two = SepaProvider(config, clock=clock), SepaProvider(config, clock=clock)
    instructions = [euro(n) for n in range(40)]
    results = await asyncio.gather(*(p.submit(i) for i in instructions for p in (one, two)))
    references = {r.payout_id: r.provider_reference for r in results}
    assert len(references) == 40
    for result in results:
        assert result.provider_reference == references[result.payout_id]
    (written,) = await two.flush()
    assert written.count == 40
    entries = one.outbox.entries_of(written.batch_id)
    assert sorted(e.slot.sequence for e in entries) == list(range(1, 41))
    assert sorted(e.slot.position for e in entries) == list(range(40))


async def test_a_flush_stopped_before_the_file_is_written_is_finished_by_the_next(
    sepa_provider: SepaProvider, env: dict[str, str], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sepa_provider.submit(euro(1))

    def disk_full(target: Path, content: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outbox, "_write_new_file", disk_full)
    with pytest.raises(TransientProviderError, match="No space"):
        await sepa_provider.flush()
    monkeypatch.undo()
    assert bank_files(sepa_provider) == []
    await sepa_provider.submit(euro(2))  # lands in a new batch: the first one is closed

    clock.now = MONDAY + timedelta(hours=2)
    restarted = SepaProvider(SepaConfig.from_env(env), clock=clock)
    written = await restarted.flush()
    assert [(w.batch_id, w.count) for w in written] == [
        ("sepa-20250303-000001", 1),
        ("sepa-20250303-000002", 1),
    ]
    assert written[0].written_at == MONDAY  # the time recorded before the failed write
    assert b"<CreDtTm>2025-03-03T09:30:00</CreDtTm>" in written[0].path.read_bytes()
    assert await restarted.flush() == []


async def test_a_flush_stopped_after_the_rename_keeps_the_file_and_writes_it_once(
    sepa_provider: SepaProvider, env: dict[str, str], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await sepa_provider.submit(euro(1))
    real_write = outbox._write_new_file

    def write_then_die(target: Path, content: bytes) -> None:
        real_write(target, content)
        raise KeyboardInterrupt  # the process stops before recording the file

    monkeypatch.setattr(outbox, "_write_new_file", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        await sepa_provider.flush()
    monkeypatch.undo()
    (path,) = bank_files(sepa_provider)
    before = path.read_bytes()

    restarted = SepaProvider(SepaConfig.from_env(env), clock=clock)
    (written,) = await restarted.flush()
    assert written.path == path
    assert path.read_bytes() == before
    assert [p.name for p in sepa_provider.outbox.folder.iterdir() if p.name.endswith(".tmp")] == []


async def test_a_foreign_file_in_the_way_is_never_overwritten(
    sepa_provider: SepaProvider,
) -> None:
    await sepa_provider.submit(euro(1))
    squatter = sepa_provider.outbox.folder / "sepa-20250303-000001.xml"
    squatter.write_text("someone else's file")
    with pytest.raises(TransientProviderError, match="differs"):
        await sepa_provider.flush()
    assert squatter.read_text() == "someone else's file"


async def test_a_torn_manifest_line_is_dropped(
    sepa_provider: SepaProvider, env: dict[str, str], clock: Clock
) -> None:
    await sepa_provider.submit(euro(1))
    manifest = sepa_provider.outbox.folder / MANIFEST
    manifest.write_bytes(manifest.read_bytes() + b'{"t":"queued","payout_id":"diamonds-pay')
    restarted = SepaProvider(SepaConfig.from_env(env), clock=clock)
    result = await restarted.submit(euro(2))
    assert result.provider_reference == "sepa:sepa-20250303-000001.xml#diamonds-payout-2"
    assert len(manifest_lines(restarted)) == 2
    (written,) = await restarted.flush()
    assert written.count == 2


async def test_a_payout_never_queued_is_not_found(sepa_provider: SepaProvider) -> None:
    with pytest.raises(PayoutNotFound):
        await sepa_provider.lookup("diamonds-payout-404", None)


async def test_a_manifest_write_that_fails_half_way_is_an_unknown_outcome_lookup_resolves(
    sepa_provider: SepaProvider, env: dict[str, str], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fsync_fails(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("providers.bank.outbox.os.fsync", fsync_fails)
    with pytest.raises(UnknownOutcome, match="Input/output error"):
        await sepa_provider.submit(euro(1))
    monkeypatch.undo()
    # The line reached the file before the sync failed: the payout is queued, once.
    found = await SepaProvider(SepaConfig.from_env(env), clock=clock).lookup(
        "diamonds-payout-1", None
    )
    assert (found.state, found.raw_status) == (PayoutState.PENDING, "QUEUED")
    again = await sepa_provider.submit(euro(1))
    assert again.provider_reference == found.provider_reference
    assert len(manifest_lines(sepa_provider)) == 1


# --- ACH ----------------------------------------------------------------------------------------


async def test_an_ach_batch_is_a_nacha_file_whose_counts_and_hashes_hold(
    ach_provider: AchProvider, clock: Clock
) -> None:
    assert (ach_provider.slug, ach_provider.currencies, ach_provider.countries) == (
        "ach",
        frozenset({"USD"}),
        frozenset({"US"}),
    )
    clock.now = datetime(2025, 3, 7, 16, 45, tzinfo=UTC)  # a Friday
    payees = [
        ("021000021", "123456789", None, 1234),
        ("026009593", "000123", "savings", 99_999),
        ("111000025", "A1B2C3", "Checking", 9_999_999_999),
    ]
    results = [
        await ach_provider.submit(dollar(n, amount, routing=r, account=a, kind=t))
        for n, (r, a, t, amount) in enumerate(payees, start=1)
    ]
    assert [r.provider_reference for r in results] == [
        "ach:ach-20250307-000001.ach:3#111000020000001",
        "ach:ach-20250307-000001.ach:4#111000020000002",
        "ach:ach-20250307-000001.ach:5#111000020000003",
    ]
    (written,) = await ach_provider.flush()
    assert written.details == {"effective_date": "2025-03-10"}  # the next weekday: Monday
    text = written.path.read_text()
    lines = text.splitlines()
    assert all(len(line) == 94 for line in lines)
    assert len(lines) == 10
    assert lines[-3:] == ["9" * 94] * 3  # seven records, blocked to ten

    parsed = ach.parse_nacha(text)  # checks every count, hash and total
    assert parsed.created_at == datetime(2025, 3, 7, 16, 45, tzinfo=UTC)
    assert (parsed.immediate_destination, parsed.immediate_origin) == ("111000025", "1234567890")
    (batch,) = parsed.batches
    assert (batch.service_class, batch.sec_code, batch.effective_date) == ("220", "PPD", "250310")
    assert (batch.company_name, batch.company_id, batch.odfi) == (
        "DIAMONDS INC",
        "1234567890",
        "11100002",
    )
    assert [e.transaction_code for e in batch.entries] == ["22", "32", "22"]
    assert [e.amount_minor for e in batch.entries] == [1234, 99_999, 9_999_999_999]
    assert [e.account_number for e in batch.entries] == ["123456789", "000123", "A1B2C3"]
    assert [e.name for e in batch.entries] == ["JOSE NUNEZ 1", "JOSE NUNEZ 2", "JOSE NUNEZ 3"]
    assert [r.provider_reference for r in results] == [
        f"ach:{written.file_name}:{e.line}#{e.trace_number}" for e in batch.entries
    ]
    assert batch.total_credit_minor == 1234 + 99_999 + 9_999_999_999
    assert lines[5][10:20] == f"{2100002 + 2600959 + 11100002:010d}"  # the batch entry hash
    assert lines[6][21:31] == lines[5][10:20]  # the file entry hash
    assert lines[6][43:55] == "010000101232"  # total credits, twelve digits


def test_a_tampered_nacha_file_is_refused_by_the_reader() -> None:
    originator = ach.AchOriginator("111000025", "DIAMONDS", "1234567890", "DIAMONDS", "BANK")
    credit = ach.AchCredit("22", "021000021", "1", 500, "ID", "ANA", "111000020000001")
    text = ach.write_nacha(
        originator,
        [credit],
        created_at=MONDAY,
        effective_date=date(2025, 3, 4),
        file_number=1,
        batch_number=1,
    )
    ach.parse_nacha(text)
    more_money = text.replace("0000000500", "0000050000", 1)
    with pytest.raises(ach.NachaFormatError, match="batch total credits"):
        ach.parse_nacha(more_money)
    other_bank = text.replace("622021000021", "622026009593", 1)
    with pytest.raises(ach.NachaFormatError, match="entry hash"):
        ach.parse_nacha(other_bank)
    with pytest.raises(ach.NachaFormatError, match="line 3: 93 characters"):
        ach.parse_nacha(text.replace("ANA ", "ANA", 1))


@pytest.mark.parametrize(
    ("instruction", "code"),
    [
        (dollar(1, routing="021000022"), "INVALID_ROUTING_NUMBER"),
        (dollar(1, routing="991000025"), "INVALID_ROUTING_NUMBER"),
        (dollar(1, routing="02100002"), "INVALID_ROUTING_NUMBER"),
        (dollar(1, routing=None), "MISSING_ACCOUNT"),
        (dollar(1, account=""), "MISSING_ACCOUNT"),
        (dollar(1, account="1234-5678"), "INVALID_ACCOUNT_NUMBER"),
        (dollar(1, account="1" * 18), "INVALID_ACCOUNT_NUMBER"),
        (dollar(1, kind="brokerage"), "INVALID_ACCOUNT_TYPE"),
        (dollar(1, 10_000_000_000), "INVALID_AMOUNT"),
        (replace(dollar(1), currency="EUR"), "UNSUPPORTED_CURRENCY"),
        (
            replace(dollar(1), payee=Payee("Ana", "CA", {"routing_number": "021000021"})),
            "UNSUPPORTED_COUNTRY",
        ),
    ],
)
async def test_a_bad_ach_instruction_is_refused_and_writes_nothing(
    ach_provider: AchProvider, instruction: PayoutInstruction, code: str
) -> None:
    with pytest.raises(PermanentProviderError) as caught:
        await ach_provider.submit(instruction)
    assert caught.value.code == code
    assert manifest_lines(ach_provider) == []


def test_the_ach_identification_is_the_payout_id_or_a_digest_of_it() -> None:
    assert ach.individual_id("payout-42") == "PAYOUT-42"
    assert re.fullmatch(r"H[A-Z2-7]{14}", ach.individual_id("diamonds-payout-42"))
    assert ach.trace_number("111000025", 10_000_001) == "111000020000001"


# --- status files read back ---------------------------------------------------------------------


async def queue_sepa_batches(provider: SepaProvider) -> dict[int, str]:
    """Batch 1 holds payouts 1-5 (written when full), batch 2 payouts 6-8, batch 3 payouts 9-10:
    the files tests/data/bank/pain002_*.xml answer."""
    references: dict[int, str] = {}
    for n in range(1, 11):
        result = await provider.submit(euro(n))
        assert result.provider_reference is not None
        references[n] = result.provider_reference
        if n == 8:
            await provider.flush()
    await provider.flush()
    return references


async def test_a_pain002_report_marks_each_payout_paid_failed_or_pending(
    sepa_provider: SepaProvider, env: dict[str, str]
) -> None:
    references = await queue_sepa_batches(sepa_provider)
    updates = read_status_file(DATA / "pain002_partial.xml", env["DIAMONDS_BANK_OUTBOX"])
    outcome = {u.payout_id: (u.state, u.failure_code) for u in updates}
    assert outcome == {
        "diamonds-payout-1": (PayoutState.PAID, None),
        "diamonds-payout-2": (PayoutState.FAILED, "AC01"),
        "diamonds-payout-3": (PayoutState.FAILED, "AM04"),
        "diamonds-payout-4": (PayoutState.PENDING, None),
    }
    assert [u.provider_reference for u in updates] == [references[n] for n in (1, 2, 3, 4)]
    rejected = updates[1]
    assert rejected.failure_message == "incorrect account number; IBAN unknown at the creditor bank"
    assert rejected.raw_type == "RJCT"
    assert rejected.occurred_at == datetime(2025, 3, 4, 8, 15, tzinfo=UTC)
    assert read_status_file(DATA / "pain002_partial.xml", env["DIAMONDS_BANK_OUTBOX"]) == updates
    assert len({u.event_id for u in updates}) == 4


async def test_a_report_about_another_file_does_not_touch_our_payouts(
    tmp_path: Path, clock: Clock
) -> None:
    env = bank_env(tmp_path, DIAMONDS_BANK_BATCH_SIZE="2")
    provider = SepaProvider(SepaConfig.from_env(env), clock=clock)
    for n in (1, 2, 3, 4):  # 3 and 4 land in the second file, the report speaks of the first
        await provider.submit(euro(n))
    updates = read_status_file(DATA / "pain002_partial.xml", tmp_path)
    assert [u.payout_id for u in updates] == ["diamonds-payout-1", "diamonds-payout-2", None, None]
    assert updates[2].provider_reference == "sepa:sepa-20250303-000001.xml#diamonds-payout-3"


async def test_a_status_for_the_whole_file_covers_the_payouts_not_named(
    sepa_provider: SepaProvider, env: dict[str, str]
) -> None:
    await queue_sepa_batches(sepa_provider)
    folder = env["DIAMONDS_BANK_OUTBOX"]
    settled = read_status_file(DATA / "pain002_block_settled.xml", folder)
    assert {u.payout_id: (u.state, u.failure_code) for u in settled} == {
        "diamonds-payout-7": (PayoutState.FAILED, "AC04"),
        "diamonds-payout-6": (PayoutState.PAID, None),
        "diamonds-payout-8": (PayoutState.PAID, None),
    }
    assert settled[0].occurred_at == datetime(2025, 3, 5, 9, 0, tzinfo=UTC)
    rejected = read_status_file(DATA / "pain002_group_rejected.xml", folder)
    assert {u.payout_id: (u.state, u.failure_code) for u in rejected} == {
        "diamonds-payout-9": (PayoutState.FAILED, "FF01"),
        "diamonds-payout-10": (PayoutState.FAILED, "FF01"),
    }
    assert rejected[0].failure_message == "invalid file format; Schema validation failed"

    (whole,) = read_status_file(DATA / "pain002_group_rejected.xml")  # no outbox at hand
    assert (whole.payout_id, whole.provider_reference, whole.state) == (
        None,
        "sepa:sepa-20250303-000003.xml",
        PayoutState.FAILED,
    )


async def test_importing_a_status_file_twice_records_it_once_and_lookups_see_it(
    sepa_provider: SepaProvider, env: dict[str, str]
) -> None:
    await queue_sepa_batches(sepa_provider)
    folder = env["DIAMONDS_BANK_OUTBOX"]
    first = import_status_file(DATA / "pain002_partial.xml", folder)
    lines = len(manifest_lines(sepa_provider))
    second = import_status_file(DATA / "pain002_partial.xml", folder)
    assert second.updates == first.updates
    assert second.slug == "sepa"
    assert len(manifest_lines(sepa_provider)) == lines

    paid = await sepa_provider.lookup("diamonds-payout-1", None)
    failed = await sepa_provider.lookup("diamonds-payout-2", None)
    untouched = await sepa_provider.lookup("diamonds-payout-5", None)
    assert (paid.state, paid.raw_status) == (PayoutState.PAID, "ACSC")
    assert (failed.state, failed.failure_code) == (PayoutState.FAILED, "AC01")
    assert (untouched.state, untouched.raw_status) == (PayoutState.PENDING, "WRITTEN")


async def test_ach_returns_fail_or_return_payouts_with_their_r_code(
    ach_provider: AchProvider, env: dict[str, str], clock: Clock
) -> None:
    references = [
        (await ach_provider.submit(dollar(n, 1000 + n))).provider_reference for n in (1, 2, 3, 4)
    ]
    await ach_provider.flush()
    folder = env["DIAMONDS_BANK_OUTBOX"]
    report = read_status_report(DATA / "ach_returns.ach", folder)
    assert report.slug == "ach"
    summary = [(u.payout_id, u.state, u.failure_code) for u in report.updates]
    assert summary == [
        ("diamonds-payout-1", PayoutState.FAILED, "R03"),
        ("diamonds-payout-2", PayoutState.RETURNED, "R23"),
        (None, PayoutState.FAILED, "R02"),  # a trace this outbox never wrote
    ]  # the notification of change for payout 3 is no status
    assert [u.provider_reference for u in report.updates[:2]] == references[:2]
    assert report.updates[2].provider_reference == "ach:#111000020000099"
    assert report.updates[1].failure_message == (
        "credit entry refused by the receiver; REFUSED BY RECEIVER"
    )
    assert report.updates[0].occurred_at == datetime(2025, 3, 6, 10, 15, tzinfo=UTC)
    assert [u.event_id for u in report.updates] == [
        u.event_id for u in read_status_file(DATA / "ach_returns.ach", folder)
    ]

    import_status_file(DATA / "ach_returns.ach", folder)
    clock.now = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)  # effective Tuesday 4th + 2 days
    assert (await ach_provider.lookup("diamonds-payout-2", None)).state is PayoutState.RETURNED
    assert (await ach_provider.lookup("diamonds-payout-4", None)).state is PayoutState.PENDING
    clock.now = datetime(2025, 3, 7, 0, 0, tzinfo=UTC)  # three days after the effective date
    settled = await ach_provider.lookup("diamonds-payout-4", None)
    assert (settled.state, settled.raw_status) == (PayoutState.PAID, "SETTLED")
    assert (await ach_provider.lookup("diamonds-payout-1", None)).failure_code == "R03"


async def test_files_that_are_no_status_report_are_refused(
    ach_provider: AchProvider, sepa_provider: SepaProvider, tmp_path: Path
) -> None:
    await ach_provider.submit(dollar(1))
    (outgoing,) = await ach_provider.flush()
    with pytest.raises(StatusFileError, match="outgoing file"):
        read_status_file(outgoing.path)
    await sepa_provider.submit(euro(1))
    (pain001,) = await sepa_provider.flush()
    with pytest.raises(StatusFileError, match="CstmrPmtStsRpt"):
        read_status_file(pain001.path)
    samples = {
        "entities.xml": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>',
        "broken.xml": "<Document><CstmrPmtStsRpt>",
        "notes.txt": "hello",
        "short.ach": "101 too short\n",
    }
    for name, text in samples.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(StatusFileError):
            read_status_file(tmp_path / name)
    with pytest.raises(StatusFileError, match="cannot read"):
        read_status_file(tmp_path / "missing.xml")
    with pytest.raises(StatusFileError, match="is no sepa outbox"):
        read_status_file(DATA / "pain002_partial.xml", tmp_path / "typo")
    tampered = tmp_path / "tampered.ach"
    tampered.write_text(
        (DATA / "ach_returns.ach").read_text().replace("0000001001", "0000009001", 1)
    )
    with pytest.raises(StatusFileError, match="batch total credits"):
        read_status_file(tampered)


# --- commands -----------------------------------------------------------------------------------


async def test_the_bank_commands_flush_and_import_statuses(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clock: Clock,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sepa_provider = SepaProvider(SepaConfig.from_env(env), clock=clock)
    ach_provider = AchProvider(AchConfig.from_env(env), clock=clock)
    for n in (1, 2, 3):
        await sepa_provider.submit(euro(n, 1050))
        await ach_provider.submit(dollar(n, 1000 + n))

    assert await asyncio.to_thread(diamonds, ["bank", "flush"]) == 0
    out = capsys.readouterr().out
    assert "sepa: wrote " in out
    assert "sepa-20250303-000001.xml (3 payouts, EUR 31.50)" in out
    assert "ach-20250303-000001.ach (3 payouts, USD 30.06)" in out
    assert await asyncio.to_thread(diamonds, ["bank", "flush", "--rail", "ach"]) == 0
    assert capsys.readouterr().out == "ach: nothing to write\n"

    status_file = DATA / "pain002_partial.xml"
    assert await asyncio.to_thread(diamonds, ["bank", "import-status", str(status_file)]) == 0
    out = capsys.readouterr().out
    assert (
        "PAID     diamonds-payout-1 sepa:sepa-20250303-000001.xml#diamonds-payout-1 [ACSC]" in out
    )
    assert "FAILED   diamonds-payout-2" in out
    assert "AC01: incorrect account number" in out
    assert "sepa: 4 update(s)" in out
    assert "2 FAILED, 1 PAID, 1 PENDING" in out
    assert "PENDING  (unmatched) sepa:sepa-20250303-000001.xml#diamonds-payout-4" in out

    assert (
        await asyncio.to_thread(diamonds, ["bank", "import-status", str(DATA / "ach_returns.ach")])
        == 0
    )
    captured = capsys.readouterr()
    assert "RETURNED diamonds-payout-2" in captured.out
    assert "FAILED   (unmatched) ach:#111000020000099 [RETURN R02]" in captured.out
    assert "1 update(s) name no payout" in captured.err


def test_the_bank_commands_explain_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in bank_env(tmp_path):
        monkeypatch.delenv(name, raising=False)
    assert diamonds(["bank", "flush"]) == 2
    assert "no bank rail is configured" in capsys.readouterr().err
    assert diamonds(["bank", "flush", "--rail", "sepa"]) == 2
    assert "DIAMONDS_SEPA_DEBTOR_IBAN: required" in capsys.readouterr().err
    assert diamonds(["bank", "import-status", str(DATA / "ach_returns.ach")]) == 2
    assert "DIAMONDS_BANK_OUTBOX: required" in capsys.readouterr().err
    bogus = tmp_path / "bogus.txt"
    bogus.write_text("nothing")
    assert diamonds(["bank", "import-status", str(bogus), "--outbox", str(tmp_path)]) == 1
    assert "neither a pain.002" in capsys.readouterr().err


# --- the conformance suite, with the bank played by status files --------------------------------


def pain002(message_id: str, statuses: list[tuple[str, str, str | None]], at: datetime) -> str:
    """A bank's pain.002 answering `message_id`: (EndToEndId, status, reason) per transaction."""
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{code}</TxSts>"
        + (f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else "")
        + "</TxInfAndSts>"
        for e2e, code, reason in statuses
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        f"<GrpHdr><MsgId>STS-{at:%H%M%S}</MsgId><CreDtTm>{at:%Y-%m-%dT%H:%M:%S}</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId>"
        "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{message_id}</OrgnlPmtInfId>{transactions}"
        "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    )


def ach_return_file(returns: list[tuple[str, str, int]], at: datetime) -> str:
    """An RDFI's return file: (original trace number, R-code, amount) per returned credit."""
    odfi = "11100002"
    records = [
        f"101 111000025 021000021{at:%y%m%d%H%M}A094101{'FIRST BANK':<23}{'FED':<23}{'':8}",
        f"5220{'DIAMONDS INC':<16}{'':20}1234567890PPD{'PAYOUT':<10}{'':6}{at:%y%m%d}0651"
        f"021000020000001",
    ]
    for n, (original, code, amount) in enumerate(returns, start=1):
        trace = f"02100002{n:07d}"
        records.append(f"621{odfi}5{'123456789':<17}{amount:010d}{'':15}{'PAYEE':<22}  1{trace}")
        records.append(f"799{code}{original}{'':6}02100002{'':44}{trace}")
    entry_hash, total = int(odfi) * len(returns), sum(r[2] for r in returns)
    count = 2 * len(returns)
    records.append(
        f"8220{count:06d}{entry_hash:010d}{0:012d}{total:012d}1234567890{'':25}021000020000001"
    )
    blocks = -(-(len(records) + 1) // 10)
    records.append(f"9000001{blocks:06d}{count:08d}{entry_hash:010d}{0:012d}{total:012d}{'':39}")
    records += ["9" * 94] * (blocks * 10 - len(records))
    return "\n".join(records) + "\n"


class BankSandbox(ProviderSandbox):
    """The bank's side: it receives the flushed files and answers with status files, which the
    sandbox imports as `diamonds bank import-status` would. ACH sends no news of a credit that
    went through, so "paid" is time passing beyond the return window."""

    def __init__(self, provider: SepaProvider | AchProvider, clock: Clock, inbox: Path) -> None:
        self.provider = provider
        self.clock = clock
        self.inbox = inbox
        self.failure_code = "AC04" if provider.slug == "sepa" else "R03"
        self._fsync: Callable[[int], None] | None = None

    async def settle(self, result: PayoutResult, outcome: Outcome) -> None:
        await self.provider.flush()
        assert result.provider_reference is not None
        where, _, key = result.provider_reference.partition("#")
        file_name = where.split(":")[1]
        if self.provider.slug == "sepa":
            message_id = file_name.removesuffix(".xml")
            answers: dict[Outcome, list[tuple[str, str | None]]] = {
                Outcome.PAID: [("ACSC", None)],
                Outcome.FAILED: [("RJCT", self.failure_code)],
                Outcome.RETURNED: [("ACSC", None), ("RJCT", self.failure_code)],
            }
            for code, reason in answers[outcome]:
                self.clock.now += timedelta(hours=1)
                self._import(
                    f"{key}-{code}.xml", pain002(message_id, [(key, code, reason)], self.clock.now)
                )
            return
        if outcome is not Outcome.FAILED:
            self.clock.now += timedelta(days=10)  # past the effective date and the return window
        if outcome is not Outcome.PAID:
            code = self.failure_code if outcome is Outcome.FAILED else "R23"
            self._import(f"{key}.ach", ach_return_file([(key, code, 1)], self.clock.now))

    def _import(self, name: str, content: str) -> None:
        path = self.inbox / name
        path.write_text(content)
        import_status_file(path, self.provider.outbox.folder.parent)

    async def payouts_at_provider(self, payout_id: str) -> int:
        """Credits for the payout in the files the bank got, plus the one waiting to be sent."""
        folder = self.provider.outbox.folder
        waiting = [e for e in self.provider.outbox.open_batch() if e.payout_id == payout_id]
        if self.provider.slug == "sepa":
            e2e = sepa.end_to_end_id(payout_id)
            sent = sum(
                path.read_text().count(f"<EndToEndId>{e2e}</EndToEndId>")
                for path in folder.glob("*.xml")
            )
        else:
            ident = ach.individual_id(payout_id)
            sent = sum(
                1
                for path in folder.glob("*.ach")
                for batch in ach.parse_nacha(path.read_text()).batches
                for entry in batch.entries
                if entry.individual_id == ident
            )
        return sent + len(waiting)

    async def lose_next_answer(self, how: LostAnswer) -> None:
        """The manifest line reaches the file, then syncing it fails: the call cannot know."""
        real = os.fsync
        self._fsync = real

        def fail_once(fd: int) -> None:
            setattr(os, "fsync", real)  # noqa: B010 - undo the patch on first use
            raise OSError(errno.EIO, f"{how.value}: lost after the write")

        setattr(os, "fsync", fail_once)  # noqa: B010

    async def restore(self) -> None:
        if self._fsync is not None:
            setattr(os, "fsync", self._fsync)  # noqa: B010
            self._fsync = None


class _BankConformance(ProviderConformance):
    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest_asyncio.fixture
    async def sandbox(  # type: ignore[override] # the bank's side needs the provider
        self, provider: SepaProvider | AchProvider, clock: Clock, tmp_path: Path
    ) -> AsyncIterator[ProviderSandbox]:
        inbox = tmp_path / "from-the-bank"
        inbox.mkdir()
        sandbox = BankSandbox(provider, clock, inbox)
        yield sandbox
        await sandbox.restore()

    @pytest.fixture
    def reconcile_period(self) -> tuple[datetime, datetime]:
        """The sandbox's clock starts on MONDAY and moves on by days."""
        return MONDAY - timedelta(days=7), MONDAY + timedelta(days=60)


class TestSepaConformance(_BankConformance):
    @pytest_asyncio.fixture
    async def provider(  # type: ignore[override] # fixtures take the outbox and clock
        self, tmp_path: Path, clock: Clock
    ) -> AsyncIterator[PayoutProvider]:
        yield SepaProvider(SepaConfig.from_env(bank_env(tmp_path / "outbox")), clock=clock)

    @pytest.fixture
    def payee(self) -> Payee:
        return Payee(
            "Conformité",
            "DE",
            {"holder_name": "Conformité", "iban": "DE89370400440532013000"},
        )

    @pytest_asyncio.fixture
    async def bad_credentials_provider(  # type: ignore[override] # an outbox we cannot use
        self, tmp_path: Path, clock: Clock
    ) -> AsyncIterator[PayoutProvider]:
        (tmp_path / "a-file").write_text("not a folder")
        env = bank_env(tmp_path / "a-file" / "outbox")
        yield SepaProvider(SepaConfig.from_env(env), clock=clock)


class TestAchConformance(_BankConformance):
    @pytest_asyncio.fixture
    async def provider(  # type: ignore[override] # fixtures take the outbox and clock
        self, tmp_path: Path, clock: Clock
    ) -> AsyncIterator[PayoutProvider]:
        yield AchProvider(AchConfig.from_env(bank_env(tmp_path / "outbox")), clock=clock)

    @pytest.fixture
    def payee(self) -> Payee:
        return Payee(
            "Conformance",
            "US",
            {
                "holder_name": "Conformance",
                "routing_number": "021000021",
                "account_number": "123456789",
                "account_type": "checking",
            },
        )

    @pytest_asyncio.fixture
    async def bad_credentials_provider(  # type: ignore[override] # an outbox we cannot use
        self, tmp_path: Path, clock: Clock
    ) -> AsyncIterator[PayoutProvider]:
        (tmp_path / "a-file").write_text("not a folder")
        env = bank_env(tmp_path / "a-file" / "outbox")
        yield AchProvider(AchConfig.from_env(env), clock=clock)
