"""Reconciling a SEPA day end to end: the pipeline writes the credit transfers to the bank
outbox, the fake bank books them on a camt.053 statement (leaving one out, adding one we never
sent), and the run reads the statement back and classes every payout. On both databases."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from diamonds_fakes.bank_statements import FakeBank
from diamonds_fakes.disagreements import Disagreement, DisagreementKind
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from kernel.clock import utc_today
from payouts.dispatch import Dispatcher
from payouts.reconciliation.matching import MatchClass
from payouts.reconciliation.run import Period, reconcile_period
from payouts.requests import request_payout
from payouts.service import PayoutService
from providers.bank.config import SepaConfig
from providers.bank.provider import SepaProvider
from providers.base import Payee
from providers.registry import ProviderRegistry
from settings.payouts import PayoutPolicy
from settings.service import Settings

from .conftest import settings_for
from .payout_fixtures import ScriptedGate, ledger_is_clean
from .test_provider_bank import bank_env
from .test_reconciliation import lines


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Diamonds are worth euros too, for SEPA."""
    return settings_for(database_url, DIAMONDS_CASH_RATES="USD=1/2,EUR=9/20")


@dataclass
class SepaGate(ScriptedGate):
    async def payee(self, conn: AsyncConnection, **_: Any) -> Payee | None:
        return Payee(
            "Erika Muster",
            "DE",
            {"holder_name": "Erika Muster", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
        )


async def test_a_sepa_day_is_read_from_the_banks_statements(
    economy: Economy, rich_creator: Any, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    sepa = SepaProvider(SepaConfig.from_env(bank_env(outbox)))
    registry = ProviderRegistry({}, discover=False)
    registry.register(sepa)
    gate = SepaGate()
    svc = PayoutService(
        eco=economy,
        gate=gate,
        providers=registry,
        policy=PayoutPolicy(
            minimum_minor=100,
            daily_cap_minor=10**12,
            approval_threshold_minor=10**12,
            retry_base_seconds=0,
            lookup_after_seconds=3_600,
        ),
    )
    sent = []
    for n in range(3):
        creator = await rich_creator(4_000)
        requested = await request_payout(
            svc, creator, diamonds=4_000, provider="sepa", currency="EUR", key=f"s{n}"
        )
        sent.append(requested.payout)
    await Dispatcher(svc, name="w1").run_once()
    bank = FakeBank(outbox)
    bank.add_disagreement(Disagreement(DisagreementKind.DROP, sent[2].reference))
    bank.add_disagreement(Disagreement(DisagreementKind.EXTRA, "someone-else-1", amount=4_200))
    bank.write_statement(utc_today())
    run = await reconcile_period(svc, "sepa", Period.day(utc_today()), actor="test")
    assert run is not None
    found = await lines(economy, run.id)
    classes = sorted(item.klass.value for item in found.values())
    # The statement settles what it books (nobody had imported it yet); the one it leaves out
    # may still be booked within the window; the stranger's credit is unknown.
    assert classes == ["MATCHED", "MATCHED", "PENDING", "UNKNOWN_AT_PROVIDER"]
    assert found[sent[2].id].klass is MatchClass.PENDING
    await ledger_is_clean(economy)
