"""Reconciling a day of Stripe payouts end to end: the pipeline pays creators through the fake
Stripe server over real HTTP, the fake is told to disagree, and the run puts every payout in its
class, adds the totals up, books money that moved against our records as a discrepancy, and a
re-run changes nothing. On both databases."""

from __future__ import annotations

from typing import Any

import pytest
from diamonds_fakes.disagreements import Disagreement, DisagreementKind
from diamonds_fakes.paypal_server import FakePayPal

from economy.app import Economy
from kernel.clock import utc_today
from kernel.errors import DomainError
from payouts.discrepancies import DiscrepancyKind, discrepancies_of
from payouts.reconciliation.matching import MatchClass
from payouts.reconciliation.review import resolve_exception
from payouts.reconciliation.run import Period, reconcile_period
from payouts.reconciliation.store import Item, items_page, run_for, totals_of
from payouts.requests import request_payout
from payouts.states import PayoutStatus

from .payout_fixtures import ledger_is_clean
from .paypal_rig import PayPalRig
from .stripe_rig import Pay, StripeRig


def today() -> Period:
    return Period.day(utc_today())


async def lines(eco: Economy, run_id: int) -> dict[int | None, Item]:
    async with eco.db.read() as conn:
        found = await items_page(
            conn, run_id, exceptions_only=False, open_only=False, after_id=None, limit=1_000
        )
    return {item.payout_id if item.payout_id else -item.id: item for item in found}


async def test_a_clean_day_matches_every_payout_and_reports_no_exception(
    stripe_rig: StripeRig, pay: Pay
) -> None:
    paid = [await pay() for _ in range(3)]
    assert all(p.status is PayoutStatus.PAID for p in paid)
    run = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="test")
    assert run is not None
    assert (run.our_count, run.their_count, run.exception_count) == (3, 3, 0)
    found = await lines(stripe_rig.eco, run.id)
    assert {found[p.id].klass for p in paid} == {MatchClass.MATCHED}
    async with stripe_rig.eco.db.read() as conn:
        (total,) = await totals_of(conn, run.id)
    assert (total.klass, total.count) == (MatchClass.MATCHED, 3)
    assert total.our_minor == total.their_minor == sum(p.net_minor for p in paid)


async def test_every_kind_of_disagreement_lands_in_its_class_and_a_rerun_changes_nothing(
    stripe_rig: StripeRig, pay: Pay
) -> None:
    kept, changed, dropped, restated, waiting = (
        await pay(),
        await pay(),
        await pay(),
        await pay(),
        await pay(settle=None),
    )
    fake = stripe_rig.fake
    fake.add_disagreement(Disagreement(DisagreementKind.AMOUNT, changed.reference, amount=1))
    fake.add_disagreement(Disagreement(DisagreementKind.DROP, dropped.reference))
    fake.add_disagreement(
        Disagreement(DisagreementKind.STATUS, restated.reference, status="failed")
    )
    fake.add_disagreement(
        Disagreement(DisagreementKind.EXTRA, stripe_rig.svc.gate.account, amount=777)  # type: ignore[attr-defined]
    )

    run = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="test")
    assert run is not None
    found = await lines(stripe_rig.eco, run.id)
    assert found[kept.id].klass is MatchClass.MATCHED
    assert found[changed.id].klass is MatchClass.AMOUNT_MISMATCH
    assert found[dropped.id].klass is MatchClass.MISSING_AT_PROVIDER
    assert found[restated.id].klass is MatchClass.STATUS_MISMATCH
    assert found[waiting.id].klass is MatchClass.PENDING
    (stray,) = [item for key, item in found.items() if key is not None and key < 0]
    assert stray.klass is MatchClass.UNKNOWN_AT_PROVIDER
    assert stray.their_minor == 777
    assert run.our_count == 5
    assert run.exception_count == 4
    async with stripe_rig.eco.db.read() as conn:
        totals = await totals_of(conn, run.id)
    assert sum(t.count for t in totals) == 6
    assert sum(t.our_minor for t in totals) == sum(
        p.net_minor for p in (kept, changed, dropped, restated, waiting)
    )
    assert sum(t.their_minor for t in totals) == sum(
        item.their_minor or 0 for item in found.values()
    )

    # Money that moved against our records opened discrepancies on those payouts, once.
    async with stripe_rig.eco.db.read() as conn:
        on_changed = await discrepancies_of(conn, changed.id)
        on_restated = await discrepancies_of(conn, restated.id)
    assert [d.kind for d in on_changed] == [DiscrepancyKind.AMOUNT_MISMATCH]
    assert len(on_restated) == 1
    assert found[restated.id].discrepancy_id == on_restated[0].id

    again = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="test")
    assert again is not None
    assert again.id == run.id
    assert again.runs == 2
    rerun = await lines(stripe_rig.eco, run.id)
    assert {k: (i.klass, i.their_minor) for k, i in rerun.items() if k and k > 0} == {
        k: (i.klass, i.their_minor) for k, i in found.items() if k and k > 0
    }
    assert again.exception_count == run.exception_count
    async with stripe_rig.eco.db.read() as conn:
        assert len(await discrepancies_of(conn, changed.id)) == 1
        assert len(await discrepancies_of(conn, restated.id)) == 1
    await ledger_is_clean(stripe_rig.eco)


async def test_paid_at_the_provider_while_failed_with_us_is_booked_and_flagged(
    stripe_rig: StripeRig, pay: Pay
) -> None:
    failed = await pay(settle="failed")
    assert failed.status is PayoutStatus.FAILED
    stripe_rig.fake.add_disagreement(
        Disagreement(DisagreementKind.STATUS, failed.reference, status="paid")
    )
    run = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="test")
    assert run is not None
    found = await lines(stripe_rig.eco, run.id)
    assert found[failed.id].klass is MatchClass.STATUS_MISMATCH
    now = await stripe_rig.reload(failed)
    assert now.status is PayoutStatus.PAID
    assert now.open_discrepancies == 1
    await ledger_is_clean(stripe_rig.eco)


async def test_finance_resolves_an_exception_once_and_a_rerun_keeps_it(
    stripe_rig: StripeRig, pay: Pay, economy: Economy
) -> None:
    dropped = await pay()
    stripe_rig.fake.add_disagreement(Disagreement(DisagreementKind.DROP, dropped.reference))
    run = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="test")
    assert run is not None
    line = (await lines(economy, run.id))[dropped.id]
    finance = await economy.users.ensure("finance:fay")
    done = await resolve_exception(stripe_rig.svc, finance, line.id, "bank confirmed it")
    assert (done.resolved_by, done.note) == ("finance:fay", "bank confirmed it")
    with pytest.raises(DomainError) as twice:
        await resolve_exception(stripe_rig.svc, finance, line.id, "again")
    assert twice.value.code == "ALREADY_RESOLVED"
    again = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="test")
    assert again is not None
    assert again.open_exception_count == 0
    kept = (await lines(economy, run.id))[dropped.id]
    assert (kept.resolved_by, kept.note) == ("finance:fay", "bank confirmed it")


async def test_a_period_already_run_is_not_run_again_by_the_daily_job(
    stripe_rig: StripeRig, pay: Pay
) -> None:
    await pay()
    first = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="daily", rerun=False)
    second = await reconcile_period(stripe_rig.svc, "stripe", today(), actor="daily", rerun=False)
    assert first is not None
    assert second is None
    async with stripe_rig.eco.db.read() as conn:
        stored = await run_for(conn, "stripe", today().start, today().end)
    assert stored is not None
    assert stored.runs == 1


async def test_a_provider_that_cannot_list_its_records_is_refused(stripe_rig: StripeRig) -> None:
    with pytest.raises(DomainError) as refused:
        await reconcile_period(stripe_rig.svc, "nope", today(), actor="test")
    assert refused.value.code == "UNKNOWN_PROVIDER"


async def test_a_paypal_day_matches_and_a_dropped_item_is_missing(
    economy: Economy, rich_creator: Any
) -> None:
    async with FakePayPal() as fake:
        pp = PayPalRig.build(economy, fake)
        try:
            paid = []
            for n in range(3):
                creator = await rich_creator(4_000)
                requested = await request_payout(
                    pp.svc, creator, diamonds=4_000, provider="paypal", currency="USD", key=f"p{n}"
                )
                await pp.worker().run_once()
                fake.set_payout_status(requested.payout.reference, "SUCCESS")
                await pp.worker().poll_pending()
                paid.append(await pp.reload(requested.payout))
            assert {p.status for p in paid} == {PayoutStatus.PAID}
            fake.add_disagreement(Disagreement(DisagreementKind.DROP, paid[1].reference))
            fake.add_disagreement(
                Disagreement(DisagreementKind.AMOUNT, paid[2].reference, amount=5)
            )
            run = await reconcile_period(pp.svc, "paypal", today(), actor="test")
            assert run is not None
            found = await lines(economy, run.id)
            assert [found[p.id].klass for p in paid] == [
                MatchClass.MATCHED,
                MatchClass.MISSING_AT_PROVIDER,
                MatchClass.AMOUNT_MISMATCH,
            ]
            assert run.exception_count == 2
        finally:
            await pp.paypal.close()
