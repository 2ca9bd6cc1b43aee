"""Money out exactly once, against the fake PayPal server over real HTTP and on both databases:
late provider outcomes after a manual resolution, old webhooks after a payment, retries while an
attempt could still pay, and every order of FINANCE's, the worker's and the provider's actions.
Each ends with the ledger clean and the money the provider paid equal to what the ledger says."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.paypal_server import FakePayPal
from sqlalchemy import update

from compliance.gate.rules import Requirement
from economy.app import Economy
from economy.gifting import send_gift
from economy.streams import start_stream
from economy.users import User
from kernel.clock import utcnow
from kernel.errors import DomainError
from ledger.debts import diamonds_owed
from payouts.attempts import AttemptOutcome, SettledBy, attempts_of
from payouts.discrepancies import DiscrepancyKind, discrepancies_of, list_discrepancies
from payouts.dispatch import Dispatcher
from payouts.requests import request_payout
from payouts.review import acknowledge_discrepancy, resolve_payout, retry_payout
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout, payout_history
from payouts.tables import payouts
from payouts.webhooks import apply_update
from providers.base import PayoutState, StatusUpdate

from .payout_fixtures import Rig, ledger_is_clean
from .paypal_rig import PayPalRig

MakeCreator = Callable[..., Awaitable[User]]

LOOKUPS = "/v1/payments/payouts/"
"""The path prefix of PayPal's batch lookups (GET), where faults make the provider unreachable."""


@pytest.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal() as server:
        yield server


@pytest.fixture
async def pp(economy: Economy, fake: FakePayPal) -> AsyncIterator[PayPalRig]:
    rig = PayPalRig.build(economy, fake)
    yield rig
    await rig.paypal.close()


@pytest.fixture
async def finance(economy: Economy) -> User:
    return await economy.users.ensure("finance:fay")


async def cash_out(pp: PayPalRig, creator: User, diamonds: int, key: str = "out") -> Payout:
    requested = await request_payout(
        pp.svc, creator, diamonds=diamonds, provider="paypal", currency="USD", key=key
    )
    return requested.payout


async def submitted(pp: PayPalRig, creator: User, diamonds: int = 40_000) -> Payout:
    """A payout the worker handed to PayPal, still PENDING there."""
    payout = await cash_out(pp, creator, diamonds)
    await pp.worker().run_once()
    sent = await pp.reload(payout)
    assert sent.status is PayoutStatus.SUBMITTED
    return sent


async def failed_by_hand(pp: PayPalRig, finance: User, payout: Payout) -> Payout:
    """FINANCE resolves the payout FAILED while PayPal cannot be asked; PayPal is back after."""
    unreachable_lookups(pp.fake)
    failed = await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "stuck")
    _clear_faults(pp.fake)
    return failed


def unreachable_lookups(fake: FakePayPal) -> Fault:
    return fake.add_fault(
        Fault(kind=FaultKind.SERVER_ERROR, method="GET", path=LOOKUPS, times=None, status=503)
    )


async def the_money_agrees(pp: PayPalRig, creator: User, *payouts: Payout) -> None:
    for payout in payouts:
        assert len(pp.paid_at_provider(payout)) <= 1, "PayPal paid one payout twice"
    at_provider = sum(pp.minor_paid_at_provider(p) for p in payouts)
    assert await pp.minor_paid_by_ledger(creator) == at_provider
    await pp.ledger_is_clean()


# -- 1. a late outcome after FINANCE's resolution ------------------------------------------


async def test_a_resolution_to_failed_is_refused_while_the_provider_says_pending(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)

    with pytest.raises(DomainError) as refused:
        await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "looked stuck")
    assert refused.value.code == "PROVIDER_SAYS_PENDING"
    assert "pending" in refused.value.message
    assert (await pp.reload(payout)).status is PayoutStatus.SUBMITTED

    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    assert await pp.deliver_current(payout) == ["applied"]
    assert (await pp.reload(payout)).status is PayoutStatus.PAID
    with pytest.raises(DomainError) as again:
        await retry_payout(pp.svc, finance, payout.id, "try again")
    assert again.value.code == "INVALID_STATUS"
    assert len(pp.items_of(payout)) == 1
    await the_money_agrees(pp, creator, payout)


async def test_a_pending_payout_the_provider_can_cancel_is_canceled_before_it_is_resolved(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    # Unclaimed: PayPal reports it pending (the receiver may still claim it) and can cancel it.
    pp.fake.set_payout_status(payout.reference, "UNCLAIMED")

    resolved = await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "no claim")
    assert resolved.status in (PayoutStatus.RETURNED, PayoutStatus.CANCELED, PayoutStatus.FAILED)
    assert not resolved.resolved_by_hand
    assert pp.fake.item_of(payout.reference).status == "RETURNED"
    assert await pp.diamonds(creator) == (60_000, 60_000)
    await the_money_agrees(pp, creator, payout)


async def test_a_lookup_that_finds_it_paid_refuses_the_failure_and_books_the_payment(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    pp.fake.set_payout_status(payout.reference, "SUCCESS")

    with pytest.raises(DomainError) as refused:
        await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "looked stuck")
    assert refused.value.code == "PROVIDER_SAYS_PAID"
    assert (await pp.reload(payout)).status is PayoutStatus.PAID
    assert await pp.diamonds(creator) == (20_000, 20_000)
    await the_money_agrees(pp, creator, payout)


async def test_paid_after_a_failure_resolved_by_hand_is_booked_and_flagged_never_paid_twice(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User, economy: Economy
) -> None:
    """The reproduction: resolved FAILED (PayPal could not be asked), then PayPal pays and its
    webhook arrives, then FINANCE retries."""
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    unreachable_lookups(pp.fake)
    failed = await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "stuck")
    assert failed.status is PayoutStatus.FAILED
    assert failed.resolved_by_hand
    [attempt] = await _attempts(economy, payout)
    assert (attempt.outcome, attempt.settled_by) == (AttemptOutcome.FAILED, SettledBy.MANUAL)
    assert await pp.diamonds(creator) == (60_000, 60_000)

    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    # The webhook of a payment we had called failed is confirmed first: while PayPal cannot be
    # asked it is answered 503, so PayPal delivers it again later.
    assert await pp.deliver_current(payout) == ["redeliver"]
    assert (await pp.reload(payout)).status is PayoutStatus.FAILED
    _clear_faults(pp.fake)
    assert await pp.deliver_current(payout) == ["flagged"]

    paid = await pp.reload(payout)
    assert paid.status is PayoutStatus.PAID
    assert paid.open_discrepancies == 1
    assert await pp.diamonds(creator) == (20_000, 20_000)
    async with economy.db.read() as conn:
        [flagged] = await discrepancies_of(conn, payout.id)
        history = await payout_history(conn, payout.id)
    assert flagged.kind is DiscrepancyKind.PAID_AFTER_FAILED
    assert flagged.owed_diamonds == 0
    assert any("discrepancy" in (e.reason or "") for e in history)

    with pytest.raises(DomainError) as refused:
        await retry_payout(pp.svc, finance, payout.id, "try again")
    assert refused.value.code == "INVALID_STATUS"
    assert len(pp.items_of(payout)) == 1
    await the_money_agrees(pp, creator, payout)

    closed = await acknowledge_discrepancy(pp.svc, finance, flagged.id, "checked with PayPal")
    assert closed.acknowledged_by == "finance:fay"
    assert (await pp.reload(payout)).open_discrepancies == 0
    with pytest.raises(DomainError) as twice:
        await acknowledge_discrepancy(pp.svc, finance, flagged.id, "again")
    assert twice.value.code == "ALREADY_ACKNOWLEDGED"


async def test_diamonds_spent_meanwhile_are_owed_and_the_next_earnings_settle_them(
    pp: PayPalRig,
    rich_creator: MakeCreator,
    finance: User,
    economy: Economy,
    funded_viewer: Any,
    gift: Any,
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    await failed_by_hand(pp, finance, payout)
    # The diamonds came back and went out again in a second payout, which PayPal pays.
    second = await cash_out(pp, creator, 50_000, key="second")
    await pp.worker().run_once()
    pp.fake.set_payout_status(await _reference(pp, second), "SUCCESS")
    await pp.deliver_current(second)
    assert await pp.diamonds(creator) == (10_000, 10_000)

    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    assert await pp.deliver_current(payout) == ["flagged"]
    assert (await pp.reload(payout)).status is PayoutStatus.PAID
    assert await pp.diamonds(creator) == (0, 0)
    assert await pp.owed(creator) == 30_000
    async with economy.db.read() as conn:
        [flagged] = await discrepancies_of(conn, payout.id)
    assert flagged.owed_diamonds == 30_000
    await the_money_agrees(pp, creator, payout, second)

    # New earnings settle the debt first (the worker sweeps, and a payout request would too).
    viewer = await funded_viewer(20_000)
    stream = await start_stream(economy, creator, "back again")
    pearl = await gift("Pearl", 2_000)
    await send_gift(economy, viewer, stream_id=stream.id, gift_id=pearl.id, quantity=10, key="g")
    worker = pp.worker()
    assert await worker.settle_debts() == 20_000
    assert await pp.owed(creator) == 10_000
    assert await pp.diamonds(creator) == (0, 0)
    await pp.ledger_is_clean()


# -- 2. an old failure after a payment ----------------------------------------------------


async def test_an_old_failure_event_after_a_payment_is_noted_and_changes_nothing(
    pp: PayPalRig, rich_creator: MakeCreator, economy: Economy
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    assert await pp.deliver_current(payout) == ["applied"]
    item = pp.fake.item_of(payout.reference)

    stale = pp.old_event(item, "FAILED", "2020-01-01T00:00:00.000Z")
    [applied] = await pp.deliver(stale)

    assert applied.outcome == "ignored"
    assert (await pp.reload(payout)).status is PayoutStatus.PAID
    assert await pp.diamonds(creator) == (20_000, 20_000)
    async with economy.db.read() as conn:
        history = await payout_history(conn, payout.id)
    note = history[-1]
    assert (note.from_status, note.to_status) == (PayoutStatus.PAID, PayoutStatus.PAID)
    assert "older" in (note.reason or "")
    await the_money_agrees(pp, creator, payout)


async def test_a_new_failure_event_the_provider_does_not_confirm_books_nothing(
    pp: PayPalRig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    await pp.deliver_current(payout)

    forged_time = pp.old_event(pp.fake.item_of(payout.reference), "FAILED", "2099-01-01T00:00:00Z")
    [applied] = await pp.deliver(forged_time)

    assert applied.outcome == "ignored"  # PayPal's lookup still says SUCCESS
    assert (await pp.reload(payout)).status is PayoutStatus.PAID
    await the_money_agrees(pp, creator, payout)


async def test_a_return_the_provider_confirms_gives_the_diamonds_back_once(
    pp: PayPalRig, rich_creator: MakeCreator
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    await pp.deliver_current(payout)
    pp.fake.set_payout_status(payout.reference, "RETURNED")

    assert await pp.deliver_current(payout) == ["applied"]
    assert await pp.deliver_current(payout) == ["ignored"]
    assert (await pp.reload(payout)).status is PayoutStatus.RETURNED
    assert await pp.diamonds(creator) == (60_000, 60_000)
    await the_money_agrees(pp, creator, payout)


# -- retries --------------------------------------------------------------------------------


async def test_a_retry_keeps_every_attempt_with_its_own_key_and_reference(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User, economy: Economy
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    pp.fake.set_payout_status(payout.reference, "FAILED", error="RECEIVER_UNREGISTERED")
    await pp.deliver_current(payout)
    assert (await pp.reload(payout)).status is PayoutStatus.FAILED

    retried = await retry_payout(pp.svc, finance, payout.id, "the creator fixed their email")
    await pp.worker().run_once()

    first, second = await _attempts(economy, payout)
    assert (first.number, first.outcome) == (1, AttemptOutcome.FAILED)
    assert first.provider_reference is not None
    assert second.idempotency_key == f"diamonds-payout-{payout.id}-2" == retried.reference
    assert second.provider_reference not in (None, first.provider_reference)
    assert second.outcome is AttemptOutcome.PENDING
    assert len(pp.items_of(payout)) == 2


async def test_a_retry_is_refused_while_the_last_attempt_could_still_pay(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    await failed_by_hand(pp, finance, payout)

    with pytest.raises(DomainError) as refused:
        await retry_payout(pp.svc, finance, payout.id, "try again")
    assert refused.value.code == "EARLIER_ATTEMPT_UNSETTLED"
    assert "still PENDING" in refused.value.message
    with pytest.raises(DomainError) as no_reason:
        await retry_payout(pp.svc, finance, payout.id, "  ")
    assert no_reason.value.code == "INVALID_REASON"

    pp.fake.set_payout_status(payout.reference, "SUCCESS")
    with pytest.raises(DomainError) as paid:
        await retry_payout(pp.svc, finance, payout.id, "try again")
    assert paid.value.code == "EARLIER_ATTEMPT_PAID"
    assert (await pp.reload(payout)).status is PayoutStatus.PAID
    assert len(pp.items_of(payout)) == 1
    await the_money_agrees(pp, creator, payout)


async def test_a_retry_waits_while_the_provider_cannot_confirm_the_last_attempt(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User
) -> None:
    creator = await rich_creator(60_000)
    payout = await submitted(pp, creator)
    unreachable_lookups(pp.fake)
    await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "stuck")

    with pytest.raises(DomainError) as refused:
        await retry_payout(pp.svc, finance, payout.id, "try again")

    assert refused.value.code == "EARLIER_ATTEMPT_UNSETTLED"
    assert "cannot be confirmed" in refused.value.message
    assert len(pp.items_of(payout)) == 1


# PayPal never turns a FAILED item into a payment; a provider that contradicts itself (its own
# word was FAILED, then it paid) is the in-memory bank of payout_fixtures.


async def _failed_then_retried(rig: Rig, creator: User, finance: User) -> Payout:
    payout = (
        await request_payout(
            rig.svc, creator, diamonds=40_000, provider="ledgerbank", currency="USD", key="k"
        )
    ).payout
    await Dispatcher(rig.svc).run_once()
    rig.bank.settled[payout.reference] = PayoutState.FAILED
    await apply_update(rig.svc, rig.bank, _news(payout.reference, "f1", PayoutState.FAILED))
    await retry_payout(rig.svc, finance, payout.id, "the provider said it failed")
    return payout


def _news(reference: str, event: str, state: PayoutState) -> StatusUpdate:
    return StatusUpdate(event_id=event, state=state, occurred_at=utcnow(), payout_id=reference)


async def test_an_earlier_attempt_paid_after_all_is_the_payment_when_the_retry_was_not_sent(
    rig: Rig, rich_creator: MakeCreator, finance: User, economy: Economy
) -> None:
    creator = await rich_creator(60_000)
    payout = await _failed_then_retried(rig, creator, finance)
    first_reference = f"diamonds-payout-{payout.id}"
    rig.bank.settled[first_reference] = PayoutState.PAID

    applied = await apply_update(rig.svc, rig.bank, _news(first_reference, "p1", PayoutState.PAID))
    await Dispatcher(rig.svc).run_once()  # nothing is left to send

    assert applied.outcome == "flagged"
    async with economy.db.read() as conn:
        paid = await load_payout(conn, payout.id)
        first, second = await attempts_of(conn, payout.id)
    assert paid is not None
    assert paid.status is PayoutStatus.PAID
    assert (first.outcome, second.outcome) == (AttemptOutcome.PAID, AttemptOutcome.CANCELED)
    assert rig.bank.payments_to(f"diamonds-payout-{payout.id}-2") == 0
    await ledger_is_clean(economy)


async def test_two_attempts_that_both_paid_are_both_booked_and_flagged(
    rig: Rig, rich_creator: MakeCreator, finance: User, economy: Economy, sql: Any
) -> None:
    creator = await rich_creator(60_000)
    payout = await _failed_then_retried(rig, creator, finance)
    await Dispatcher(rig.svc).run_once()  # attempt 2 goes out
    second_reference = f"diamonds-payout-{payout.id}-2"
    await apply_update(rig.svc, rig.bank, _news(second_reference, "p2", PayoutState.PAID))
    first_reference = f"diamonds-payout-{payout.id}"
    rig.bank.settled[first_reference] = PayoutState.PAID

    late = await apply_update(rig.svc, rig.bank, _news(first_reference, "p1", PayoutState.PAID))

    assert late.outcome == "flagged"
    async with economy.db.read() as conn:
        [flagged] = await list_discrepancies(conn, open_only=True, after_id=None, limit=10)
        owed = await diamonds_owed(conn, creator.id)
    assert flagged.kind is DiscrepancyKind.PAID_TWICE
    assert owed == flagged.owed_diamonds == 20_000
    received = await sql(
        "SELECT SUM(b.balance) FROM ledger_accounts a JOIN ledger_balances b "
        "ON b.account_id = a.id WHERE a.name = 'payouts_received'"
    )
    # The provider paid twice: the books say so.
    assert [int(r[0]) for r in received] == [2 * payout.net_minor]
    await ledger_is_clean(economy)


# -- every order ------------------------------------------------------------------------------

ACTIONS = ("provider pays", "resolve failed", "webhook", "worker", "retry")


async def _act(pp: PayPalRig, finance: User, payout: Payout, action: str) -> None:
    if action == "provider pays":
        pending = [i for i in pp.items_of(payout) if i.status == "PENDING"]
        if pending:
            pp.fake.set_item_status(pending[-1].payout_item_id, "SUCCESS")
    elif action == "webhook":
        await pp.deliver_current(payout)
    elif action == "worker":
        await pp.worker().run_once()
    elif action == "resolve failed":
        with contextlib.suppress(DomainError):
            await resolve_payout(pp.svc, finance, payout.id, PayoutStatus.FAILED, "stuck")
    else:
        with contextlib.suppress(DomainError):
            await retry_payout(pp.svc, finance, payout.id, "try again")


@pytest.mark.parametrize("reachable", [True, False], ids=["lookups-work", "lookups-down"])
async def test_every_order_of_people_worker_webhooks_and_provider_pays_at_most_once(
    pp: PayPalRig, rich_creator: MakeCreator, finance: User, reachable: bool
) -> None:
    """All 120 orders of the five actions, each on a payout of its own: with lookups working,
    and with PayPal's lookups down until the end (so FINANCE's resolution goes by hand)."""
    for n, order in enumerate(itertools.permutations(ACTIONS)):
        creator = await rich_creator(60_000)
        payout = await submitted(pp, creator)
        if not reachable:
            unreachable_lookups(pp.fake)
        for action in order:
            await _act(pp, finance, payout, action)
        _clear_faults(pp.fake)
        for _ in range(2):  # settle: the provider's news reaches us, the worker looks up
            await pp.deliver_current(payout)
            await pp.worker().run_once()
        final = await pp.reload(payout)
        where = f"order {n}: {' -> '.join(order)} ended {final.status.value}"
        assert len(pp.paid_at_provider(payout)) <= 1, where
        assert await pp.minor_paid_by_ledger(creator) == pp.minor_paid_at_provider(payout), where
        assert (final.status is PayoutStatus.PAID) == bool(pp.paid_at_provider(payout)), where
        await pp.ledger_is_clean()


# -- a crash after the provider took it, then the gate blocks -----------------------------


async def test_a_payout_the_provider_took_before_a_crash_is_looked_up_not_put_on_hold(
    pp: PayPalRig, rich_creator: MakeCreator, economy: Economy
) -> None:
    """Found by the simulator (sim/, seed 6): a worker died while PayPal held the request it had
    made; the creator was then blocked by the gate, and the next worker put the payout ON_HOLD.
    PayPal paid it anyway: the payment was booked as unexpected while the hold stayed in place,
    and an approval would have dispatched it again and booked the same payment a second time."""
    creator = await rich_creator(60_000)
    payout = await cash_out(pp, creator, 40_000)
    hang = pp.fake.add_fault(
        Fault(kind=FaultKind.TIMEOUT, method="POST", path="/v1/payments/payouts", seconds=30)
    )
    crashed = asyncio.create_task(pp.worker("w1").run_once())
    for _ in range(1_000):  # until PayPal holds the request (and hangs on its answer)
        if hang.hits and pp.fake.batches:
            break
        await asyncio.sleep(0.01)
    crashed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await crashed
    _clear_faults(pp.fake)
    assert len(pp.items_of(payout)) == 1, "PayPal took the request before the worker died"
    assert (await pp.reload(payout)).status is PayoutStatus.APPROVED

    pp.svc.gate.blocked = [Requirement("SANCTIONS_REVIEW", "under review")]  # type: ignore[attr-defined]
    async with economy.db.write() as conn:  # the dead worker's lease runs out
        await conn.execute(
            update(payouts).where(payouts.c.id == payout.id).values(lease_until=utcnow())
        )
    await pp.worker("w2").run_once()

    sent = await pp.reload(payout)
    assert sent.status is PayoutStatus.SUBMITTED, "PayPal has it: the gate can no longer hold it"
    pp.fake.set_payout_status(sent.reference, "SUCCESS")
    assert await pp.deliver_current(sent) == ["applied"]
    paid = await pp.reload(payout)
    assert paid.status is PayoutStatus.PAID
    assert paid.open_discrepancies == 0
    assert await pp.diamonds(creator) == (20_000, 20_000)
    assert len(pp.items_of(payout)) == 1
    await the_money_agrees(pp, creator, payout)


# -- helpers ---------------------------------------------------------------------------------


def _clear_faults(fake: FakePayPal) -> None:
    fake.faults.clear()


async def _attempts(economy: Economy, payout: Payout) -> list[Any]:
    async with economy.db.read() as conn:
        return await attempts_of(conn, payout.id)


async def _reference(pp: PayPalRig, payout: Payout) -> str:
    return (await pp.reload(payout)).reference


async def test_the_year_end_report_counts_each_payment_the_provider_made(
    rig: Rig, rich_creator: MakeCreator, finance: User, economy: Economy
) -> None:
    from compliance.reporting import service as reporting_service

    creator = await rich_creator(60_000)
    payout = await _failed_then_retried(rig, creator, finance)
    await Dispatcher(rig.svc).run_once()
    await apply_update(
        rig.svc, rig.bank, _news(f"diamonds-payout-{payout.id}-2", "p2", PayoutState.PAID)
    )
    rig.bank.settled[f"diamonds-payout-{payout.id}"] = PayoutState.PAID
    await apply_update(
        rig.svc, rig.bank, _news(f"diamonds-payout-{payout.id}", "p1", PayoutState.PAID)
    )
    async with economy.db.read() as conn:
        payments = await reporting_service.paid_payouts(conn, utcnow().year)
    assert [(p.user_id, p.gross_minor) for p in payments] == [(creator.id, payout.gross_minor)] * 2


async def test_a_payment_for_an_attempt_we_never_sent_is_still_booked_and_flagged(
    rig: Rig, rich_creator: MakeCreator, economy: Economy
) -> None:
    creator = await rich_creator(60_000)
    payout = (
        await request_payout(
            rig.svc, creator, diamonds=40_000, provider="ledgerbank", currency="USD", key="k"
        )
    ).payout
    rig.gate.blocked = [Requirement("SANCTIONS_REVIEW", "a possible match")]
    await Dispatcher(rig.svc).run_once()  # held before dispatch: nothing sent

    applied = await apply_update(rig.svc, rig.bank, _news(payout.reference, "p", PayoutState.PAID))

    assert applied.outcome == "flagged"
    async with economy.db.read() as conn:
        held = await load_payout(conn, payout.id)
        [flagged] = await discrepancies_of(conn, payout.id)
    assert held is not None
    assert held.status is PayoutStatus.ON_HOLD
    assert flagged.kind is DiscrepancyKind.PAID_UNEXPECTEDLY
    assert flagged.owed_diamonds == 20_000  # 40,000 held, 20,000 available, 40,000 paid
    await ledger_is_clean(economy)
