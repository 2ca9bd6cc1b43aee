"""Bank records for reconciliation: camt.053 and camt.054 read from real-shaped samples, and the
SEPA and ACH providers' records from their outbox, the fake bank's statements (with each way it
can disagree) and the status files already read."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from diamonds_fakes.bank_statements import FakeBank
from diamonds_fakes.disagreements import Disagreement, DisagreementKind

from providers.bank.camt import CamtError, parse_camt, read_camt_file
from providers.bank.config import AchConfig, SepaConfig
from providers.bank.provider import AchProvider, SepaProvider
from providers.bank.records import STATEMENTS
from providers.base import Capability, PayoutState, StatusUpdate
from providers.errors import ProviderError
from providers.records import ProviderRecord

from .test_provider_bank import MONDAY, Clock, bank_env, dollar, euro

CAMT = Path(__file__).parent / "data" / "camt"
WEEK = (MONDAY - timedelta(days=1), MONDAY + timedelta(days=7))


def test_a_camt053_statement_gives_one_entry_per_transaction() -> None:
    entries = read_camt_file(CAMT / "statement-camt053-v02.xml")
    assert [e.end_to_end_id for e in entries] == [
        "diamonds-payout-1",
        "diamonds-payout-2",
        None,
        "diamonds-payout-3",
    ]
    one, two, fee, pending = entries
    assert (one.amount_minor, two.amount_minor) == (1_000, 2_000), "a batch entry, split"
    assert all(e.message == "camt.053" and not e.credit for e in entries)
    assert one.status == "BOOK"
    assert one.booked_at == datetime(2025, 3, 3, tzinfo=UTC)
    assert one.creditor_name == "Creatrice No1"
    assert fee.charges_minor == 544
    assert pending.status == "PDNG"
    assert pending.booked_at == datetime(2025, 3, 3, 14, 2, tzinfo=UTC)
    assert pending.charges_minor == 35, "the charges' records summed"
    assert (pending.instructed_amount_minor, pending.instructed_currency) == (1_150, "CHF")
    assert pending.exchange_rate == "0.9583"
    assert len({e.event_id for e in entries}) == 4


def test_a_camt054_return_names_its_reason() -> None:
    back, incoming = read_camt_file(CAMT / "return-camt054-v08.xml")
    assert back.message == "camt.054"
    assert back.credit
    assert back.return_reason == "AC04"
    assert back.end_to_end_id == "diamonds-payout-1"
    assert back.amount_minor == 1_000
    assert incoming.end_to_end_id is None, "NOTPROVIDED is no id"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (b'<Amt Ccy="EUR">30.00</Amt>', b'<Amt Ccy="EUR">30.005</Amt>'),
        (b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>OUT</CdtDbtInd>"),
        (b"<Document", b"<!DOCTYPE x><Document"),
        (b"BkToCstmrStmt", b"BkToCstmrStmtX"),
    ],
)
def test_a_camt_file_that_cannot_be_read_exactly_is_refused(change: bytes, message: bytes) -> None:
    content = (CAMT / "statement-camt053-v02.xml").read_bytes().replace(change, message, 1)
    with pytest.raises(CamtError):
        parse_camt(content)


def test_a_batch_entry_whose_transactions_have_no_amounts_is_refused() -> None:
    content = (CAMT / "statement-camt053-v02.xml").read_bytes()
    content = content.replace(b'<TxAmt><Amt Ccy="EUR">20.00</Amt></TxAmt>', b"")
    with pytest.raises(CamtError, match="no amount of its own"):
        parse_camt(content)


# --- SEPA records ---------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sepa(tmp_path: Path, clock: Clock) -> SepaProvider:
    return SepaProvider(SepaConfig.from_env(bank_env(tmp_path / "outbox")), clock=clock)


async def records_of(
    provider: SepaProvider | AchProvider, period: tuple[datetime, datetime] = WEEK
) -> list[ProviderRecord]:
    return [r async for r in provider.settled_records(*period)]


async def test_the_bank_providers_declare_reconcile(sepa: SepaProvider) -> None:
    assert Capability.RECONCILE in sepa.capabilities


async def test_a_statement_from_the_fake_bank_pays_what_was_sent(
    tmp_path: Path, sepa: SepaProvider
) -> None:
    sent = {n: await sepa.submit(euro(n, 1_000 + n)) for n in range(1, 4)}
    await sepa.flush()
    bank = FakeBank(tmp_path / "outbox")
    bank.write_statement(date(2025, 3, 4), charges_minor=15)
    found = {r.payout_id: r for r in await records_of(sepa)}
    assert set(found) == {f"diamonds-payout-{n}" for n in range(1, 4)}
    for n, result in sent.items():
        record = found[f"diamonds-payout-{n}"]
        assert record.provider_reference == result.provider_reference
        assert record.amount_minor == 1_000 + n
        assert record.currency == "EUR"
        assert record.state is PayoutState.PAID
        assert record.raw_status == "BOOK"
        assert record.fee_minor == 15
        assert record.source == "camt.053"
    assert await records_of(sepa, (MONDAY + timedelta(days=2), MONDAY + timedelta(days=3))) == []


async def test_a_returned_payment_reads_returned_with_its_reason(
    tmp_path: Path, sepa: SepaProvider
) -> None:
    await sepa.submit(euro(1))
    await sepa.flush()
    bank = FakeBank(tmp_path / "outbox")
    bank.write_statement(date(2025, 3, 4))
    bank.write_return("diamonds-payout-1", date(2025, 3, 6), reason="AC04")
    (record,) = await records_of(sepa)
    assert record.state is PayoutState.RETURNED
    assert record.failure_code == "AC04"
    assert record.source == "camt.053+camt.054"
    assert record.occurred_at == datetime(2025, 3, 6, tzinfo=UTC)


async def test_each_disagreement_of_the_bank_shows_in_the_records(
    tmp_path: Path, sepa: SepaProvider
) -> None:
    for n in range(1, 5):
        await sepa.submit(euro(n))
    await sepa.flush()
    bank = FakeBank(tmp_path / "outbox")
    bank.add_disagreement(Disagreement(DisagreementKind.DROP, "diamonds-payout-2"))
    bank.add_disagreement(Disagreement(DisagreementKind.AMOUNT, "diamonds-payout-3", amount=990))
    bank.add_disagreement(Disagreement(DisagreementKind.STATUS, "diamonds-payout-4", status="HOLD"))
    bank.add_disagreement(Disagreement(DisagreementKind.EXTRA, "someone-else-7", amount=4_200))
    bank.write_statement(date(2025, 3, 4))
    found = await records_of(sepa)
    ours = {r.payout_id: r for r in found if r.payout_id}
    assert set(ours) == {"diamonds-payout-1", "diamonds-payout-3", "diamonds-payout-4"}
    assert ours["diamonds-payout-3"].amount_minor == 990
    assert ours["diamonds-payout-4"].state is PayoutState.UNKNOWN
    assert ours["diamonds-payout-4"].raw_status == "HOLD"
    (extra,) = [r for r in found if r.payout_id is None]
    assert extra.amount_minor == 4_200
    assert extra.provider_reference == "sepa:camt#someone-else-7"


async def test_pain002_statuses_already_read_are_records_too(
    tmp_path: Path, sepa: SepaProvider
) -> None:
    result = await sepa.submit(euro(1))
    await sepa.flush()
    sepa.outbox.record_statuses(
        [
            StatusUpdate(
                event_id="sepa:test:1",
                state=PayoutState.FAILED,
                occurred_at=MONDAY + timedelta(hours=5),
                payout_id="diamonds-payout-1",
                provider_reference=result.provider_reference,
                raw_type="RJCT",
                failure_code="AC01",
            )
        ]
    )
    (record,) = await records_of(sepa)
    assert record.source == "pain.002"
    assert record.state is PayoutState.FAILED
    assert record.failure_code == "AC01"
    assert record.amount_minor == 1_000


async def test_an_unreadable_statement_stops_the_run(tmp_path: Path, sepa: SepaProvider) -> None:
    folder = sepa.outbox.folder / STATEMENTS
    folder.mkdir(parents=True)
    (folder / "broken.xml").write_bytes(b"<Document><nope")
    with pytest.raises(ProviderError, match=r"broken\.xml"):
        await records_of(sepa)


async def test_statements_in_the_folder_are_matched_by_end_to_end_id(
    tmp_path: Path, sepa: SepaProvider
) -> None:
    await sepa.submit(euro(1))
    await sepa.flush()
    folder = sepa.outbox.folder / STATEMENTS
    folder.mkdir(parents=True)
    shutil.copy(CAMT / "statement-camt053-v02.xml", folder)
    found = {r.raw["end_to_end_id"]: r for r in await records_of(sepa)}
    assert set(found) == {"diamonds-payout-1", "diamonds-payout-2", "diamonds-payout-3"}
    assert found["diamonds-payout-1"].payout_id == "diamonds-payout-1"
    assert found["diamonds-payout-2"].payout_id is None, "never written by this outbox"
    assert found["diamonds-payout-3"].state is PayoutState.PENDING
    assert found["diamonds-payout-3"].converted_currency == "CHF"


# --- ACH records ----------------------------------------------------------------------------------


async def test_ach_records_follow_returns_and_the_settlement_rule(
    tmp_path: Path, clock: Clock
) -> None:
    ach = AchProvider(AchConfig.from_env(bank_env(tmp_path / "outbox")), clock=clock)
    first = await ach.submit(dollar(1))
    await ach.submit(dollar(2, 2_000))
    await ach.flush()
    pending = {r.payout_id: r for r in await records_of(ach)}
    assert {r.state for r in pending.values()} == {PayoutState.PENDING}
    ach.outbox.record_statuses(
        [
            StatusUpdate(
                event_id="ach:test:1",
                state=PayoutState.RETURNED,
                occurred_at=MONDAY + timedelta(days=2),
                payout_id="diamonds-payout-1",
                provider_reference=first.provider_reference,
                raw_type="RETURN R06",
                failure_code="R06",
            )
        ]
    )
    clock.now = MONDAY + timedelta(days=6)
    found = {r.payout_id: r for r in await records_of(ach)}
    assert found["diamonds-payout-1"].state is PayoutState.RETURNED
    assert found["diamonds-payout-1"].failure_code == "R06"
    assert found["diamonds-payout-2"].state is PayoutState.PAID
    assert found["diamonds-payout-2"].raw_status == "SETTLED"
    assert found["diamonds-payout-2"].amount_minor == 2_000
