"""The real compliance gate inside the payouts pipeline: a request is refused with every missing
requirement, backup withholding is booked in the ledger as its own account, and a sanctions hit
that appears after the request stops the payout at dispatch until FINANCE clears it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from compliance.sanctions import service as sanctions_service
from compliance.sanctions import store as sanctions_store
from compliance.sanctions.rules import load_list
from economy.app import Economy
from economy.users import User
from kernel.clock import utcnow
from payouts.dispatch import Dispatcher
from payouts.eligibility import ComplianceGate
from payouts.quotes import RequirementsNotMet
from payouts.requests import request_payout
from payouts.review import approve_payout
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout
from payouts.webhooks import apply_update
from providers.base import PayoutState, StatusUpdate
from settings.service import Settings

from .compliance_fixtures import (
    DATA,
    compliance_of,
    fresh_compliance_tables,  # noqa: F401  (autouse)
    make_payout_ready,
)
from .payout_fixtures import LedgerBank, Rig, ledger_is_clean

MakeCreator = Callable[..., Awaitable[User]]


class PaypalBank(LedgerBank):
    """The in-memory bank, under the `paypal` slug so that PayPal payout methods apply."""

    slug = "paypal"


@pytest.fixture
def bank() -> LedgerBank:
    return PaypalBank()


@pytest.fixture
def compliance_settings(settings: Settings) -> Settings:
    return replace(settings, compliance=replace(settings.compliance, tax_form_missing="WITHHOLD"))


@pytest.fixture
def gate(compliance_settings: Settings) -> ComplianceGate:  # type: ignore[override]
    return ComplianceGate(compliance_settings)


async def request(rig: Rig, creator: User, diamonds: int, key: str = "cash-out") -> Payout:
    requested = await request_payout(
        rig.svc, creator, diamonds=diamonds, provider="paypal", currency="USD", key=key
    )
    return requested.payout


def worker(rig: Rig) -> Dispatcher:
    from providers.retry import submit_with_retries

    from .payout_fixtures import FAST_RETRIES

    async def submit(provider: Any, instruction: Any) -> Any:
        return await submit_with_retries(provider, instruction, FAST_RETRIES)

    return Dispatcher(rig.svc, name="compliance-worker", submit=submit)


async def reload(rig: Rig, payout: Payout) -> Payout:
    async with rig.eco.db.read() as conn:
        found = await load_payout(conn, payout.id)
    assert found is not None
    return found


async def test_a_request_without_compliance_is_refused_with_every_requirement(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    with pytest.raises(RequirementsNotMet) as refused:
        await request(rig, creator, 50_000)
    assert [r.code for r in refused.value.requirements] == [
        "IDENTITY_UNVERIFIED",
        "AGE_UNVERIFIED",
        "COUNTRY_NOT_SUPPORTED",
        "SANCTIONS_REVIEW",
        "PAYOUT_METHOD_UNVERIFIED",
    ]  # no TAX_FORM_MISSING: this configuration withholds instead


async def test_backup_withholding_is_booked_in_its_own_ledger_account(
    rig: Rig,
    rich_creator: MakeCreator,
    economy: Economy,
    sql: Callable[..., Awaitable[list[Any]]],
) -> None:
    creator = await rich_creator(60_000)
    await make_payout_ready(economy, creator)
    await sql("UPDATE compliance_tax_forms SET superseded_at = CURRENT_TIMESTAMP")  # no W-9 now
    payout = await request(rig, creator, 50_000)
    assert (payout.gross_minor, payout.withholding_minor, payout.net_minor) == (
        25_000,
        6_000,
        19_000,
    )
    assert await worker(rig).run_once() >= 1
    submitted = await reload(rig, payout)
    assert submitted.status is PayoutStatus.SUBMITTED
    [instruction] = rig.bank.paid.values()
    assert (instruction.amount_minor, instruction.payee.email) == (19_000, "creator@example.com")
    assert instruction.payee.name == "Jane Quincy Doe"
    update = StatusUpdate(
        event_id="ev-paid", state=PayoutState.PAID, occurred_at=utcnow(), payout_id=payout.reference
    )
    assert (await apply_update(rig.svc, rig.bank, update)).outcome == "applied"
    cash = await sql(
        "SELECT a.name, SUM(b.balance) FROM ledger_accounts a "
        "JOIN ledger_balances b ON b.account_id = a.id WHERE a.asset = 'USD' GROUP BY a.name"
    )
    assert {(name, int(total)) for name, total in cash} == {
        ("payout_funding", -25_000),
        ("payouts_received", 19_000),
        ("withholding", 6_000),
    }
    await ledger_is_clean(rig.eco)


async def test_a_sanctions_hit_after_the_request_stops_the_payout_at_dispatch(
    rig: Rig, rich_creator: MakeCreator, economy: Economy
) -> None:
    creator = await rich_creator(60_000)
    finance = await economy.users.ensure("finance:fay")
    await make_payout_ready(economy, creator, legal_name="Lena Brightwater")
    payout = await request(rig, creator, 40_000)
    assert payout.withholding_minor == 0

    sdn = (DATA / "sdn_sample.csv").read_bytes().replace(b"\x1a", b"")
    listed = (
        b'9111,"BRIGHTWATER, Lena","individual","SDGT","-0- ","-0- ","-0- ","-0- ","-0- ",'
        b'"-0- ","-0- ","SAMPLE ENTRY FOR TESTS."\r\n'
    )
    newer = load_list(sdn + listed)
    await sanctions_service.load_sanctions_list(
        compliance_of(economy), newer, source="next-day.csv", actor="test:ops"
    )
    await worker(rig).run_once()
    held = await reload(rig, payout)
    assert (held.status, held.failure_code) == (PayoutStatus.ON_HOLD, "SANCTIONS_REVIEW")
    assert rig.bank.submits == 0

    async with economy.db.read() as conn:
        [hit] = await sanctions_store.hits(conn, status="OPEN", after=None, limit=10)
    await sanctions_service.decide_hit(
        compliance_of(economy),
        finance,
        hit_id=hit.id,
        confirm=False,
        note="different person: DOB differs",
    )
    await approve_payout(rig.svc, finance, payout.id)
    await worker(rig).run_once()
    assert (await reload(rig, payout)).status is PayoutStatus.SUBMITTED
    assert rig.bank.submits == 1
    await ledger_is_clean(rig.eco)


async def test_an_expired_w8ben_withholds_thirty_percent(
    rig: Rig,
    rich_creator: MakeCreator,
    economy: Economy,
    sql: Callable[..., Awaitable[list[Any]]],
) -> None:
    creator = await rich_creator(60_000)
    await make_payout_ready(economy, creator, country="DE", legal_name="Erika Mustermann")
    long_ago = (utcnow() - timedelta(days=5 * 366)).date()
    await sql(
        "UPDATE compliance_tax_forms SET expires_on = :day WHERE user_id = :user",
        day=long_ago,
        user=creator.id,
    )
    payout = await request(rig, creator, 20_000)
    assert (payout.gross_minor, payout.withholding_minor) == (10_000, 3_000)
    rows = await sql("SELECT COUNT(*) FROM compliance_tax_forms WHERE user_id = :u", u=creator.id)
    assert int(rows[0][0]) == 1
