"""The reconciliation's rules without a database: every one of our attempts and every stray
record of the provider's lands in exactly one class, and the totals add up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payouts.attempts import AttemptOutcome
from payouts.reconciliation.matching import (
    MatchClass,
    OurAttempt,
    reconcile,
)
from providers.base import PayoutState
from providers.records import ProviderRecord

DAY = (datetime(2026, 12, 6, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC))
NOW = datetime(2026, 12, 7, 4, tzinfo=UTC)
WINDOW = timedelta(hours=72)


def ours(
    n: int,
    outcome: AttemptOutcome = AttemptOutcome.PAID,
    *,
    amount: int = 1_000,
    sent: datetime = DAY[0] + timedelta(hours=1),
) -> OurAttempt:
    return OurAttempt(
        payout_id=n,
        attempt_number=1,
        reference=f"diamonds-payout-{n}",
        provider_reference=f"tr_{n}",
        amount_minor=amount,
        currency="USD",
        outcome=outcome,
        sent_at=sent,
        user_id=7,
    )


def theirs(
    n: int,
    state: PayoutState = PayoutState.PAID,
    *,
    amount: int = 1_000,
    currency: str = "USD",
    at: datetime = DAY[0] + timedelta(hours=1),
    echoed: bool = True,
) -> ProviderRecord:
    return ProviderRecord(
        provider="stripe",
        provider_reference=f"tr_{n}",
        payout_id=f"diamonds-payout-{n}" if echoed else None,
        amount_minor=amount,
        currency=currency,
        state=state,
        raw_status=state.value.lower(),
        occurred_at=at,
        fee_minor=25,
    )


def classes(outcome_matches: list[object]) -> list[str]:
    return [m.klass.value for m in outcome_matches]  # type: ignore[attr-defined]


def run(our: list[OurAttempt], their: list[ProviderRecord], known: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    return reconcile(our, their, now=NOW, window=WINDOW, period=DAY, known_references=known)


def test_the_same_payout_on_both_sides_is_matched_by_our_echoed_reference() -> None:
    found = run([ours(1)], [theirs(1)])
    assert classes(found.matches) == ["MATCHED"]


def test_without_an_echo_the_providers_own_reference_matches() -> None:
    found = run([ours(1)], [theirs(1, echoed=False)])
    assert classes(found.matches) == ["MATCHED"]


def test_a_different_amount_or_currency_is_an_amount_mismatch() -> None:
    found = run([ours(1), ours(2)], [theirs(1, amount=990), theirs(2, currency="EUR")])
    assert classes(found.matches) == ["AMOUNT_MISMATCH", "AMOUNT_MISMATCH"]
    assert "990 USD" in found.matches[0].reason


def test_paid_there_and_failed_here_is_a_status_mismatch_where_money_moved() -> None:
    found = run([ours(1, AttemptOutcome.FAILED)], [theirs(1, PayoutState.PAID)])
    (match,) = found.matches
    assert match.klass is MatchClass.STATUS_MISMATCH
    assert match.money_moved_against_us


def test_paid_here_and_returned_there_is_money_that_came_back() -> None:
    (match,) = run([ours(1)], [theirs(1, PayoutState.RETURNED)]).matches
    assert match.klass is MatchClass.STATUS_MISMATCH
    assert match.money_moved_against_us


def test_failed_here_and_canceled_there_moved_no_money() -> None:
    (match,) = run([ours(1, AttemptOutcome.FAILED)], [theirs(1, PayoutState.CANCELED)]).matches
    assert match.klass is MatchClass.STATUS_MISMATCH
    assert not match.money_moved_against_us


def test_not_final_within_the_window_is_pending_and_past_it_a_status_mismatch() -> None:
    early = run([ours(1, AttemptOutcome.PENDING)], [theirs(1, PayoutState.PENDING)])
    assert classes(early.matches) == ["PENDING"]
    late = reconcile(
        [ours(1, AttemptOutcome.PENDING)],
        [theirs(1, PayoutState.PENDING)],
        now=NOW + WINDOW,
        window=WINDOW,
        period=DAY,
    )
    assert classes(late.matches) == ["STATUS_MISMATCH"]


def test_ours_without_their_record_is_missing_unless_it_may_still_arrive() -> None:
    found = run([ours(1), ours(2, AttemptOutcome.UNKNOWN)], [])
    assert classes(found.matches) == ["MISSING_AT_PROVIDER", "PENDING"]


def test_money_the_provider_moved_under_no_reference_of_ours_is_unknown() -> None:
    found = run([], [theirs(9)])
    assert classes(found.matches) == ["UNKNOWN_AT_PROVIDER"]
    assert found.matches[0].key == "provider:tr_9"


def test_a_record_of_another_period_or_of_a_payout_we_know_is_not_unknown() -> None:
    outside = theirs(8, at=DAY[1] + timedelta(hours=2))
    found = run([], [outside, theirs(9)], known=frozenset({"tr_9"}))
    assert found.matches == []


def test_every_payout_and_every_stray_record_lands_in_one_class_and_totals_add_up() -> None:
    our = [
        ours(1),
        ours(2),
        ours(3, AttemptOutcome.FAILED),
        ours(4),
        ours(5, AttemptOutcome.PENDING),
    ]
    their = [theirs(1), theirs(2, amount=1), theirs(3), theirs(5, PayoutState.PENDING), theirs(6)]
    found = run(our, their)
    assert len([m for m in found.matches if m.ours]) == len(our)
    assert sum(t.count for t in found.totals().values()) == len(found.matches)
    assert sum(t.our_minor for t in found.totals().values()) == sum(o.amount_minor for o in our)
    assert sorted(classes(found.matches)) == sorted(
        [
            "MATCHED",
            "AMOUNT_MISMATCH",
            "STATUS_MISMATCH",
            "MISSING_AT_PROVIDER",
            "PENDING",
            "UNKNOWN_AT_PROVIDER",
        ]
    )
