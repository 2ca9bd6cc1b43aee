"""The compliance policy without a database: the age arithmetic, the identity status machine,
TINs (real valid and invalid numbers), tax form expiry and withholding, payout method checks,
the SDN list format and fuzzy screening, every requirement code of the gate, the coin purchase
age gate, encryption, the settings and the year-end summary.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from compliance.crypto import CannotDecrypt, Cipher, NoKeys
from compliance.gate.rules import (
    Eligibility,
    GatePolicy,
    MethodFacts,
    PayoutFacts,
    RequirementCode,
    SanctionsState,
    decide,
    may_buy_coins,
)
from compliance.identity.age import AgeRule, age_on
from compliance.identity.rules import (
    STARTABLE,
    TRANSITIONS,
    Identity,
    IdentityMethod,
    IdentityStatus,
    IdentityTransitionRefused,
    check_move,
    from_stripe,
)
from compliance.methods.rules import PayoutMethodStatus
from compliance.reporting.rules import PaidPayout, Taxpayer, Thresholds, summarize, to_csv
from compliance.sanctions.rules import (
    Screener,
    SdnFormatError,
    load_list,
    normalize_name,
    parse_sdn,
)
from compliance.tax.rules import (
    MissingFormRule,
    TaxForm,
    TaxFormKind,
    TaxStatus,
    check_submission,
    tax_status,
    w8ben_expires_on,
    withholding_minor,
)
from compliance.tax.tin import TinType, validate_tin
from kernel.errors import DomainError
from settings.compliance import DEV_TIN_KEY, ComplianceSettings
from settings.service import ConfigError, Settings

DATA = Path(__file__).resolve().parent.parent / "compliance" / "data"
TODAY = date(2026, 11, 23)
S = IdentityStatus
R = RequirementCode

# --- age -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(2008, 11, 23), date(2026, 11, 23), 18),
        (date(2008, 11, 24), date(2026, 11, 23), 17),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(1990, 12, 31), date(2026, 1, 1), 35),
    ],
)
def test_age_counts_whole_years_and_birthdays_on_29_february(
    born: date, today: date, age: int
) -> None:
    assert age_on(born, today) == age


def test_the_age_of_majority_is_configurable_per_country() -> None:
    rule = AgeRule(default=18, by_country={"KR": 19, "SG": 21})
    nineteen_today = date(2007, 11, 23)
    assert rule.is_adult(nineteen_today, "US", TODAY)
    assert rule.is_adult(nineteen_today, "KR", TODAY)
    assert not rule.is_adult(nineteen_today, "SG", TODAY)
    assert rule.majority_in(None) == 18


# --- identity status machine -----------------------------------------------------------------

ALLOWED = [(a, b) for a, targets in TRANSITIONS.items() for b in sorted(targets)]
FORBIDDEN = [
    (a, b) for a, b in itertools.product(IdentityStatus, IdentityStatus) if b not in TRANSITIONS[a]
]


@pytest.mark.parametrize(("current", "new"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_every_allowed_identity_transition_is_accepted(
    current: IdentityStatus, new: IdentityStatus
) -> None:
    check_move(current, new)


@pytest.mark.parametrize(("current", "new"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_every_other_identity_transition_is_refused(
    current: IdentityStatus, new: IdentityStatus
) -> None:
    with pytest.raises(IdentityTransitionRefused) as refused:
        check_move(current, new)
    assert refused.value.code == "INVALID_TRANSITION"


def test_the_status_machine_covers_every_status_and_rejection_is_final() -> None:
    assert set(TRANSITIONS) == set(IdentityStatus)
    assert TRANSITIONS[S.REJECTED] == frozenset()
    assert {S.NOT_STARTED, S.REQUIRES_INPUT, S.EXPIRED, S.CANCELED} == STARTABLE


def test_a_verification_past_its_last_day_reads_as_expired() -> None:
    ident = Identity(S.VERIFIED, expires_on=date(2026, 11, 22))
    assert ident.status_on(date(2026, 11, 22)) is S.VERIFIED
    assert ident.status_on(TODAY) is S.EXPIRED


@pytest.mark.parametrize(
    ("status", "code", "reason", "expected"),
    [
        ("requires_input", None, None, (S.PENDING, None)),
        (
            "requires_input",
            "selfie_face_mismatch",
            "Face does not match",
            (S.REQUIRES_INPUT, "Face does not match"),
        ),
        ("requires_input", "document_expired", None, (S.REQUIRES_INPUT, "document_expired")),
        ("processing", None, None, (S.PROCESSING, None)),
        ("verified", None, None, (S.VERIFIED, None)),
        ("canceled", None, None, (S.CANCELED, None)),
    ],
)
def test_stripe_session_statuses_map_onto_ours(
    status: str, code: str | None, reason: str | None, expected: tuple[S, str | None]
) -> None:
    assert from_stripe(status, code, reason) == expected


def test_an_unknown_stripe_status_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown"):
        from_stripe("redacted", None, None)


# --- TINs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "tin_type", "country", "kind", "last4"),
    [
        ("536-90-4399", TinType.SSN, None, "US_SSN", "4399"),
        ("04-2103594", TinType.EIN, None, "US_EIN", "3594"),
        ("912-71-1234", TinType.ITIN, None, "US_ITIN", "1234"),
        ("36 574 261 809", TinType.FOREIGN, "DE", "DE_IDNR", "1809"),
        ("RCCMNL83S18D969H", TinType.FOREIGN, "IT", "IT_CF", "969H"),
        ("12345678Z", TinType.FOREIGN, "ES", "ES_NIF", "678Z"),
        ("111222333", TinType.FOREIGN, "NL", "NL_BSN", "2333"),
        ("3023217600053", TinType.FOREIGN, "FR", "FR_NIF", "0053"),
        ("44051401359", TinType.FOREIGN, "PL", "PL_PESEL", "1359"),
        ("880320-0016", TinType.FOREIGN, "SE", "SE_PNR", "0016"),
        ("131052-308T", TinType.FOREIGN, "FI", "FI_HETU", "308T"),
        ("85.07.30-033 28", TinType.FOREIGN, "BE", "BE_NN", "3328"),
    ],
)
def test_real_tins_validate_and_keep_only_their_last_four_readable(
    raw: str, tin_type: TinType, country: str | None, kind: str, last4: str
) -> None:
    valid = validate_tin(raw, tin_type, country)
    assert (valid.kind, valid.last4, valid.checked) == (kind, last4, True)
    assert raw not in repr(valid)
    assert valid.value not in repr(valid)


@pytest.mark.parametrize(
    ("raw", "tin_type", "country", "why"),
    [
        ("078-05-1120", TinType.SSN, None, "not issued"),  # the Woolworth wallet SSN
        ("000-12-3456", TinType.SSN, None, "not issued"),
        ("123-45-678", TinType.SSN, None, "format"),
        ("00-1234567", TinType.EIN, None, "not issued"),
        ("36 574 261 808", TinType.FOREIGN, "DE", "check digit"),
        ("RCCMNL83S18D969X", TinType.FOREIGN, "IT", "check digit"),
        ("12345678A", TinType.FOREIGN, "ES", "check digit"),
        ("44051401358", TinType.FOREIGN, "PL", "check digit"),
    ],
)
def test_invalid_tins_are_refused_without_repeating_the_number(
    raw: str, tin_type: TinType, country: str | None, why: str
) -> None:
    with pytest.raises(DomainError) as refused:
        validate_tin(raw, tin_type, country)
    assert refused.value.code == "INVALID_TIN"
    assert why in refused.value.message
    assert raw not in str(refused.value)
    assert raw.replace("-", "").replace(" ", "") not in str(refused.value)


def test_a_foreign_tin_of_a_country_without_a_checker_is_kept_unchecked() -> None:
    valid = validate_tin("JP-1234 5678", TinType.FOREIGN, "JP")
    assert (valid.kind, valid.checked, valid.last4) == ("FOREIGN_UNCHECKED", False, "5678")
    with pytest.raises(DomainError, match="4 to 30"):
        validate_tin("x!", TinType.FOREIGN, "JP")


# --- tax forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed", "expires"),
    [
        (date(2026, 1, 1), date(2029, 12, 31)),
        (date(2026, 12, 31), date(2029, 12, 31)),
        (date(2024, 2, 29), date(2027, 12, 31)),
    ],
)
def test_a_w8ben_expires_at_the_end_of_the_third_calendar_year_after_signing(
    signed: date, expires: date
) -> None:
    assert w8ben_expires_on(signed) == expires


def form(kind: TaxFormKind, *, country: str = "US", signed: date = date(2025, 3, 1)) -> TaxForm:
    return TaxForm(
        kind=kind,
        legal_name="Jane Doe",
        country=country,
        tin_kind="US_SSN",
        tin_last4="4399",
        signed_on=signed,
        expires_on=w8ben_expires_on(signed) if kind is TaxFormKind.W8BEN else None,
    )


def test_tax_status_of_missing_valid_expired_and_wrong_forms() -> None:
    assert tax_status(None, "US", TODAY) is TaxStatus.MISSING
    assert tax_status(form(TaxFormKind.W9), "US", TODAY) is TaxStatus.VALID
    old = form(TaxFormKind.W8BEN, country="DE", signed=date(2022, 6, 1))
    assert old.expires_on == date(2025, 12, 31)
    assert tax_status(old, "DE", TODAY) is TaxStatus.EXPIRED
    assert tax_status(old, "DE", date(2025, 12, 31)) is TaxStatus.VALID
    fresh = form(TaxFormKind.W8BEN, country="DE")
    assert tax_status(fresh, "US", TODAY) is TaxStatus.WRONG_FORM


def test_withholding_is_rounded_up_to_the_minor_unit() -> None:
    assert withholding_minor(10_000, 2_400) == 2_400
    assert withholding_minor(1, 2_400) == 1
    assert withholding_minor(333, 3_000) == 100  # 99.9 rounds up
    assert withholding_minor(10_000, 0) == 0
    with pytest.raises(ValueError, match="negative"):
        withholding_minor(-1, 2_400)


def test_a_submission_needs_certification_and_the_right_form_for_the_person() -> None:
    def submit(
        kind: TaxFormKind, country: str, tin_type: TinType, tin: str, certified: bool = True
    ) -> str:
        try:
            check_submission(
                kind,
                legal_name="Jane Doe",
                country=country,
                tin_type=tin_type,
                tin=tin,
                certified=certified,
                today=TODAY,
            )
        except DomainError as exc:
            return exc.code
        return "OK"

    assert submit(TaxFormKind.W9, "US", TinType.SSN, "536-90-4399") == "OK"
    assert (
        submit(TaxFormKind.W9, "US", TinType.SSN, "536-90-4399", certified=False) == "NOT_CERTIFIED"
    )
    assert submit(TaxFormKind.W9, "DE", TinType.SSN, "536-90-4399") == "WRONG_FORM"
    assert submit(TaxFormKind.W9, "US", TinType.FOREIGN, "36574261809") == "WRONG_FORM"
    assert submit(TaxFormKind.W8BEN, "US", TinType.FOREIGN, "36574261809") == "WRONG_FORM"
    assert submit(TaxFormKind.W8BEN, "DE", TinType.SSN, "536-90-4399") == "WRONG_FORM"
    assert submit(TaxFormKind.W8BEN, "DE", TinType.FOREIGN, "36574261809") == "OK"
    assert submit(TaxFormKind.W8BEN, "DE", TinType.ITIN, "912-71-1234") == "OK"
    assert submit(TaxFormKind.W8BEN, "DE", TinType.FOREIGN, "36574261808") == "INVALID_TIN"
    w8 = check_submission(
        TaxFormKind.W8BEN,
        legal_name="Erika",
        country="DE",
        tin_type=TinType.FOREIGN,
        tin="36574261809",
        certified=True,
        today=TODAY,
    )
    assert (w8.signed_on, w8.expires_on) == (TODAY, date(2029, 12, 31))


# --- sanctions -------------------------------------------------------------------------------


def sample_list() -> Screener:
    loaded = load_list(
        (DATA / "sdn_sample.csv").read_bytes(),
        (DATA / "alt_sample.csv").read_bytes(),
        (DATA / "add_sample.csv").read_bytes(),
    )
    return Screener.of(loaded.entries)


def test_the_sample_list_reads_as_ofac_sdn_csv() -> None:
    loaded = load_list(
        (DATA / "sdn_sample.csv").read_bytes(),
        (DATA / "alt_sample.csv").read_bytes(),
        (DATA / "add_sample.csv").read_bytes(),
    )
    by_uid = {e.uid: e for e in loaded.entries}
    assert len(by_uid) == 10
    assert by_uid[9104].programs == ("SDGT", "IRGC")
    assert by_uid[9101].aliases == ("KARIMOV, Anwar", "QARIMOV, Anvar")
    assert by_uid[9106].countries == ("KP",)
    assert by_uid[9103].countries == ("AE", "IR")
    assert by_uid[9103].kind == "entity"
    assert by_uid[9107].kind == "vessel"
    assert len(loaded.digest) == 64


def test_malformed_lists_are_refused_with_the_line() -> None:
    with pytest.raises(SdnFormatError, match="line 1: expected 12 fields"):
        parse_sdn('1,"NAME","individual"\n')
    with pytest.raises(SdnFormatError, match="entry number"):
        parse_sdn(
            'x,"NAME","individual","P","-0- ","-0- ","-0- ","-0- ","-0- ","-0- ","-0- ","-0- "\n'
        )
    with pytest.raises(SdnFormatError, match="no entries"):
        parse_sdn("\x1a")


def test_names_are_normalized_before_matching() -> None:
    assert normalize_name("AL-RASHID, Dr. Tariq Hamza") == "al rashid tariq hamza"
    assert normalize_name("Jürgen  Müller-Lüdenscheidt") == "jurgen muller ludenscheidt"


@pytest.mark.parametrize(
    ("name", "country", "uid"),
    [
        ("Anvar Karimov", "UZ", 9101),  # word order
        ("Tariq Hamza al-Rashid", None, 9104),  # title and punctuation
        ("Anwar Karimow", "DE", 9101),  # spelling, through an alias
        ("Yelena Volkova", "RU", 9102),  # middle name missing
        ("Dmitri Petroff", None, 9108),  # alias
    ],
)
def test_screening_finds_listed_names_despite_order_spelling_and_missing_parts(
    name: str, country: str | None, uid: int
) -> None:
    matches = sample_list().screen([name], country, threshold=88)
    assert [m.uid for m in matches] == [uid]
    assert matches[0].score >= 88


def test_screening_does_not_flag_unrelated_names_nor_vessels() -> None:
    screener = sample_list()
    for name in ("Jane Quincy Doe", "Erika Mustermann", "Omar Farouk", "Ocean Pearl", "Anna"):
        assert screener.screen([name], "US", threshold=88) == []


def test_a_match_records_whether_the_country_agrees() -> None:
    screener = sample_list()
    [same] = screener.screen(["Anvar Karimov"], "UZ", 88)
    [other] = screener.screen(["Anvar Karimov"], "FR", 88)
    [unknown] = screener.screen(["Tariq Hamza al-Rashid"], "FR", 88)
    assert (same.country_match, other.country_match, unknown.country_match) == (True, False, None)


def test_the_threshold_decides_what_is_a_possible_match() -> None:
    screener = sample_list()
    assert screener.screen(["Anwar Karimow"], None, threshold=95) == []
    assert len(screener.screen(["Anwar Karimow"], None, threshold=85)) == 1


# --- the gate's policy -------------------------------------------------------------------------

POLICY = GatePolicy(
    ages=AgeRule(18, {"SG": 21}),
    missing_tax_form=MissingFormRule.BLOCK,
    backup_withholding_bps=2_400,
    nonresident_withholding_bps=3_000,
    blocked_countries=frozenset({"CU", "IR", "KP", "SY"}),
    allowed_countries=frozenset(),
    sanctions_list_required=True,
)
ADULT = date(1990, 5, 17)
VERIFIED_US = Identity(
    S.VERIFIED,
    IdentityMethod.MANUAL,
    None,
    "Jane Doe",
    ADULT,
    True,
    "US",
    datetime(2026, 1, 1, tzinfo=UTC),
    None,
)


def facts(**changes: object) -> PayoutFacts:
    base: dict[str, object] = {
        "identity": VERIFIED_US,
        "tax_form": form(TaxFormKind.W9),
        "sanctions": SanctionsState.CLEAR,
        "method": MethodFacts(PayoutMethodStatus.VERIFIED, None),
        "provider": "paypal",
        "currency": "USD",
        "amount_minor": 5_000,
    }
    base.update(changes)
    return PayoutFacts(**base)  # type: ignore[arg-type]


def codes(found: Eligibility) -> list[str]:
    return [r.code for r in found.requirements]


def test_a_creator_with_every_gate_passed_is_eligible_without_withholding() -> None:
    assert decide(facts(), POLICY, TODAY) == Eligibility(True, (), 0)


def test_nothing_done_lists_every_missing_requirement_at_once() -> None:
    found = decide(
        facts(
            identity=Identity(S.NOT_STARTED),
            tax_form=None,
            sanctions=SanctionsState.NOT_SCREENED,
            method=None,
        ),
        POLICY,
        TODAY,
    )
    assert not found.eligible
    assert codes(found) == [
        R.IDENTITY_UNVERIFIED,
        R.AGE_UNVERIFIED,
        R.COUNTRY_NOT_SUPPORTED,
        R.TAX_FORM_MISSING,
        R.SANCTIONS_REVIEW,
        R.PAYOUT_METHOD_UNVERIFIED,
    ]
    assert all(r.message for r in found.requirements)


@pytest.mark.parametrize(
    "status",
    [S.NOT_STARTED, S.PENDING, S.PROCESSING, S.REQUIRES_INPUT, S.REJECTED, S.EXPIRED, S.CANCELED],
)
def test_every_status_but_verified_blocks_with_identity_unverified(status: S) -> None:
    ident = Identity(status, IdentityMethod.MANUAL, "blurry photo", "Jane Doe", ADULT, False, "US")
    found = decide(facts(identity=ident), POLICY, TODAY)
    assert codes(found) == [R.IDENTITY_UNVERIFIED, R.AGE_UNVERIFIED]
    if status is S.REQUIRES_INPUT:
        assert "blurry photo" in found.requirements[0].message


def test_an_expired_verification_blocks_on_the_day_after_its_last_day() -> None:
    ident = Identity(
        S.VERIFIED,
        IdentityMethod.MANUAL,
        None,
        "Jane",
        ADULT,
        True,
        "US",
        expires_on=date(2026, 11, 22),
    )
    assert codes(decide(facts(identity=ident), POLICY, date(2026, 11, 22))) == []
    found = decide(facts(identity=ident), POLICY, TODAY)
    assert codes(found) == [R.IDENTITY_UNVERIFIED, R.AGE_UNVERIFIED]
    assert "expired" in found.requirements[0].message


def test_the_age_gate_uses_the_verified_birth_date_and_the_local_age_of_majority() -> None:
    minor = Identity(S.VERIFIED, IdentityMethod.MANUAL, None, "Kid", date(2008, 11, 24), True, "US")
    found = decide(facts(identity=minor), POLICY, TODAY)
    assert codes(found) == [R.AGE_UNVERIFIED]
    assert "18" in found.requirements[0].message
    turns_18_today = Identity(
        S.VERIFIED, IdentityMethod.MANUAL, None, "Kid", date(2008, 11, 23), True, "US"
    )
    assert decide(facts(identity=turns_18_today), POLICY, TODAY).eligible
    twenty_in_singapore = Identity(
        S.VERIFIED, IdentityMethod.MANUAL, None, "Lee", date(2006, 1, 1), True, "SG"
    )
    found = decide(facts(identity=twenty_in_singapore), POLICY, TODAY)
    assert codes(found) == [R.AGE_UNVERIFIED]
    assert "21" in found.requirements[0].message
    declared_only = Identity(S.VERIFIED, IdentityMethod.MANUAL, None, "Jane", ADULT, False, "US")
    assert codes(decide(facts(identity=declared_only), POLICY, TODAY)) == [R.AGE_UNVERIFIED]


def test_blocked_unknown_and_unlisted_countries_are_not_supported() -> None:
    iran = Identity(S.VERIFIED, IdentityMethod.MANUAL, None, "Jane", ADULT, True, "IR")
    assert codes(
        decide(facts(identity=iran, tax_form=form(TaxFormKind.W8BEN, country="IR")), POLICY, TODAY)
    ) == [R.COUNTRY_NOT_SUPPORTED]
    nowhere = Identity(S.VERIFIED, IdentityMethod.MANUAL, None, "Jane", ADULT, True, None)
    assert R.COUNTRY_NOT_SUPPORTED in codes(
        decide(facts(identity=nowhere, tax_form=None), POLICY, TODAY)
    )
    cuban_account = facts(method=MethodFacts(PayoutMethodStatus.VERIFIED, "CU"))
    assert codes(decide(cuban_account, POLICY, TODAY)) == [R.COUNTRY_NOT_SUPPORTED]
    only_eu = GatePolicy(**{**POLICY.__dict__, "allowed_countries": frozenset({"DE", "FR"})})
    assert codes(decide(facts(), only_eu, TODAY)) == [R.COUNTRY_NOT_SUPPORTED]


def test_missing_expired_and_wrong_tax_forms_block_by_default() -> None:
    assert codes(decide(facts(tax_form=None), POLICY, TODAY)) == [R.TAX_FORM_MISSING]
    german = Identity(S.VERIFIED, IdentityMethod.MANUAL, None, "Erika", ADULT, True, "DE")
    old_w8 = form(TaxFormKind.W8BEN, country="DE", signed=date(2022, 6, 1))
    found = decide(facts(identity=german, tax_form=old_w8), POLICY, TODAY)
    assert codes(found) == [R.TAX_FORM_EXPIRED]
    assert "2025-12-31" in found.requirements[0].message
    w8_in_us = form(TaxFormKind.W8BEN, country="DE")
    assert codes(decide(facts(tax_form=w8_in_us), POLICY, TODAY)) == [R.TAX_FORM_MISSING]


def test_with_the_withhold_rule_payouts_go_with_backup_withholding() -> None:
    withhold = GatePolicy(**{**POLICY.__dict__, "missing_tax_form": MissingFormRule.WITHHOLD})
    assert decide(facts(tax_form=None), withhold, TODAY) == Eligibility(True, (), 2_400)
    german = Identity(S.VERIFIED, IdentityMethod.MANUAL, None, "Erika", ADULT, True, "DE")
    old_w8 = form(TaxFormKind.W8BEN, country="DE", signed=date(2022, 6, 1))
    assert decide(facts(identity=german, tax_form=old_w8), withhold, TODAY) == Eligibility(
        True, (), 3_000
    )
    assert decide(facts(identity=german, tax_form=None), withhold, TODAY).withholding_bps == 3_000
    assert decide(facts(), withhold, TODAY).withholding_bps == 0


@pytest.mark.parametrize(
    "state",
    [
        SanctionsState.NO_LIST,
        SanctionsState.NOT_SCREENED,
        SanctionsState.OUTDATED,
        SanctionsState.POSSIBLE_MATCH,
        SanctionsState.CONFIRMED_MATCH,
    ],
)
def test_anything_but_a_clear_screening_holds_payouts_with_a_neutral_message(
    state: SanctionsState,
) -> None:
    found = decide(facts(sanctions=state), POLICY, TODAY)
    assert codes(found) == [R.SANCTIONS_REVIEW]
    assert "sanction" not in found.requirements[0].message.lower()


def test_without_a_required_list_an_unloaded_list_does_not_block() -> None:
    relaxed = GatePolicy(**{**POLICY.__dict__, "sanctions_list_required": False})
    assert decide(facts(sanctions=SanctionsState.NO_LIST), relaxed, TODAY).eligible
    assert not decide(facts(sanctions=SanctionsState.POSSIBLE_MATCH), relaxed, TODAY).eligible


@pytest.mark.parametrize(
    ("method", "words"),
    [
        (None, "add a payout method for paypal"),
        (MethodFacts(PayoutMethodStatus.PENDING, None), "waiting"),
        (MethodFacts(PayoutMethodStatus.REJECTED, None), "rejected"),
    ],
)
def test_a_missing_or_unverified_payout_method_blocks(
    method: MethodFacts | None, words: str
) -> None:
    found = decide(facts(method=method), POLICY, TODAY)
    assert codes(found) == [R.PAYOUT_METHOD_UNVERIFIED]
    assert words in found.requirements[0].message


def test_buying_coins_needs_a_birth_date_showing_an_adult_where_the_buyer_lives() -> None:
    assert may_buy_coins(ADULT, "US", POLICY, TODAY).eligible
    no_date = may_buy_coins(None, "US", POLICY, TODAY)
    assert codes(no_date) == [R.AGE_UNVERIFIED]
    assert codes(may_buy_coins(date(2010, 1, 1), "US", POLICY, TODAY)) == [R.AGE_UNVERIFIED]
    assert codes(may_buy_coins(date(2006, 1, 1), "SG", POLICY, TODAY)) == [R.AGE_UNVERIFIED]
    assert may_buy_coins(date(2006, 1, 1), "US", POLICY, TODAY).eligible


# --- encryption ------------------------------------------------------------------------------


def test_sealed_values_open_with_any_configured_key_and_rotate_to_the_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = Cipher([old])
    sealed = before.seal("536904399")
    assert "536904399" not in sealed.token
    after = Cipher([new, old])
    assert after.open(sealed.token) == "536904399"
    rotated = after.reseal(sealed.token)
    assert rotated.key_id == after.primary_key_id != sealed.key_id
    assert Cipher([new]).open(rotated.token) == "536904399"
    with pytest.raises(CannotDecrypt):
        Cipher([new]).open(sealed.token)


# --- settings --------------------------------------------------------------------------------


def test_compliance_settings_read_and_validate_their_variables() -> None:
    key = Fernet.generate_key().decode()
    settings = Settings.from_env(
        {
            "DIAMONDS_TIN_KEYS": f"{key}, {DEV_TIN_KEY}",
            "DIAMONDS_AGE_OF_MAJORITY": "18,KR=19,sg=21",
            "DIAMONDS_TAX_FORM_MISSING": "withhold",
            "DIAMONDS_SANCTIONS_THRESHOLD": "92",
            "DIAMONDS_PAYOUT_BLOCKED_COUNTRIES": "cu,ir",
            "DIAMONDS_STRIPE_API_KEY": "sk_test_123",
        }
    ).compliance
    assert settings.tin_keys == (key, DEV_TIN_KEY)
    assert (settings.age_of_majority, dict(settings.age_of_majority_by_country)) == (
        18,
        {"KR": 19, "SG": 21},
    )
    assert (settings.tax_form_missing, settings.sanctions_threshold) == ("WITHHOLD", 92)
    assert settings.payout_blocked_countries == frozenset({"CU", "IR"})
    assert settings.stripe_identity_api_key == "sk_test_123"
    assert key not in repr(settings)
    assert "sk_test_123" not in repr(settings)


def test_bad_compliance_settings_are_all_reported() -> None:
    with pytest.raises(ConfigError) as bad:
        Settings.from_env(
            {
                "DIAMONDS_ENV": "production",
                "DIAMONDS_JWT_SECRET": "x" * 40,
                "DIAMONDS_AGE_OF_MAJORITY": "KR=nine",
                "DIAMONDS_TAX_FORM_MISSING": "maybe",
                "DIAMONDS_SANCTIONS_THRESHOLD": "20",
                "DIAMONDS_PAYOUT_COUNTRIES": "USA",
            }
        )
    text = "\n".join(bad.value.problems)
    for name in (
        "DIAMONDS_AGE_OF_MAJORITY",
        "DIAMONDS_TAX_FORM_MISSING",
        "DIAMONDS_SANCTIONS_THRESHOLD",
        "DIAMONDS_PAYOUT_COUNTRIES",
    ):
        assert name in text
    with pytest.raises(ConfigError, match="not a Fernet key"):
        Settings.from_env({"DIAMONDS_TIN_KEYS": "not-a-key"})


def test_development_falls_back_to_the_public_development_key() -> None:
    assert ComplianceSettings().using_dev_tin_key
    assert Settings.from_env({}).compliance.using_dev_tin_key


def test_production_without_keys_starts_but_encrypts_nothing() -> None:
    production = Settings.from_env(
        {"DIAMONDS_ENV": "production", "DIAMONDS_JWT_SECRET": "x" * 40}
    ).compliance
    assert (production.tin_keys, production.using_dev_tin_key) == ((), False)
    with pytest.raises(NoKeys, match="DIAMONDS_TIN_KEYS is not set"):
        Cipher(production.tin_keys)


# --- year-end summary ------------------------------------------------------------------------


def paid(
    user_id: int,
    gross: int,
    *,
    currency: str = "USD",
    withheld: int = 0,
    when: datetime = datetime(2026, 6, 1, tzinfo=UTC),
) -> PaidPayout:
    return PaidPayout(user_id, currency, gross, withheld, when)


def test_the_year_end_summary_adds_up_per_creator_and_applies_the_thresholds() -> None:
    payees = {
        1: Taxpayer(1, "us-big", "Big Earner", "US", "W9", "4399"),
        2: Taxpayer(2, "us-few", "Few Payouts", "US", "W9", "1234"),
        3: Taxpayer(3, "de-seller", "Erika", "DE", "W8BEN", "1809"),
        4: Taxpayer(4, "de-tiny", "Tiny", "DE", "W8BEN", "0000"),
        5: Taxpayer(5, "jp", "Taro", "JP", "W8BEN", "5678"),
    }
    rows_in = (
        [paid(1, 10_000) for _ in range(200)]  # $20,000 in 200 payouts
        + [paid(2, 1_000_000, withheld=240_000) for _ in range(3)]  # $30,000 in 3
        + [paid(3, 100_000, currency="EUR")] * 3  # EUR 3,000: above the DAC7 de minimis
        + [paid(4, 50_000, currency="EUR")]  # EUR 500, one payout: below both
        + [paid(5, 9_999_999)]
        + [paid(1, 5, when=datetime(2025, 12, 31, 23, 59, tzinfo=UTC))]  # another year
    )
    rows = summarize(2026, rows_in, payees, Thresholds())
    summary = {
        (r.subject, r.currency): (
            r.gross_minor,
            r.payouts,
            r.withholding_minor,
            r.form_1099k,
            r.dac7,
        )
        for r in rows
    }
    assert summary == {
        ("us-big", "USD"): (2_000_000, 200, 0, True, False),
        ("us-few", "USD"): (3_000_000, 3, 720_000, False, False),
        ("de-seller", "EUR"): (300_000, 3, 0, False, True),
        ("de-tiny", "EUR"): (50_000, 1, 0, False, False),
        ("jp", "USD"): (9_999_999, 1, 0, False, False),
    }
    lowered = summarize(
        2026, rows_in, payees, Thresholds(form_1099k_minor=1, form_1099k_payments=1)
    )
    assert {r.subject for r in lowered if r.form_1099k} == {"us-big", "us-few"}


def test_the_csv_has_a_header_and_neutralizes_formulas() -> None:
    rows = summarize(
        2026,
        [paid(7, 1_234)],
        {7: Taxpayer(7, "=HYPERLINK(1)", "@evil", "US", "W9", "4399")},
        Thresholds(),
    )
    lines = to_csv(rows).splitlines()
    assert lines[0].startswith("year,user_id,subject,legal_name,country")
    assert lines[1] == "2026,7,'=HYPERLINK(1),'@evil,US,W9,4399,USD,1234,1,0,false,false"
