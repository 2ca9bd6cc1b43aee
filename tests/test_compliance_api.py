"""The compliance API over HTTP on both databases: payout eligibility for the caller and, for
FINANCE, for anyone; tax forms shown only as their last four; identity, payout method and
sanctions reviews by FINANCE (never by the person reviewed, never by a creator); payload error
codes; the full-TIN reveal and the year-end report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from compliance.sanctions import store as sanctions_store
from economy.app import Economy
from graph.global_ids import to_global_id

from .compliance_fixtures import (
    fresh_compliance_tables,  # noqa: F401  (autouse)
    load_sample_sanctions,
    make_payout_ready,
)

GraphQL = Callable[..., Awaitable[Any]]
CREATOR = ("CREATOR", "VIEWER")
FINANCE = ("FINANCE",)

ELIGIBILITY = """
query ($provider: String!, $userId: ID) {
  payoutEligibility(provider: $provider, userId: $userId) {
    eligible withholdingBps requirements { code message }
  }
}"""

SUBMIT_TAX_FORM = """
mutation ($input: SubmitTaxFormInput!) {
  submitTaxForm(input: $input) {
    taxProfile { form status country tinType tinLastFour tinMasked expiresOn }
    errors { field message code }
  }
}"""

START = """
mutation ($input: StartIdentityVerificationInput!) {
  startIdentityVerification(input: $input) {
    verification { id status method legalName country }
    clientSecret url
    errors { field message code }
  }
}"""

ADD_METHOD = """
mutation ($input: AddPayoutMethodInput!) {
  addPayoutMethod(input: $input) {
    payoutMethod { id provider status display country fields { name value secret } }
    errors { field message code }
  }
}"""

REVIEW_IDENTITY = """
mutation ($input: ReviewIdentityInput!) {
  reviewIdentity(input: $input) {
    verification { status decidedBy note dateOfBirthVerified }
    errors { field message code }
  }
}"""

PROFILE = """
query ($userId: ID) {
  complianceProfile(userId: $userId) {
    identity { status legalName }
    taxProfile { form tinLastFour }
    payoutMethods { provider status display }
    sanctionsStatus
  }
}"""


def sepa_input(**fields: str) -> dict[str, Any]:
    return {
        "provider": "sepa",
        "fields": [{"name": name, "value": value} for name, value in fields.items()],
    }


async def user_id_of(economy: Economy, subject: str) -> str:
    user = await economy.users.ensure(subject)
    return str(to_global_id("User", user.id))


async def test_a_creator_sees_their_own_missing_requirements(graphql: GraphQL) -> None:
    found = await graphql(ELIGIBILITY, {"provider": "paypal"}, subject="creator:ann", roles=CREATOR)
    assert found.errors == []
    answer = found.data["payoutEligibility"]
    assert answer["eligible"] is False
    assert [r["code"] for r in answer["requirements"]] == [
        "IDENTITY_UNVERIFIED",
        "AGE_UNVERIFIED",
        "COUNTRY_NOT_SUPPORTED",
        "TAX_FORM_MISSING",
        "SANCTIONS_REVIEW",
        "PAYOUT_METHOD_UNVERIFIED",
    ]
    anonymous = await graphql(ELIGIBILITY, {"provider": "paypal"})
    assert anonymous.error_codes == ["UNAUTHENTICATED"]


async def test_a_ready_creator_is_eligible_and_finance_can_check_anyone(
    graphql: GraphQL, economy: Economy
) -> None:
    creator = await economy.users.ensure("creator:bea")
    await make_payout_ready(economy, creator)
    own = await graphql(ELIGIBILITY, {"provider": "paypal"}, subject="creator:bea", roles=CREATOR)
    assert own.data["payoutEligibility"] == {
        "eligible": True,
        "withholdingBps": 0,
        "requirements": [],
    }
    target = await user_id_of(economy, "creator:bea")
    checked = await graphql(
        ELIGIBILITY, {"provider": "paypal", "userId": target}, subject="finance:fay", roles=FINANCE
    )
    assert checked.data["payoutEligibility"]["eligible"] is True
    nosy = await graphql(
        ELIGIBILITY, {"provider": "paypal", "userId": target}, subject="creator:cy", roles=CREATOR
    )
    assert nosy.error_codes == ["FORBIDDEN"]
    profile = await graphql(PROFILE, {"userId": target}, subject="creator:cy", roles=CREATOR)
    assert profile.error_codes == ["FORBIDDEN"]
    assert profile.data == {"complianceProfile": None}


async def test_a_tax_form_is_shown_by_its_last_four_only(
    graphql: GraphQL, api: Any, token_for: Callable[..., str]
) -> None:
    tin = "536-90-4399"
    bad = await graphql(
        SUBMIT_TAX_FORM,
        {
            "input": {
                "form": "W9",
                "legalName": "Ann Lee",
                "tinType": "SSN",
                "tin": "078-05-1120",
                "certify": True,
            }
        },
        subject="creator:ann",
        roles=CREATOR,
    )
    [error] = bad.data["submitTaxForm"]["errors"]
    assert (error["code"], error["field"]) == ("INVALID_TIN", "tin")
    assert "078" not in error["message"]
    uncertified = await graphql(
        SUBMIT_TAX_FORM,
        {
            "input": {
                "form": "W9",
                "legalName": "Ann Lee",
                "tinType": "SSN",
                "tin": tin,
                "certify": False,
            }
        },
        subject="creator:ann",
        roles=CREATOR,
    )
    assert uncertified.data["submitTaxForm"]["errors"][0]["code"] == "NOT_CERTIFIED"
    response = await api.post(
        "/graphql",
        json={
            "query": SUBMIT_TAX_FORM,
            "variables": {
                "input": {
                    "form": "W9",
                    "legalName": "Ann Lee",
                    "tinType": "SSN",
                    "tin": tin,
                    "certify": True,
                }
            },
        },
        headers={"Authorization": f"Bearer {token_for('creator:ann', *CREATOR)}"},
    )
    raw = await response.text()
    assert "536904399" not in raw
    assert "536-90-4399" not in raw
    body = await response.json()
    assert body["data"]["submitTaxForm"] == {
        "taxProfile": {
            "form": "W9",
            "status": "VALID",
            "country": "US",
            "tinType": "US_SSN",
            "tinLastFour": "4399",
            "tinMasked": "•••••4399",
            "expiresOn": None,
        },
        "errors": [],
    }
    viewer = await graphql(
        SUBMIT_TAX_FORM,
        {"input": {"form": "W9", "legalName": "V", "tinType": "SSN", "tin": tin, "certify": True}},
        subject="viewer:vi",
        roles=("VIEWER",),
    )
    assert viewer.error_codes == ["FORBIDDEN"]


async def test_manual_identity_review_by_finance_and_never_by_oneself(
    graphql: GraphQL, economy: Economy
) -> None:
    missing = await graphql(
        START,
        {"input": {"method": "MANUAL", "legalName": "Ann Lee"}},
        subject="creator:ann",
        roles=CREATOR,
    )
    assert missing.data["startIdentityVerification"]["errors"][0]["code"] == "MISSING_FIELD"
    started = await graphql(
        START,
        {
            "input": {
                "method": "MANUAL",
                "legalName": "Ann Lee",
                "dateOfBirth": "1991-04-02",
                "country": "us",
            }
        },
        subject="creator:ann",
        roles=CREATOR,
    )
    assert started.data["startIdentityVerification"]["verification"]["status"] == "PENDING"
    stripe = await graphql(
        START, {"input": {"method": "STRIPE_IDENTITY"}}, subject="creator:bo", roles=CREATOR
    )
    assert stripe.data["startIdentityVerification"]["errors"][0]["code"] == "METHOD_UNAVAILABLE"

    queue = await graphql(
        "{ identityReviewQueue { edges { node { legalName status user { subject } } } } }",
        subject="finance:fay",
        roles=FINANCE,
    )
    assert [e["node"] for e in queue.data["identityReviewQueue"]["edges"]] == [
        {"legalName": "Ann Lee", "status": "PENDING", "user": {"subject": "creator:ann"}}
    ]
    ann = await user_id_of(economy, "creator:ann")
    by_creator = await graphql(
        REVIEW_IDENTITY,
        {"input": {"userId": ann, "decision": "APPROVE", "note": "ok"}},
        subject="creator:ann",
        roles=CREATOR,
    )
    assert by_creator.error_codes == ["FORBIDDEN"]
    by_herself = await graphql(
        REVIEW_IDENTITY,
        {"input": {"userId": ann, "decision": "APPROVE", "note": "ok"}},
        subject="creator:ann",
        roles=("CREATOR", "FINANCE"),
    )
    assert by_herself.data["reviewIdentity"]["errors"][0]["code"] == "SELF_REVIEW"
    bad_id = await graphql(
        REVIEW_IDENTITY,
        {"input": {"userId": "nope", "decision": "APPROVE", "note": "ok"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert bad_id.data["reviewIdentity"]["errors"][0]["code"] == "INVALID_ID"
    approved = await graphql(
        REVIEW_IDENTITY,
        {"input": {"userId": ann, "decision": "APPROVE", "note": "passport ok"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert approved.data["reviewIdentity"] == {
        "verification": {
            "status": "VERIFIED",
            "decidedBy": "finance:fay",
            "note": "passport ok",
            "dateOfBirthVerified": True,
        },
        "errors": [],
    }
    again = await graphql(
        REVIEW_IDENTITY,
        {"input": {"userId": ann, "decision": "REJECT", "note": "late"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert again.data["reviewIdentity"]["errors"][0]["code"] == "NOT_PENDING"


async def test_payout_methods_are_masked_and_verified_by_finance(
    graphql: GraphQL, economy: Economy
) -> None:
    bad = await graphql(
        ADD_METHOD,
        {"input": sepa_input(holder_name="", iban="DE89370400440532013001", bic="NOPE")},
        subject="creator:ann",
        roles=CREATOR,
    )
    assert bad.data["addPayoutMethod"] == {
        "payoutMethod": None,
        "errors": [
            {
                "field": "fields.holder_name",
                "message": "Account holder's name is required",
                "code": "MISSING_FIELD",
            },
            {
                "field": "fields.iban",
                "message": "this is not a valid IBAN: its check digits are wrong",
                "code": "INVALID_IBAN",
            },
            {
                "field": "fields.bic",
                "message": "this is not a valid BIC: it has the wrong length",
                "code": "INVALID_BIC",
            },
        ],
    }
    unknown = await graphql(
        ADD_METHOD,
        {"input": {"provider": "venmo", "fields": []}},
        subject="creator:ann",
        roles=CREATOR,
    )
    [refused] = unknown.data["addPayoutMethod"]["errors"]
    assert (refused["field"], refused["code"]) == ("provider", "UNKNOWN_PROVIDER")
    twice = await graphql(
        ADD_METHOD,
        {"input": {"provider": "paypal", "fields": [{"name": "email", "value": "a@b.io"}] * 2}},
        subject="creator:ann",
        roles=CREATOR,
    )
    assert [(e["field"], e["code"]) for e in twice.data["addPayoutMethod"]["errors"]] == [
        ("fields.email", "DUPLICATE_FIELD")
    ]
    added = await graphql(
        ADD_METHOD,
        {"input": sepa_input(holder_name="Ann", iban="DE89 3704 0044 0532 0130 00")},
        subject="creator:ann",
        roles=CREATOR,
    )
    method = added.data["addPayoutMethod"]["payoutMethod"]
    assert (method["status"], method["country"], method["display"]) == (
        "PENDING",
        "DE",
        "sepa: Ann · ••••3000 · COBADEFFXXX",
    )
    assert method["fields"] == [
        {"name": "holder_name", "value": "Ann", "secret": False},
        {"name": "iban", "value": "••••3000", "secret": True},
        {"name": "bic", "value": "COBADEFFXXX", "secret": False},
    ]
    queue = await graphql(
        "{ payoutMethodReviewQueue { edges { node { id display user { subject } } } } }",
        subject="finance:fay",
        roles=FINANCE,
    )
    [edge] = queue.data["payoutMethodReviewQueue"]["edges"]
    assert edge["node"]["user"] == {"subject": "creator:ann"}
    decided = await graphql(
        """mutation ($input: ReviewPayoutMethodInput!) {
          reviewPayoutMethod(input: $input) {
            payoutMethod { status decidedBy note }
            errors { code }
          }
        }""",
        {"input": {"payoutMethodId": method["id"], "decision": "VERIFY", "note": "micro-deposit"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert decided.data["reviewPayoutMethod"] == {
        "payoutMethod": {"status": "VERIFIED", "decidedBy": "finance:fay", "note": "micro-deposit"},
        "errors": [],
    }
    profile = await graphql(PROFILE, subject="creator:ann", roles=CREATOR)
    assert profile.data["complianceProfile"]["payoutMethods"] == [
        {"provider": "sepa", "status": "VERIFIED", "display": "sepa: Ann · ••••3000 · COBADEFFXXX"}
    ]
    assert profile.data["complianceProfile"]["sanctionsStatus"] is None  # not for the person


async def test_finance_clears_a_sanctions_hit_through_the_api(
    graphql: GraphQL, economy: Economy
) -> None:
    creator = await economy.users.ensure("creator:anvar")
    await make_payout_ready(economy, creator, legal_name="Anvar Karimov", country="UZ")
    hits = await graphql(
        """{ sanctionsHits { edges { node {
          id entryName matchedName score countryMatch status user { subject }
        } } } }""",
        subject="finance:fay",
        roles=FINANCE,
    )
    [edge] = hits.data["sanctionsHits"]["edges"]
    hit = edge["node"]
    assert (hit["entryName"], hit["score"], hit["countryMatch"], hit["status"]) == (
        "KARIMOV, Anvar Rustamovich",
        100,
        True,
        "OPEN",
    )
    target = await user_id_of(economy, "creator:anvar")
    profile = await graphql(PROFILE, {"userId": target}, subject="finance:fay", roles=FINANCE)
    assert profile.data["complianceProfile"]["sanctionsStatus"] == "POSSIBLE_MATCH"
    creator_view = await graphql(
        "{ sanctionsHits { edges { node { id } } } }", subject="creator:anvar", roles=CREATOR
    )
    assert creator_view.error_codes == ["FORBIDDEN"]
    decided = await graphql(
        """mutation ($input: DecideSanctionsHitInput!) {
          decideSanctionsHit(input: $input) { hit { status decidedBy note } errors { code } }
        }""",
        {"input": {"hitId": hit["id"], "decision": "CLEAR", "note": "born 1990, not 1971"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert decided.data["decideSanctionsHit"]["hit"] == {
        "status": "CLEARED",
        "decidedBy": "finance:fay",
        "note": "born 1990, not 1971",
    }
    now = await graphql(ELIGIBILITY, {"provider": "paypal"}, subject="creator:anvar", roles=CREATOR)
    assert now.data["payoutEligibility"]["eligible"] is True
    async with economy.db.read() as conn:
        assert await sanctions_store.hits(conn, status="OPEN", after=None, limit=5) == []


async def test_only_finance_reveals_a_full_tin_and_reads_the_year_end_report(
    graphql: GraphQL, economy: Economy
) -> None:
    creator = await economy.users.ensure("creator:dee")
    await make_payout_ready(economy, creator)
    target = await user_id_of(economy, "creator:dee")
    reveal = """mutation ($input: RevealTaxIdInput!) {
      revealTaxId(input: $input) { tin tinType errors { field code } }
    }"""
    denied = await graphql(
        reveal,
        {"input": {"userId": target, "reason": "curious"}},
        subject="creator:dee",
        roles=CREATOR,
    )
    assert denied.error_codes == ["FORBIDDEN"]
    no_reason = await graphql(
        reveal, {"input": {"userId": target, "reason": ""}}, subject="finance:fay", roles=FINANCE
    )
    assert no_reason.data["revealTaxId"]["errors"] == [{"field": "reason", "code": "INVALID_NOTE"}]
    revealed = await graphql(
        reveal,
        {"input": {"userId": target, "reason": "1099-K filing"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert revealed.data["revealTaxId"] == {"tin": "536904399", "tinType": "US_SSN", "errors": []}
    report = await graphql(
        "{ yearEndReport(year: 2026) { year csv rows { subject gross payouts form1099K dac7 } } }",
        subject="finance:fay",
        roles=FINANCE,
    )
    assert report.errors == []
    assert report.data["yearEndReport"]["year"] == 2026
    assert report.data["yearEndReport"]["csv"].startswith("year,user_id,subject,legal_name")
    out_of_range = await graphql(
        "{ yearEndReport(year: 1990) { year } }", subject="finance:fay", roles=FINANCE
    )
    assert out_of_range.error_codes == ["BAD_USER_INPUT"]
    creator_report = await graphql(
        "{ yearEndReport(year: 2026) { year } }", subject="creator:dee", roles=CREATOR
    )
    assert creator_report.error_codes == ["FORBIDDEN"]


async def test_declaring_a_birth_date_decides_whether_coins_may_be_bought(graphql: GraphQL) -> None:
    declare = """mutation ($input: DeclareDateOfBirthInput!) {
      declareDateOfBirth(input: $input) { mayBuyCoins requirements { code } errors { field code } }
    }"""
    minor = await graphql(
        declare,
        {"input": {"dateOfBirth": "2015-01-01", "country": "US"}},
        subject="viewer:kid",
        roles=("VIEWER",),
    )
    assert minor.data["declareDateOfBirth"] == {
        "mayBuyCoins": False,
        "requirements": [{"code": "AGE_UNVERIFIED"}],
        "errors": [],
    }
    adult = await graphql(
        declare,
        {"input": {"dateOfBirth": "1990-01-01", "country": "US"}},
        subject="viewer:ada",
        roles=("VIEWER",),
    )
    assert adult.data["declareDateOfBirth"]["mayBuyCoins"] is True
    bad = await graphql(
        declare,
        {"input": {"dateOfBirth": "1990-01-01", "country": "Narnia"}},
        subject="viewer:ada",
        roles=("VIEWER",),
    )
    assert bad.data["declareDateOfBirth"]["errors"] == [
        {"field": "country", "code": "INVALID_COUNTRY"}
    ]


async def test_the_sample_list_loads_for_the_api_tests(economy: Economy) -> None:
    loaded = await load_sample_sanctions(economy)
    assert (loaded.created, loaded.version.entries) == (True, 10)
