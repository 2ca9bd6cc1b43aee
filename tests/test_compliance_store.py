"""Compliance on a real database (SQLite and PostgreSQL): TINs and account numbers encrypted at
rest and revealed only with an audit entry, key rotation, manual identity reviews and their
transitions, payout methods, sanctions lists with hits cleared, confirmed and re-screened, the
gate and the payee it gives the pipeline, the coin purchase age gate, the append-only audit log,
and the year-end report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

from compliance.gate import service as gate_service
from compliance.gate.rules import SanctionsState
from compliance.identity import service as identity_service
from compliance.identity import store as identity_store
from compliance.identity.rules import IdentityStatus
from compliance.identity.service import ReviewDecision
from compliance.methods import service as methods_service
from compliance.methods.rules import PayoutMethodStatus
from compliance.reporting import service as reporting_service
from compliance.reporting.rules import to_csv
from compliance.sanctions import service as sanctions_service
from compliance.sanctions import store as sanctions_store
from compliance.sanctions.rules import load_list
from compliance.tax import service as tax_service
from compliance.tax.rules import TaxFormKind
from compliance.tax.tin import TinType
from economy.app import Economy
from economy.users import User
from kernel.audit import audit_log
from kernel.clock import utc_today
from kernel.errors import DomainError
from kernel.tables import metadata
from providers.base import Payee
from settings.service import Settings

from .compliance_fixtures import (
    DATA,
    METHODS,
    VALID_SSN,
    add_method,
    compliance_of,
    fresh_compliance_tables,  # noqa: F401  (autouse)
    load_sample_sanctions,
    make_payout_ready,
)

S = IdentityStatus
TODAY = utc_today()
ADULT = date(1990, 5, 17)
MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
async def finance(economy: Economy) -> User:
    return await economy.users.ensure("finance:fay")


async def eligibility(eco: Economy, user: User, provider: str = "paypal", **changes: Any) -> Any:
    settings = replace(eco.settings, compliance=replace(eco.settings.compliance, **changes))
    async with eco.db.read() as conn:
        return await gate_service.check_payout(
            conn,
            user_id=user.id,
            provider=provider,
            currency="USD",
            amount_minor=10_000,
            today=TODAY,
            settings=settings,
        )


def codes(found: Any) -> list[str]:
    return [r.code for r in found.requirements]


async def audit_entries(eco: Economy, action: str) -> list[Any]:
    async with eco.db.read() as conn:
        rows = await conn.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
        )
        return list(rows)


async def everything_stored(eco: Economy) -> str:
    """Every value of every table, as text: what someone with the raw database would see."""
    dump: list[str] = []
    async with eco.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                dump.append(repr(tuple(row)))
    return "\n".join(dump)


# --- tax forms and encryption at rest ----------------------------------------------------------


async def test_the_raw_database_never_holds_a_tin_or_account_number_in_clear(
    economy: Economy, make_user: MakeUser
) -> None:
    creator = await make_user()
    stored = await tax_service.submit_tax_form(
        compliance_of(economy),
        creator,
        kind=TaxFormKind.W9,
        legal_name="Jane Doe",
        country="US",
        tin_type=TinType.SSN,
        tin=VALID_SSN,
        certified=True,
        today=TODAY,
    )
    assert (stored.form.tin_kind, stored.form.tin_last4) == ("US_SSN", "4399")
    await add_method(economy, creator, "sepa")
    await add_method(economy, creator, "ach")
    raw = await everything_stored(economy)
    for secret in ("536904399", "536-90-4399", "DE89370400440532013000", "000123456789"):
        assert secret not in raw
    assert "4399" in raw  # the last four are kept readable


async def test_a_full_tin_is_revealed_only_with_a_reason_and_an_audit_entry(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    await tax_service.submit_tax_form(
        compliance_of(economy),
        creator,
        kind=TaxFormKind.W9,
        legal_name="Jane Doe",
        country="US",
        tin_type=TinType.EIN,
        tin="04-2103594",
        certified=True,
        today=TODAY,
    )
    with pytest.raises(DomainError) as no_reason:
        await tax_service.reveal_tin(
            compliance_of(economy), finance, user_id=creator.id, reason="  "
        )
    assert no_reason.value.code == "INVALID_NOTE"
    assert await audit_entries(economy, "COMPLIANCE_TIN_DECRYPTED") == []
    revealed = await tax_service.reveal_tin(
        compliance_of(economy), finance, user_id=creator.id, reason="1099 filing 2026"
    )
    assert (revealed.kind, revealed.value) == ("US_EIN", "042103594")
    assert "042103594" not in repr(revealed)
    [entry] = await audit_entries(economy, "COMPLIANCE_TIN_DECRYPTED")
    assert (entry.actor_subject, entry.target) == ("finance:fay", f"user:{creator.id}")
    assert entry.details["reason"] == "1099 filing 2026"
    assert "042103594" not in repr(entry.details)
    with pytest.raises(DomainError) as nothing:
        await tax_service.reveal_tin(
            compliance_of(economy), finance, user_id=finance.id, reason="curious"
        )
    assert nothing.value.code == "NO_TAX_FORM"


async def test_a_new_form_supersedes_the_last_and_bad_forms_write_nothing(
    economy: Economy, make_user: MakeUser, row_counts: Callable[..., Awaitable[dict[str, int]]]
) -> None:
    creator = await make_user()
    before = await row_counts("compliance_tax_forms", "audit_log")
    for bad in ("078-05-1120", "536-90-439"):
        with pytest.raises(DomainError) as refused:
            await tax_service.submit_tax_form(
                compliance_of(economy),
                creator,
                kind=TaxFormKind.W9,
                legal_name="Jane",
                country="US",
                tin_type=TinType.SSN,
                tin=bad,
                certified=True,
                today=TODAY,
            )
        assert refused.value.code == "INVALID_TIN"
    assert await row_counts("compliance_tax_forms", "audit_log") == before
    await tax_service.submit_tax_form(
        compliance_of(economy),
        creator,
        kind=TaxFormKind.W8BEN,
        legal_name="Erika Muster",
        country="DE",
        tin_type=TinType.FOREIGN,
        tin="36 574 261 809",
        certified=True,
        today=TODAY,
    )
    await tax_service.submit_tax_form(
        compliance_of(economy),
        creator,
        kind=TaxFormKind.W9,
        legal_name="Erika Muster",
        country="US",
        tin_type=TinType.SSN,
        tin=VALID_SSN,
        certified=True,
        today=TODAY,
    )
    async with economy.db.read() as conn:
        current = await tax_service.tax_store.current(conn, creator.id)
    assert current is not None
    assert current.form.kind is TaxFormKind.W9
    assert (await row_counts("compliance_tax_forms"))["compliance_tax_forms"] == 2
    entries = await audit_entries(economy, "COMPLIANCE_TAX_FORM_SUBMITTED")
    assert [e.details["kind"] for e in entries] == ["W8BEN", "W9"]
    assert entries[0].details["expires_on"] == date(TODAY.year + 3, 12, 31).isoformat()


async def test_rotating_keys_re_encrypts_everything_under_the_newest_key(
    economy: Economy,
    make_user: MakeUser,
    finance: User,
    start_economy: Callable[..., Awaitable[Economy]],
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    async def economy_with(*keys: str) -> Economy:
        return await start_economy(compliance=replace(economy.settings.compliance, tin_keys=keys))

    before = await economy_with(old_key)
    creator = await make_user()
    await make_payout_ready(
        before, creator, provider="sepa", country="DE", legal_name="Erika Muster"
    )
    both = await economy_with(new_key, old_key)
    done = await tax_service.rotate_keys(compliance_of(both), actor="test:rotation")
    assert (done.tax_forms, done.payout_methods) == (1, 1)
    again = await tax_service.rotate_keys(compliance_of(both), actor="test:rotation")
    assert (again.tax_forms, again.payout_methods) == (0, 0)
    only_new = await economy_with(new_key)
    revealed = await tax_service.reveal_tin(
        compliance_of(only_new), finance, user_id=creator.id, reason="check"
    )
    assert revealed.value == "36574261809"
    async with only_new.db.read() as conn:
        payee = await gate_service.payee_for(
            conn, user_id=creator.id, provider="sepa", settings=only_new.settings
        )
    assert payee is not None
    assert payee.iban == "DE89370400440532013000"
    rotations = await audit_entries(economy, "COMPLIANCE_KEYS_ROTATED")
    assert [(e.details["tax_forms"], e.details["payout_methods"]) for e in rotations] == [
        (1, 1),
        (0, 0),
    ]


# --- identity --------------------------------------------------------------------------------


async def test_a_manual_verification_is_approved_by_finance_and_every_step_is_audited(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    pending = await identity_service.start_manual(
        compliance_of(economy),
        creator,
        legal_name="Jane Doe",
        birth_date=ADULT,
        country="us",
        today=TODAY,
    )
    assert (pending.identity.status, pending.identity.country) == (S.PENDING, "US")
    assert not pending.identity.birth_date_verified
    async with economy.db.read() as conn:
        queue = await identity_store.review_queue(conn, after=None, limit=10)
    assert [r.user_id for r in queue] == [creator.id]
    approved = await identity_service.review(
        compliance_of(economy),
        finance,
        user_id=creator.id,
        decision=ReviewDecision.APPROVE,
        note="passport matches",
        today=TODAY,
        document_expires_on=TODAY + timedelta(days=30),
    )
    ident = approved.identity
    assert (ident.status, ident.birth_date_verified, ident.expires_on) == (
        S.VERIFIED,
        True,
        TODAY + timedelta(days=30),
    )
    assert (approved.decided_by, approved.note) == ("finance:fay", "passport matches")
    moves = [
        (e.actor_subject, e.details["from"], e.details["to"])
        for e in await audit_entries(economy, "COMPLIANCE_IDENTITY_STARTED")
        + await audit_entries(economy, "COMPLIANCE_IDENTITY_REVIEWED")
    ]
    assert moves == [
        (creator.subject, "NOT_STARTED", "PENDING"),
        ("finance:fay", "PENDING", "VERIFIED"),
    ]


async def test_nobody_reviews_their_own_identity(economy: Economy, finance: User) -> None:
    await identity_service.start_manual(
        compliance_of(economy),
        finance,
        legal_name="Fay Finance",
        birth_date=ADULT,
        country="US",
        today=TODAY,
    )
    with pytest.raises(DomainError) as refused:
        await identity_service.review(
            compliance_of(economy),
            finance,
            user_id=finance.id,
            decision=ReviewDecision.APPROVE,
            note="it is me",
            today=TODAY,
        )
    assert refused.value.code == "SELF_REVIEW"
    async with economy.db.read() as conn:
        assert (await identity_store.load(conn, finance.id)).identity.status is S.PENDING


async def test_requests_for_input_rejections_and_revocations_move_the_status(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()

    async def start() -> S:
        record = await identity_service.start_manual(
            compliance_of(economy),
            creator,
            legal_name="Jane Doe",
            birth_date=ADULT,
            country="US",
            today=TODAY,
        )
        return record.identity.status

    async def decide(decision: ReviewDecision, note: str = "see note") -> S:
        record = await identity_service.review(
            compliance_of(economy),
            finance,
            user_id=creator.id,
            decision=decision,
            note=note,
            today=TODAY,
        )
        return record.identity.status

    assert await start() is S.PENDING
    with pytest.raises(DomainError) as twice:
        await start()
    assert twice.value.code == "VERIFICATION_IN_PROGRESS"
    assert await decide(ReviewDecision.REQUEST_INPUT, "photo is blurry") is S.REQUIRES_INPUT
    found = await eligibility(economy, creator)
    assert "photo is blurry" in found.requirements[0].message
    assert await start() is S.PENDING
    assert await decide(ReviewDecision.APPROVE) is S.VERIFIED
    with pytest.raises(DomainError) as verified:
        await start()
    assert verified.value.code == "ALREADY_VERIFIED"
    with pytest.raises(DomainError) as not_pending:
        await decide(ReviewDecision.APPROVE)
    assert not_pending.value.code == "NOT_PENDING"
    assert await decide(ReviewDecision.REVOKE, "forged document") is S.REJECTED
    with pytest.raises(DomainError) as rejected:
        await start()
    assert rejected.value.code == "VERIFICATION_REJECTED"


async def test_verifications_expire_after_the_configured_validity(
    economy: Economy,
    make_user: MakeUser,
    finance: User,
    start_economy: Callable[..., Awaitable[Economy]],
) -> None:
    short = await start_economy(
        compliance=replace(economy.settings.compliance, identity_valid_days=10)
    )
    creator = await make_user()
    await identity_service.start_manual(
        compliance_of(short),
        creator,
        legal_name="Jane",
        birth_date=ADULT,
        country="US",
        today=TODAY,
    )
    record = await identity_service.review(
        compliance_of(short),
        finance,
        user_id=creator.id,
        decision=ReviewDecision.APPROVE,
        note="ok",
        today=TODAY,
    )
    assert record.identity.expires_on == TODAY + timedelta(days=10)
    assert (
        await identity_service.expire_verifications(
            compliance_of(short), TODAY + timedelta(days=10)
        )
        == []
    )
    assert await identity_service.expire_verifications(
        compliance_of(short), TODAY + timedelta(days=11)
    ) == [creator.id]
    async with short.db.read() as conn:
        assert (await identity_store.load(conn, creator.id)).identity.status is S.EXPIRED


async def test_bad_identity_input_is_refused_with_its_field(
    economy: Economy, make_user: MakeUser
) -> None:
    creator = await make_user()
    cases = [
        ({"legal_name": " ", "birth_date": ADULT, "country": "US"}, "INVALID_LEGAL_NAME"),
        ({"legal_name": "J", "birth_date": TODAY, "country": "US"}, "INVALID_BIRTH_DATE"),
        ({"legal_name": "J", "birth_date": ADULT, "country": "XX"}, "INVALID_COUNTRY"),
        ({"legal_name": "J", "birth_date": ADULT, "country": "USA"}, "INVALID_COUNTRY"),
    ]
    for values, code in cases:
        with pytest.raises(DomainError) as refused:
            await identity_service.start_manual(
                compliance_of(economy), creator, today=TODAY, **values
            )
        assert refused.value.code == code
    async with economy.db.read() as conn:
        assert (await identity_store.load(conn, creator.id)).identity.status is S.NOT_STARTED


# --- the gate and the payee --------------------------------------------------------------------


async def test_a_fully_compliant_creator_is_eligible_and_gets_a_payee_for_each_provider(
    economy: Economy, make_user: MakeUser
) -> None:
    expected = {
        "paypal": Payee("Jane Quincy Doe", "US", {"email": "creator@example.com"}),
        "stripe": Payee("Jane Quincy Doe", "US", {"account_id": "acct_1Nv0FGQ9RKHgCVdK"}),
        "sepa": Payee(
            "Erika Mustermann",
            "DE",
            {**METHODS["sepa"], "bic": "COBADEFFXXX"},
        ),
        "ach": Payee("Jane Doe", "US", METHODS["ach"]),
    }
    for provider, payee in expected.items():
        creator = await make_user()
        await make_payout_ready(economy, creator, provider=provider, country=payee.country)
        found = await eligibility(economy, creator, provider)
        assert (found.eligible, found.requirements, found.withholding_bps) == (True, (), 0)
        async with economy.db.read() as conn:
            assert (
                await gate_service.payee_for(
                    conn, user_id=creator.id, provider=provider, settings=economy.settings
                )
                == payee
            )
            other = "ach" if provider != "ach" else "paypal"
            assert (
                await gate_service.payee_for(
                    conn, user_id=creator.id, provider=other, settings=economy.settings
                )
                is None
            )
        assert codes(
            await eligibility(economy, creator, "ach" if provider != "ach" else "paypal")
        ) == ["PAYOUT_METHOD_UNVERIFIED"]


async def test_a_creator_who_did_nothing_misses_every_requirement(
    economy: Economy, make_user: MakeUser
) -> None:
    creator = await make_user()
    found = await eligibility(economy, creator)
    assert codes(found) == [
        "IDENTITY_UNVERIFIED",
        "AGE_UNVERIFIED",
        "COUNTRY_NOT_SUPPORTED",
        "TAX_FORM_MISSING",
        "SANCTIONS_REVIEW",
        "PAYOUT_METHOD_UNVERIFIED",
    ]


async def test_an_underage_creator_is_blocked_by_the_verified_birth_date(
    economy: Economy, make_user: MakeUser
) -> None:
    creator = await make_user()
    seventeen = date(TODAY.year - 17, 1, 1)
    await make_payout_ready(economy, creator, birth_date=seventeen)
    assert codes(await eligibility(economy, creator)) == ["AGE_UNVERIFIED"]
    korea = await make_user()
    nineteen = date(TODAY.year - 19, 1, 1) - timedelta(days=1)
    await make_payout_ready(economy, korea, country="KR", birth_date=nineteen, legal_name="Kim Min")
    assert (await eligibility(economy, korea)).eligible
    assert codes(await eligibility(economy, korea, age_of_majority_by_country={"KR": 20})) == [
        "AGE_UNVERIFIED"
    ]


async def test_payout_methods_wait_for_finance_and_a_reviewer_cannot_verify_their_own(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    await make_payout_ready(economy, creator, provider="paypal")
    newer = await add_method(economy, creator, "paypal", {"email": "new@example.com"})
    assert newer.status is PayoutMethodStatus.PENDING
    assert codes(await eligibility(economy, creator)) == ["PAYOUT_METHOD_UNVERIFIED"]
    own = await add_method(economy, finance, "paypal", {"email": "f@x.io"})
    with pytest.raises(DomainError) as self_review:
        await methods_service.review_payout_method(
            compliance_of(economy), finance, method_id=own.id, verify=True, note="mine"
        )
    assert self_review.value.code == "SELF_REVIEW"
    rejected = await methods_service.review_payout_method(
        compliance_of(economy), finance, method_id=newer.id, verify=False, note="name mismatch"
    )
    assert rejected.status is PayoutMethodStatus.REJECTED
    found = await eligibility(economy, creator)
    assert "rejected" in found.requirements[0].message
    with pytest.raises(DomainError) as decided:
        await methods_service.review_payout_method(
            compliance_of(economy), finance, method_id=newer.id, verify=True, note="changed my mind"
        )
    assert decided.value.code == "NOT_PENDING"


async def test_with_backup_withholding_configured_a_missing_form_withholds_instead(
    economy: Economy, make_user: MakeUser
) -> None:
    creator = await make_user()
    await make_payout_ready(economy, creator)
    async with economy.db.write() as conn:
        await conn.execute(
            text("UPDATE compliance_tax_forms SET superseded_at = CURRENT_TIMESTAMP")
        )
    assert codes(await eligibility(economy, creator)) == ["TAX_FORM_MISSING"]
    found = await eligibility(economy, creator, tax_form_missing="WITHHOLD")
    assert (found.eligible, found.withholding_bps) == (True, 2_400)


async def test_the_gate_answers_anew_each_time_it_is_asked(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    await make_payout_ready(economy, creator)
    assert (await eligibility(economy, creator)).eligible  # at request time
    await identity_service.review(
        compliance_of(economy),
        finance,
        user_id=creator.id,
        decision=ReviewDecision.REVOKE,
        note="identity theft report",
        today=TODAY,
    )
    assert codes(await eligibility(economy, creator)) == ["IDENTITY_UNVERIFIED", "AGE_UNVERIFIED"]


async def test_buying_coins_needs_a_declared_or_verified_adult_birth_date(
    economy: Economy, make_user: MakeUser
) -> None:
    viewer = await make_user()

    async def may_buy() -> bool:
        async with economy.db.read() as conn:
            found = await gate_service.check_coin_purchase(
                conn, user_id=viewer.id, today=TODAY, settings=economy.settings
            )
        return found.eligible

    assert not await may_buy()
    await identity_service.declare_birth_date(
        compliance_of(economy),
        viewer,
        birth_date=date(TODAY.year - 16, 6, 1),
        country="US",
        today=TODAY,
    )
    assert not await may_buy()
    await identity_service.declare_birth_date(
        compliance_of(economy), viewer, birth_date=ADULT, country="US", today=TODAY
    )
    assert await may_buy()
    assert codes(await eligibility(economy, viewer))[:2] == [
        "IDENTITY_UNVERIFIED",
        "AGE_UNVERIFIED",
    ]


# --- sanctions -------------------------------------------------------------------------------


async def test_a_possible_match_holds_payouts_until_finance_clears_it(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    await make_payout_ready(economy, creator, legal_name="Anvar Karimov", country="UZ")
    found = await eligibility(economy, creator)
    assert codes(found) == ["SANCTIONS_REVIEW"]
    async with economy.db.read() as conn:
        [hit] = await sanctions_store.hits(conn, status="OPEN", after=None, limit=10)
    assert (hit.user_id, hit.entry_uid, hit.score, hit.country_match) == (
        creator.id,
        9101,
        100,
        True,
    )
    with pytest.raises(DomainError) as no_note:
        await sanctions_service.decide_hit(
            compliance_of(economy), finance, hit_id=hit.id, confirm=False, note=""
        )
    assert no_note.value.code == "INVALID_NOTE"
    cleared = await sanctions_service.decide_hit(
        compliance_of(economy),
        finance,
        hit_id=hit.id,
        confirm=False,
        note="different date of birth",
    )
    assert (cleared.status, cleared.decided_by) == ("CLEARED", "finance:fay")
    assert (await eligibility(economy, creator)).eligible
    with pytest.raises(DomainError) as twice:
        await sanctions_service.decide_hit(
            compliance_of(economy), finance, hit_id=hit.id, confirm=True, note="oops"
        )
    assert twice.value.code == "HIT_NOT_OPEN"
    [entry] = await audit_entries(economy, "COMPLIANCE_SANCTIONS_HIT_DECIDED")
    assert entry.details == {
        "hit_id": hit.id,
        "entry": 9101,
        "decision": "CLEARED",
        "note": "different date of birth",
    }


async def test_a_confirmed_match_keeps_payouts_blocked_and_nobody_decides_their_own(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    await make_payout_ready(economy, creator, legal_name="Yelena Volkova", country="RU")
    async with economy.db.read() as conn:
        [hit] = await sanctions_store.hits(conn, status="OPEN", after=None, limit=10)
    await sanctions_service.decide_hit(
        compliance_of(economy), finance, hit_id=hit.id, confirm=True, note="same person"
    )
    async with economy.db.read() as conn:
        assert await sanctions_store.state_of(conn, creator.id) is SanctionsState.CONFIRMED_MATCH
    assert codes(await eligibility(economy, creator)) == ["SANCTIONS_REVIEW"]
    await identity_service.start_manual(
        compliance_of(economy),
        finance,
        legal_name="Omar Hassan",
        birth_date=ADULT,
        country="US",
        today=TODAY,
    )
    async with economy.db.read() as conn:
        [own] = await sanctions_store.hits(conn, status="OPEN", after=None, limit=10)
    with pytest.raises(DomainError) as refused:
        await sanctions_service.decide_hit(
            compliance_of(economy), finance, hit_id=own.id, confirm=False, note="not me"
        )
    assert refused.value.code == "SELF_REVIEW"


async def test_a_new_list_version_re_screens_everyone_and_keeps_earlier_decisions(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    cleared = await make_user()
    await make_payout_ready(economy, cleared, legal_name="Anvar Karimov", country="UZ")
    async with economy.db.read() as conn:
        [hit] = await sanctions_store.hits(conn, status="OPEN", after=None, limit=10)
    await sanctions_service.decide_hit(
        compliance_of(economy), finance, hit_id=hit.id, confirm=False, note="other man"
    )
    innocent = await make_user()
    await make_payout_ready(economy, innocent, legal_name="Lena Brightwater")
    assert (await eligibility(economy, innocent)).eligible

    sdn = (DATA / "sdn_sample.csv").read_bytes().replace(b"\x1a", b"")
    addition = (
        b'9111,"BRIGHTWATER, Lena","individual","SDGT","-0- ","-0- ","-0- ","-0- ","-0- ",'
        b'"-0- ","-0- ","SAMPLE ENTRY FOR TESTS."\r\n'
    )
    newer = load_list(sdn + addition, (DATA / "alt_sample.csv").read_bytes())
    result = await sanctions_service.load_sanctions_list(
        compliance_of(economy), newer, source="sdn-2026-11-24.csv", actor="test:ops"
    )
    assert result.created
    assert result.version.entries == 11
    assert (result.screened, result.possible_matches) == (2, 1)
    assert codes(await eligibility(economy, innocent)) == ["SANCTIONS_REVIEW"]
    assert (await eligibility(economy, cleared)).eligible  # the earlier clearance carried over
    async with economy.db.read() as conn:
        carried = await sanctions_store.hits_of_user(conn, cleared.id)
    assert [(h.list_id, h.status) for h in carried] == [(1, "CLEARED"), (2, "CLEARED")]
    same_again = await sanctions_service.load_sanctions_list(
        compliance_of(economy), newer, source="again", actor="t"
    )
    assert (same_again.created, same_again.version.id, same_again.screened) == (False, 2, 0)


async def test_a_list_not_yet_screened_against_holds_payouts_until_the_re_screening(
    economy: Economy, make_user: MakeUser
) -> None:
    creator = await make_user()
    await make_payout_ready(economy, creator)
    newer = load_list((DATA / "sdn_sample.csv").read_bytes())  # no aliases: another digest
    async with economy.db.write() as conn:
        await sanctions_store.insert_list(conn, newer, source="partial", loaded_by="test")
        assert await sanctions_store.state_of(conn, creator.id) is SanctionsState.OUTDATED
    assert codes(await eligibility(economy, creator)) == ["SANCTIONS_REVIEW"]
    assert await sanctions_service.rescreen_all(compliance_of(economy), actor="test") == (1, 0)
    assert (await eligibility(economy, creator)).eligible


async def test_without_any_list_nobody_is_paid_unless_configured_otherwise(
    economy: Economy, make_user: MakeUser, finance: User
) -> None:
    creator = await make_user()
    await identity_service.start_manual(
        compliance_of(economy),
        creator,
        legal_name="Jane Doe",
        birth_date=ADULT,
        country="US",
        today=TODAY,
    )
    await identity_service.review(
        compliance_of(economy),
        finance,
        user_id=creator.id,
        decision=ReviewDecision.APPROVE,
        note="ok",
        today=TODAY,
    )
    await tax_service.submit_tax_form(
        compliance_of(economy),
        creator,
        kind=TaxFormKind.W9,
        legal_name="Jane Doe",
        country="US",
        tin_type=TinType.SSN,
        tin=VALID_SSN,
        certified=True,
        today=TODAY,
    )
    added = await add_method(economy, creator, "paypal")
    await methods_service.review_payout_method(
        compliance_of(economy), finance, method_id=added.id, verify=True, note="ok"
    )
    assert codes(await eligibility(economy, creator)) == ["SANCTIONS_REVIEW"]
    assert (await eligibility(economy, creator, sanctions_list_required=False)).eligible
    loaded = await load_sample_sanctions(economy)
    assert loaded.screened == 1
    assert (await eligibility(economy, creator)).eligible


# --- the audit log ---------------------------------------------------------------------------


async def test_the_audit_log_is_append_only(economy: Economy, make_user: MakeUser) -> None:
    creator = await make_user()
    await identity_service.declare_birth_date(
        compliance_of(economy), creator, birth_date=ADULT, country="US", today=TODAY
    )
    for statement in ("UPDATE audit_log SET action = 'X'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with economy.db.write() as conn:
                await conn.execute(text(statement))
    assert len(await audit_entries(economy, "COMPLIANCE_BIRTH_DATE_DECLARED")) == 1


# --- year-end reporting ----------------------------------------------------------------------


@pytest.fixture
async def paid_rows(economy: Economy) -> Any:
    """A stand-in for the payouts table with the columns the report reads, dropped afterwards
    (the real `payouts` table needs holds and transactions the report does not care about)."""
    table = Table(
        "compliance_test_payouts",
        MetaData(),
        Column("user_id", BigInteger, nullable=False),
        Column("status", String(20), nullable=False),
        Column("currency", String(3), nullable=False),
        Column("gross_minor", BigInteger, nullable=False),
        Column("withholding_minor", BigInteger, nullable=False),
        Column("paid_at", DateTime(timezone=True), nullable=True),
    )
    async with economy.db.write() as conn:
        await conn.run_sync(lambda sync: table.create(sync, checkfirst=True))
    try:
        yield table
    finally:
        async with economy.db.write() as conn:
            await conn.run_sync(lambda sync: table.drop(sync))


async def test_the_year_end_report_sums_paid_payouts_per_creator(
    economy: Economy, make_user: MakeUser, finance: User, paid_rows: Any
) -> None:
    big = await make_user("creator:big")
    await make_payout_ready(economy, big)
    german = await make_user("creator:erika")
    await make_payout_ready(
        economy, german, country="DE", legal_name="Erika Mustermann", provider="sepa"
    )
    june = datetime(2026, 6, 1, 12, tzinfo=UTC)
    rows = (
        [(big.id, "PAID", "USD", 10_000, 0, june)] * 200
        + [(big.id, "FAILED", "USD", 99_999, 0, None)]
        + [(big.id, "PAID", "USD", 10_000, 0, datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC))]
        + [(big.id, "PAID", "USD", 10_000, 0, datetime(2027, 1, 1, tzinfo=UTC))]
        + [(german.id, "PAID", "EUR", 150_000, 45_000, june)] * 2
    )
    async with economy.db.write() as conn:
        await conn.execute(
            insert(paid_rows),
            [
                dict(
                    zip(
                        (
                            "user_id",
                            "status",
                            "currency",
                            "gross_minor",
                            "withholding_minor",
                            "paid_at",
                        ),
                        r,
                        strict=True,
                    )
                )
                for r in rows
            ],
        )
    report = await reporting_service.year_end_report(
        compliance_of(economy), year=2026, actor=finance.subject, source=paid_rows
    )
    summary = [
        (
            r.subject,
            r.tax_form,
            r.country,
            r.currency,
            r.gross_minor,
            r.payouts,
            r.withholding_minor,
            r.form_1099k,
            r.dac7,
        )
        for r in report
    ]
    assert summary == [
        ("creator:big", "W9", "US", "USD", 2_000_000, 200, 0, True, False),
        ("creator:erika", "W8BEN", "DE", "EUR", 300_000, 2, 90_000, False, True),
    ]
    csv_text = to_csv(report)
    assert csv_text.splitlines()[1].startswith(
        f"2026,{big.id},creator:big,Jane Quincy Doe,US,W9,4399,USD,2000000,200,0,true"
    )
    [entry] = await audit_entries(economy, "COMPLIANCE_YEAR_END_REPORT")
    assert (entry.actor_subject, entry.details) == ("finance:fay", {"year": 2026, "rows": 2})


async def test_the_report_reads_the_payouts_tables_columns(economy: Economy) -> None:
    async with economy.db.read() as conn:
        assert await reporting_service.paid_payouts(conn, 2026) == []


def test_settings_reach_the_policy(settings: Settings) -> None:
    from compliance.gate.rules import GatePolicy

    policy = GatePolicy.of(settings)
    assert policy.blocked_countries == frozenset({"CU", "IR", "KP", "SY"})
    assert policy.ages.default == 18
