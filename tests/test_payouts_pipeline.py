"""The payout pipeline end to end on both databases: a request holds diamonds, the worker pays
through the provider with no lock held, webhooks and lookups settle it, and every way it can go
wrong (refusals, faults, unknown outcomes, crashes, racing workers) leaves the ledger exact."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from compliance.gate.rules import Requirement
from economy.app import Economy
from economy.users import User
from kernel.clock import utcnow
from kernel.errors import DomainError
from ledger.accounts import read_balance
from payouts.dispatch import Dispatcher
from payouts.quotes import RequirementsNotMet
from payouts.requests import request_payout
from payouts.review import (
    approve_payout,
    cancel_payout,
    reject_payout,
    resolve_payout,
    retry_payout,
)
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout, payout_history
from payouts.tables import payouts
from payouts.webhooks import apply_update
from providers.base import PayoutState, StatusUpdate
from settings.rates import CashRate

from .payout_fixtures import FAST_RETRIES, Rig, ledger_is_clean

MakeCreator = Callable[..., Awaitable[User]]


async def request(rig: Rig, creator: User, diamonds: int, key: str = "cash-out") -> Payout:
    return (
        await request_payout(
            rig.svc, creator, diamonds=diamonds, provider="ledgerbank", currency="USD", key=key
        )
    ).payout


def worker(rig: Rig, name: str = "w1") -> Dispatcher:
    from providers.retry import submit_with_retries

    async def submit(provider: Any, instruction: Any) -> Any:
        return await submit_with_retries(provider, instruction, FAST_RETRIES)

    return Dispatcher(rig.svc, name=name, submit=submit)


async def reload(rig: Rig, payout: Payout) -> Payout:
    async with rig.eco.db.read() as conn:
        found = await load_payout(conn, payout.id)
    assert found is not None
    return found


async def diamonds_of(rig: Rig, user: User) -> tuple[int, int]:
    """(balance, available) of the user's diamond wallet."""
    async with rig.eco.db.read() as conn:
        balance = await read_balance(conn, user.diamond_account_id)
    return balance.balance, balance.available


def paid_webhook(payout: Payout, event: str, state: PayoutState) -> StatusUpdate:
    return StatusUpdate(
        event_id=event, state=state, occurred_at=utcnow(), payout_id=payout.reference
    )


async def test_a_request_holds_the_diamonds_and_converts_at_the_configured_rate(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await request(rig, creator, 50_000)
    assert payout.status is PayoutStatus.APPROVED
    # USD=1/2: half a cent a diamond.
    assert (payout.gross_minor, payout.fee_minor, payout.withholding_minor) == (25_000, 0, 0)
    assert payout.net_minor == 25_000
    assert await diamonds_of(rig, creator) == (60_000, 10_000)
    async with rig.eco.db.read() as conn:
        steps = [(e.from_status, e.to_status) for e in await payout_history(conn, payout.id)]
    assert steps == [
        (None, PayoutStatus.REQUESTED),
        (PayoutStatus.REQUESTED, PayoutStatus.APPROVED),
    ]
    await ledger_is_clean(rig.eco)


async def test_a_replayed_request_returns_the_same_payout_and_holds_once(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    first = await request(rig, creator, 20_000)
    again = await request_payout(
        rig.svc, creator, diamonds=20_000, provider="ledgerbank", currency="USD", key="cash-out"
    )
    assert again.replayed
    assert again.payout.id == first.id
    assert await diamonds_of(rig, creator) == (60_000, 40_000)
    with pytest.raises(DomainError) as refused:
        await request(rig, creator, 30_000)
    assert refused.value.code == "IDEMPOTENCY_CONFLICT"


@pytest.mark.parametrize(
    ("diamonds", "provider", "currency", "code"),
    [
        (0, "ledgerbank", "USD", "INVALID_AMOUNT"),
        (-5, "ledgerbank", "USD", "INVALID_AMOUNT"),
        (10_000, "carrier-pigeon", "USD", "UNKNOWN_PROVIDER"),
        (10_000, "ledgerbank", "JPY", "UNSUPPORTED_CURRENCY"),
        (100, "ledgerbank", "USD", "BELOW_MINIMUM"),
        (70_000, "ledgerbank", "USD", "INSUFFICIENT_DIAMONDS"),
    ],
)
async def test_refused_requests_write_nothing(
    diamonds: int,
    provider: str,
    currency: str,
    code: str,
    rig: Rig,
    rich_creator: MakeCreator,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    creator = await rich_creator(60_000)
    before = await row_counts("ledger_holds", "payouts", "payout_events", "ledger_idempotency_keys")
    with pytest.raises(DomainError) as refused:
        await request_payout(
            rig.svc, creator, diamonds=diamonds, provider=provider, currency=currency, key="k"
        )
    assert refused.value.code == code
    assert (
        await row_counts("ledger_holds", "payouts", "payout_events", "ledger_idempotency_keys")
        == before
    )
    assert await diamonds_of(rig, creator) == (60_000, 60_000)


async def test_refusals_state_the_minimum_in_diamonds_and_money_and_what_is_available(
    rig: Rig, rich_creator: MakeCreator, start_economy: Callable[..., Awaitable[Economy]]
) -> None:
    creator = await rich_creator(60_000)
    with pytest.raises(DomainError) as small:
        await request(rig, creator, 151)
    # The rig's minimum is 100 cents; a diamond is worth half a cent.
    assert small.value.message == (
        "151 diamonds are worth $0.75; the minimum is 200 diamonds ($1.00)"
    )
    with pytest.raises(DomainError) as short:
        await request(rig, creator, 70_000)
    assert short.value.message == (
        "only 60,000 diamonds are available, fewer than the 70,000 asked for"
    )

    # At 9/20 of a cent a diamond, a euro takes 222.2 diamonds: the minimum rounds up to 223.
    euros = await start_economy(
        cash_rates={"EUR": CashRate(currency="EUR", minor_per_diamond=(9, 20))}
    )
    svc = PayoutService(
        eco=euros, gate=rig.gate, providers=rig.svc.providers, policy=rig.svc.policy
    )
    with pytest.raises(DomainError) as in_euros:
        await request_payout(
            svc, creator, diamonds=222, provider="ledgerbank", currency="EUR", key="eur"
        )
    assert in_euros.value.message == (
        "222 diamonds are worth €0.99; the minimum is 223 diamonds (€1.00)"
    )


async def test_the_compliance_gate_lists_every_missing_requirement(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    rig.gate.blocked = [
        Requirement("IDENTITY_UNVERIFIED", "verify your identity"),
        Requirement("TAX_FORM_MISSING", "submit a W-9 or W-8BEN"),
    ]
    with pytest.raises(RequirementsNotMet) as blocked:
        await request(rig, creator, 20_000)
    assert [r.code for r in blocked.value.requirements] == [
        "IDENTITY_UNVERIFIED",
        "TAX_FORM_MISSING",
    ]
    assert await diamonds_of(rig, creator) == (60_000, 60_000)


async def test_withholding_and_fees_come_out_of_the_gross(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    rig.gate.withholding_bps = 2_400
    rig.bank.fee = 25
    payout = await request(rig, creator, 20_001)
    # 20,001 diamonds -> 10,000 cents (rounded down); 24% withheld, rounded up; 25 cents fee.
    assert (payout.gross_minor, payout.withholding_minor, payout.fee_minor) == (10_000, 2_400, 25)
    assert payout.net_minor == 7_575


async def test_the_daily_cap_counts_every_live_payout_of_the_day(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(250_000)
    await request(rig, creator, 90_000, key="a")  # $450
    await request(rig, creator, 90_000, key="b")  # $900
    with pytest.raises(DomainError) as capped:
        await request(rig, creator, 30_000, key="c")  # $1,050 > $1,000
    assert capped.value.code == "DAILY_CAP_EXCEEDED"
    assert await diamonds_of(rig, creator) == (250_000, 70_000)


async def test_concurrent_requests_cannot_pass_the_cap_together(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(400_000)
    results = await asyncio.gather(
        *(
            request_payout(
                rig.svc,
                creator,
                diamonds=80_000,
                provider="ledgerbank",
                currency="USD",
                key=f"r{n}",
            )
            for n in range(5)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(accepted) == 2  # 2 x $400; a third would pass $1,000
    assert {r.code for r in refused} == {"DAILY_CAP_EXCEEDED"}
    assert await diamonds_of(rig, creator) == (400_000, 240_000)
    await ledger_is_clean(rig.eco)


async def test_a_paid_payout_spends_the_held_diamonds_and_books_the_cash(
    rig: Rig, rich_creator: MakeCreator, sql: Callable[..., Awaitable[list[Any]]]
) -> None:
    creator = await rich_creator(60_000)
    rig.gate.withholding_bps = 2_400
    payout = await request(rig, creator, 50_000)
    assert await worker(rig).run_once() >= 1
    submitted = await reload(rig, payout)
    assert submitted.status is PayoutStatus.SUBMITTED
    assert submitted.provider_reference == f"lb_{payout.reference}"
    assert submitted.lease_owner is None

    applied = await apply_update(rig.svc, rig.bank, paid_webhook(payout, "ev-1", PayoutState.PAID))
    assert applied.outcome == "applied"
    paid = await reload(rig, payout)
    assert paid.status is PayoutStatus.PAID
    assert paid.paid_at is not None
    assert await diamonds_of(rig, creator) == (10_000, 10_000)
    cash = await sql(
        "SELECT a.owner, a.name, SUM(b.balance) FROM ledger_accounts a "
        "JOIN ledger_balances b ON b.account_id = a.id WHERE a.asset = 'USD' "
        "GROUP BY a.owner, a.name ORDER BY a.name"
    )
    assert {(name, int(total)) for _, name, total in cash} == {
        ("payout_funding", -25_000),
        ("payouts_received", 19_000),
        ("withholding", 6_000),
    }
    await ledger_is_clean(rig.eco)


async def test_webhooks_apply_once_and_out_of_order_news_is_ignored(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await request(rig, creator, 40_000)
    # The provider's "paid" arrives before the worker has even recorded the submission.
    first = await apply_update(rig.svc, rig.bank, paid_webhook(payout, "ev-9", PayoutState.PAID))
    assert first.outcome == "applied"
    replay = await apply_update(rig.svc, rig.bank, paid_webhook(payout, "ev-9", PayoutState.PAID))
    assert replay.outcome == "duplicate"
    late = await apply_update(rig.svc, rig.bank, paid_webhook(payout, "ev-8", PayoutState.PENDING))
    assert late.outcome == "ignored"
    stranger = await apply_update(
        rig.svc,
        rig.bank,
        StatusUpdate(
            event_id="ev-x",
            state=PayoutState.PAID,
            occurred_at=utcnow(),
            payout_id="diamonds-payout-999999",
        ),
    )
    assert stranger.outcome == "unmatched"
    assert (await reload(rig, payout)).status is PayoutStatus.PAID
    assert await diamonds_of(rig, creator) == (20_000, 20_000)
    await ledger_is_clean(rig.eco)


async def test_a_payout_that_comes_back_returns_the_diamonds(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await request(rig, creator, 40_000)
    await apply_update(rig.svc, rig.bank, paid_webhook(payout, "p", PayoutState.PAID))
    rig.bank.settled[payout.reference] = PayoutState.RETURNED  # the bank's books say so too
    await apply_update(rig.svc, rig.bank, paid_webhook(payout, "r", PayoutState.RETURNED))
    assert (await reload(rig, payout)).status is PayoutStatus.RETURNED
    assert await diamonds_of(rig, creator) == (60_000, 60_000)
    await ledger_is_clean(rig.eco)


async def failed_payout(rig: Rig, creator: User, diamonds: int) -> Payout:
    """A payout the bank refused for good: FAILED, its diamonds released."""
    rig.bank.script = ["account_closed"]
    payout = await request(rig, creator, diamonds)
    await worker(rig).run_once()
    failed = await reload(rig, payout)
    assert failed.status is PayoutStatus.FAILED
    return failed


async def test_a_permanent_failure_releases_the_diamonds_and_finance_can_retry(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creator = await rich_creator(60_000)
    finance = await economy.users.ensure("finance:fay")
    failed = await failed_payout(rig, creator, 40_000)
    assert failed.failure_code == "account_closed"
    assert await diamonds_of(rig, creator) == (60_000, 60_000)

    retried = await retry_payout(rig.svc, finance, failed.id, "the creator fixed the account")
    assert retried.status is PayoutStatus.APPROVED
    assert retried.generation == 2
    assert retried.idempotency_key != failed.idempotency_key
    assert await diamonds_of(rig, creator) == (60_000, 20_000)
    await worker(rig).run_once()
    assert (await reload(rig, failed)).status is PayoutStatus.SUBMITTED
    assert rig.bank.payments_to(f"diamonds-payout-{failed.id}") == 1
    await ledger_is_clean(rig.eco)


async def test_a_retry_the_creator_can_no_longer_cover_says_what_is_available(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creator = await rich_creator(60_000)
    finance = await economy.users.ensure("finance:fay")
    payout = await failed_payout(rig, creator, 40_000)
    await request(rig, creator, 30_000, key="meanwhile")

    with pytest.raises(DomainError) as refused:
        await retry_payout(rig.svc, finance, payout.id, "try again")
    assert (refused.value.code, refused.value.message) == (
        "INSUFFICIENT_DIAMONDS",
        "the creator has only 30,000 diamonds available, fewer than the payout's 40,000",
    )
    assert (await reload(rig, payout)).status is PayoutStatus.FAILED
    await ledger_is_clean(rig.eco)


async def test_transient_faults_are_retried_with_the_same_key(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    rig.bank.script = ["transient", "transient", "ok"]
    payout = await request(rig, creator, 40_000)
    await worker(rig).run_once()
    assert (await reload(rig, payout)).status is PayoutStatus.SUBMITTED
    assert rig.bank.submits == 3
    assert len(rig.bank.paid) == 1


async def test_a_provider_down_for_every_attempt_fails_the_payout_in_the_end(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    rig.bank.script = ["transient"] * 9
    payout = await request(rig, creator, 40_000)
    for _ in range(3):
        await worker(rig).run_once()
    failed = await reload(rig, payout)
    assert failed.status is PayoutStatus.FAILED
    assert failed.failure_code == "PROVIDER_UNAVAILABLE"
    assert rig.bank.paid == {}
    assert await diamonds_of(rig, creator) == (60_000, 60_000)
    await ledger_is_clean(rig.eco)


@pytest.mark.parametrize("fault", ["unknown", "unknown-before"])
async def test_an_unknown_outcome_is_looked_up_never_assumed(
    fault: str, rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    rig.bank.script = [fault]
    payout = await request(rig, creator, 40_000)
    await worker(rig).run_once()
    unknown = await reload(rig, payout)
    assert unknown.status is PayoutStatus.UNKNOWN
    assert await diamonds_of(rig, creator) == (60_000, 20_000)  # still held

    await worker(rig).run_once()  # looks it up; resubmits under the same key if never received
    settled = await reload(rig, payout)
    assert settled.status in (PayoutStatus.PAID, PayoutStatus.SUBMITTED)
    assert rig.bank.payments_to(payout.reference) == 1
    await ledger_is_clean(rig.eco)


async def test_a_worker_killed_mid_dispatch_is_resumed_without_paying_twice(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await request(rig, creator, 40_000)
    crashed = worker(rig, "doomed")
    claimed = await crashed.claim()
    assert [p.id for p in claimed] == [payout.id]
    # It reached the provider, then died before recording the answer.
    await rig.bank.submit(
        __import__("providers.base", fromlist=["PayoutInstruction"]).PayoutInstruction(
            payout_id=claimed[0].reference,
            idempotency_key=claimed[0].idempotency_key,
            amount_minor=claimed[0].net_minor,
            currency="USD",
            payee=await rig.gate.payee(None),  # type: ignore[arg-type]
        )
    )
    # While its lease lasts, nobody else takes the payout, and it cannot be canceled.
    assert await worker(rig, "w2").claim() == []
    with pytest.raises(DomainError) as in_flight:
        await cancel_payout(rig.svc, creator, payout.id)
    assert in_flight.value.code == "PAYOUT_IN_FLIGHT"
    # The lease runs out; a restarted worker resumes with the same idempotency key.
    async with rig.eco.db.write() as conn:
        await conn.execute(
            update(payouts)
            .where(payouts.c.id == payout.id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    await worker(rig, "w3").run_once()
    assert (await reload(rig, payout)).status is PayoutStatus.SUBMITTED
    assert rig.bank.payments_to(payout.reference) == 1
    await ledger_is_clean(rig.eco)


async def test_two_workers_racing_dispatch_each_payout_once(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creators = [await rich_creator(30_000) for _ in range(6)]
    wanted = [await request(rig, c, 20_000, key="race") for c in creators]
    first, second = worker(rig, "a"), worker(rig, "b")
    first.batch = second.batch = 2
    for _ in range(4):
        await asyncio.gather(first.run_once(), second.run_once())
    for payout in wanted:
        assert (await reload(rig, payout)).status is PayoutStatus.SUBMITTED
        assert rig.bank.payments_to(payout.reference) == 1
    assert rig.bank.submits == len(wanted)
    await ledger_is_clean(rig.eco)


async def test_large_payouts_wait_for_a_second_person(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creator = await rich_creator(150_000, subject="creator:big")
    finance = await economy.users.ensure("finance:fay")
    payout = await request(rig, creator, 120_000)  # $600 > $500 threshold
    assert payout.status is PayoutStatus.AWAITING_APPROVAL
    assert await worker(rig).run_once() == 0  # not dispatched before approval

    with pytest.raises(DomainError) as own:
        await approve_payout(rig.svc, creator, payout.id)
    assert own.value.code == "SELF_APPROVAL"
    approved = await approve_payout(rig.svc, finance, payout.id)
    assert approved.status is PayoutStatus.APPROVED
    assert approved.approved_by == "finance:fay"
    await worker(rig).run_once()
    assert (await reload(rig, payout)).status is PayoutStatus.SUBMITTED


async def test_rejecting_or_canceling_releases_the_diamonds(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creator = await rich_creator(150_000)
    finance = await economy.users.ensure("finance:fay")
    big = await request(rig, creator, 120_000, key="big")
    small = await request(rig, creator, 20_000, key="small")
    rejected = await reject_payout(rig.svc, finance, big.id, "looks like fraud")
    canceled = await cancel_payout(rig.svc, creator, small.id)
    assert (rejected.status, canceled.status) == (PayoutStatus.REJECTED, PayoutStatus.CANCELED)
    assert await diamonds_of(rig, creator) == (150_000, 150_000)
    with pytest.raises(DomainError) as again:
        await cancel_payout(rig.svc, creator, small.id)
    assert again.value.code == "INVALID_STATUS"
    await ledger_is_clean(rig.eco)


async def test_the_gate_is_checked_again_just_before_dispatch(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creator = await rich_creator(60_000)
    finance = await economy.users.ensure("finance:fay")
    payout = await request(rig, creator, 40_000)
    rig.gate.blocked = [Requirement("SANCTIONS_REVIEW", "a possible sanctions match")]
    await worker(rig).run_once()
    held = await reload(rig, payout)
    assert held.status is PayoutStatus.ON_HOLD
    assert held.failure_code == "SANCTIONS_REVIEW"
    assert rig.bank.submits == 0
    rig.gate.blocked = []
    await approve_payout(rig.svc, finance, payout.id)
    await worker(rig).run_once()
    assert (await reload(rig, payout)).status is PayoutStatus.SUBMITTED


async def test_finance_resolves_a_stuck_payout_on_an_audited_path(
    rig: Rig, rich_creator: MakeCreator, economy: Any, sql: Callable[..., Awaitable[list[Any]]]
) -> None:
    creator = await rich_creator(60_000)
    finance = await economy.users.ensure("finance:fay")
    rig.bank.script = ["unknown-before"]
    payout = await request(rig, creator, 40_000)
    await worker(rig).run_once()
    with pytest.raises(DomainError) as no_reason:
        await resolve_payout(rig.svc, finance, payout.id, PayoutStatus.FAILED, " ")
    assert no_reason.value.code == "INVALID_REASON"
    resolved = await resolve_payout(
        rig.svc, finance, payout.id, PayoutStatus.FAILED, "bank confirmed by phone: never received"
    )
    assert resolved.status is PayoutStatus.FAILED
    assert await diamonds_of(rig, creator) == (60_000, 60_000)
    audit = await sql(
        "SELECT actor_subject, action, target FROM audit_log WHERE action = 'PAYOUT_RESOLVED'"
    )
    assert [tuple(r) for r in audit] == [("finance:fay", "PAYOUT_RESOLVED", f"payout:{payout.id}")]
    await ledger_is_clean(rig.eco)


async def test_an_unknown_payout_past_the_idempotency_window_waits_for_an_operator(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    creator = await rich_creator(60_000)
    rig.bank.script = ["unknown-before"]
    payout = await request(rig, creator, 40_000)
    await worker(rig).run_once()
    # Two days later the bank no longer remembers the key: a resubmit could pay twice.
    async with rig.eco.db.write() as conn:
        await conn.execute(
            update(payouts)
            .where(payouts.c.id == payout.id)
            .values(first_sent_at=utcnow() - timedelta(days=2), next_attempt_at=utcnow())
        )
    await worker(rig).run_once()
    parked = await reload(rig, payout)
    assert parked.status is PayoutStatus.UNKNOWN
    assert parked.failure_code == "NEEDS_OPERATOR"
    assert rig.bank.submits == 1
    assert await worker(rig).claim() == []
    finance = await economy.users.ensure("finance:fay")
    resolved = await resolve_payout(
        rig.svc, finance, payout.id, PayoutStatus.FAILED, "the bank confirmed it never arrived"
    )
    assert resolved.status is PayoutStatus.FAILED
    assert await diamonds_of(rig, creator) == (60_000, 60_000)


async def test_failed_after_paid_counts_as_returned_once_the_provider_confirms_it(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await request(rig, creator, 40_000)
    await apply_update(rig.svc, rig.bank, paid_webhook(payout, "p", PayoutState.PAID))
    rig.bank.settled[payout.reference] = PayoutState.FAILED
    late = await apply_update(rig.svc, rig.bank, paid_webhook(payout, "f", PayoutState.FAILED))
    assert late.outcome == "applied"
    assert (await reload(rig, payout)).status is PayoutStatus.RETURNED
    assert await diamonds_of(rig, creator) == (60_000, 60_000)
    await ledger_is_clean(rig.eco)


async def test_a_refused_first_request_leaves_no_stale_account_behind(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    # The refusal rolls back the platform account the request had just opened; SQLite would
    # hand its id to the next new account. Nothing may keep using the rolled-back id.
    broke = await economy.users.ensure("creator:broke")
    with pytest.raises(DomainError):
        await request(rig, broke, 20_000)
    creator = await rich_creator(60_000)
    payout = await request(rig, creator, 20_000)
    await apply_update(rig.svc, rig.bank, paid_webhook(payout, "p", PayoutState.PAID))
    assert await diamonds_of(rig, creator) == (40_000, 40_000)
    await ledger_is_clean(rig.eco)


async def test_concurrent_first_requests_all_find_committed_accounts(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creators = [await rich_creator(30_000) for _ in range(8)]
    results = await asyncio.gather(
        *(request(rig, c, 20_000, key="first") for c in creators), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    await ledger_is_clean(rig.eco)


async def test_status_changes_are_announced_after_commit_only(
    rig: Rig, rich_creator: MakeCreator, economy: Any
) -> None:
    from economy.events import ALL_USERS, PayoutStatusChanged, payout_topic

    creator = await rich_creator(60_000)
    with economy.events.subscribe(payout_topic(creator.id), payout_topic(ALL_USERS)) as feed:
        payout = await request(rig, creator, 40_000)
        with pytest.raises(DomainError):  # refused: nothing committed, nothing announced
            await request(rig, creator, 40_000, key="too-much")
        await worker(rig).run_once()
        await apply_update(rig.svc, rig.bank, paid_webhook(payout, "p", PayoutState.PAID))
        seen = [e for e in feed.drain() if isinstance(e, PayoutStatusChanged)]
    statuses = [e.status for e in seen if e.payout_id == payout.id]
    # Each announced once per topic the subscription listens on (the owner's and everyone's),
    # in order: a new payout first as REQUESTED, then at the status its request left it in.
    assert list(dict.fromkeys(statuses)) == ["REQUESTED", "APPROVED", "SUBMITTED", "PAID"]
    assert all(e.user_id == creator.id for e in seen)


async def test_an_unsupported_currency_says_whether_the_rate_or_the_provider_is_missing(
    rig: Rig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    with pytest.raises(DomainError) as unpriced:
        await request_payout(
            rig.svc, creator, diamonds=10_000, provider="ledgerbank", currency="EUR", key="k"
        )
    assert (unpriced.value.code, unpriced.value.field) == ("UNSUPPORTED_CURRENCY", "currency")
    assert unpriced.value.message == (
        "diamonds have no cash value in 'EUR': DIAMONDS_CASH_RATES has no rate for it (rates: USD)"
    )
    rig.bank.currencies = frozenset({"EUR"})  # type: ignore[misc]  # this bank stops paying USD
    with pytest.raises(DomainError) as unpaid:
        await request_payout(
            rig.svc, creator, diamonds=10_000, provider="ledgerbank", currency="USD", key="k"
        )
    assert unpaid.value.code == "UNSUPPORTED_CURRENCY"
    assert unpaid.value.message == "ledgerbank does not pay out in 'USD' (it pays EUR)"
