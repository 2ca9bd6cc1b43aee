"""The payout gate's policy as a pure function: facts about a creator in, a decision out —
eligible, or every missing requirement as a code and a message (like Stripe's
`requirements.currently_due`), with the backup withholding rate that applies. Also the age gate
for buying coins. No database, no clock: the caller passes `today`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from compliance.identity.age import AgeRule
from compliance.identity.rules import Identity, IdentityStatus
from compliance.methods.rules import PayoutMethodStatus
from compliance.tax.rules import (
    MissingFormRule,
    TaxForm,
    TaxStatus,
    backup_withholding_bps,
    tax_status,
)
from settings.service import Settings


class RequirementCode(enum.StrEnum):
    IDENTITY_UNVERIFIED = "IDENTITY_UNVERIFIED"
    AGE_UNVERIFIED = "AGE_UNVERIFIED"
    TAX_FORM_MISSING = "TAX_FORM_MISSING"
    TAX_FORM_EXPIRED = "TAX_FORM_EXPIRED"
    SANCTIONS_REVIEW = "SANCTIONS_REVIEW"
    PAYOUT_METHOD_UNVERIFIED = "PAYOUT_METHOD_UNVERIFIED"
    COUNTRY_NOT_SUPPORTED = "COUNTRY_NOT_SUPPORTED"


@dataclass(frozen=True)
class Requirement:
    code: str
    message: str


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    requirements: tuple[Requirement, ...]
    """Every missing requirement, in a stable order; empty when eligible."""
    withholding_bps: int
    """0, or the backup withholding rate when a payout goes without a valid tax form."""


class SanctionsState(enum.StrEnum):
    NO_LIST = "NO_LIST"
    """No sanctions list has been loaded."""
    NOT_SCREENED = "NOT_SCREENED"
    OUTDATED = "OUTDATED"
    """Screened against an older list; the re-screening has not reached this person yet."""
    CLEAR = "CLEAR"
    POSSIBLE_MATCH = "POSSIBLE_MATCH"
    """A hit waits for FINANCE to clear or confirm it."""
    CONFIRMED_MATCH = "CONFIRMED_MATCH"


@dataclass(frozen=True)
class MethodFacts:
    status: PayoutMethodStatus
    country: str | None


@dataclass(frozen=True)
class PayoutFacts:
    """Everything the gate looks at, gathered by `compliance.gate.service` from the stores."""

    identity: Identity
    tax_form: TaxForm | None
    sanctions: SanctionsState
    method: MethodFacts | None
    """The creator's current payout method for the provider asked about."""
    provider: str
    currency: str
    amount_minor: int

    @property
    def country(self) -> str | None:
        """Where the creator lives: their identity's country, else their tax form's."""
        if self.identity.country:
            return self.identity.country
        return self.tax_form.country if self.tax_form else None


@dataclass(frozen=True)
class GatePolicy:
    ages: AgeRule
    missing_tax_form: MissingFormRule
    backup_withholding_bps: int
    nonresident_withholding_bps: int
    blocked_countries: frozenset[str]
    allowed_countries: frozenset[str]
    """Empty: every country not blocked."""
    sanctions_list_required: bool

    @classmethod
    def of(cls, settings: Settings) -> GatePolicy:
        c = settings.compliance
        return cls(
            ages=AgeRule(c.age_of_majority, dict(c.age_of_majority_by_country)),
            missing_tax_form=MissingFormRule(c.tax_form_missing),
            backup_withholding_bps=c.backup_withholding_bps,
            nonresident_withholding_bps=c.nonresident_withholding_bps,
            blocked_countries=frozenset(c.payout_blocked_countries),
            allowed_countries=frozenset(c.payout_countries),
            sanctions_list_required=c.sanctions_list_required,
        )

    def country_supported(self, country: str) -> bool:
        if country in self.blocked_countries:
            return False
        return not self.allowed_countries or country in self.allowed_countries


R = RequirementCode

_IDENTITY_MESSAGES = {
    IdentityStatus.NOT_STARTED: "verify your identity to collect payouts",
    IdentityStatus.PENDING: "your identity verification has started: finish it, or wait for "
    "our review",
    IdentityStatus.PROCESSING: "your identity verification is being processed",
    IdentityStatus.REJECTED: "your identity verification was rejected",
    IdentityStatus.EXPIRED: "your identity verification has expired: verify again",
    IdentityStatus.CANCELED: "your identity verification was canceled: start again",
}

_SANCTIONS_MESSAGES = {
    SanctionsState.NO_LIST: "screening is not available yet: payouts wait for a compliance check",
    SanctionsState.NOT_SCREENED: "your legal name has not been screened yet",
    SanctionsState.OUTDATED: "your compliance screening is being renewed",
    SanctionsState.POSSIBLE_MATCH: "payouts are on hold for a compliance review",
    SanctionsState.CONFIRMED_MATCH: "payouts are on hold for a compliance review",
}
"""Deliberately neutral: a screening result is never disclosed to the person screened."""


def decide(facts: PayoutFacts, policy: GatePolicy, today: date) -> Eligibility:
    """May this payout go? Every missing requirement is listed, not only the first."""
    found: list[Requirement] = []
    identity = facts.identity
    status = identity.status_on(today)
    verified = status is IdentityStatus.VERIFIED
    if not verified:
        message = _IDENTITY_MESSAGES.get(status)
        if status is IdentityStatus.REQUIRES_INPUT:
            message = "your identity verification needs more from you: " + (
                identity.reason or "start it again"
            )
        found.append(Requirement(R.IDENTITY_UNVERIFIED, message or status.value))
    country = facts.country
    found.extend(_age(identity, verified, country, policy, today))
    found.extend(_country(country, facts, policy))
    tax = tax_status(facts.tax_form, country, today)
    withholding = 0
    if tax is not TaxStatus.VALID:
        if policy.missing_tax_form is MissingFormRule.WITHHOLD:
            withholding = backup_withholding_bps(
                tax,
                country,
                us_bps=policy.backup_withholding_bps,
                nonresident_bps=policy.nonresident_withholding_bps,
            )
        else:
            found.append(_tax_requirement(tax, facts.tax_form))
    if facts.sanctions is not SanctionsState.CLEAR and not (
        facts.sanctions is SanctionsState.NO_LIST and not policy.sanctions_list_required
    ):
        found.append(Requirement(R.SANCTIONS_REVIEW, _SANCTIONS_MESSAGES[facts.sanctions]))
    found.extend(_method(facts))
    return Eligibility(eligible=not found, requirements=tuple(found), withholding_bps=withholding)


def _age(
    identity: Identity, verified: bool, country: str | None, policy: GatePolicy, today: date
) -> list[Requirement]:
    majority = policy.ages.majority_in(country)
    if not verified or identity.birth_date is None or not identity.birth_date_verified:
        return [
            Requirement(
                R.AGE_UNVERIFIED,
                f"your age is verified with your identity: you must be {majority} or older",
            )
        ]
    if not policy.ages.is_adult(identity.birth_date, country, today):
        where = f" in {country}" if country else ""
        return [
            Requirement(
                R.AGE_UNVERIFIED, f"you must be {majority} or older{where} to collect payouts"
            )
        ]
    return []


def _country(country: str | None, facts: PayoutFacts, policy: GatePolicy) -> list[Requirement]:
    if country is None:
        return [
            Requirement(
                R.COUNTRY_NOT_SUPPORTED,
                "we do not know where you live yet: verify your identity or give a tax form",
            )
        ]
    if not policy.country_supported(country):
        return [Requirement(R.COUNTRY_NOT_SUPPORTED, f"payouts to {country} are not supported")]
    method_country = facts.method.country if facts.method else None
    if method_country and not policy.country_supported(method_country):
        return [
            Requirement(
                R.COUNTRY_NOT_SUPPORTED,
                f"payouts to accounts in {method_country} are not supported",
            )
        ]
    return []


def _tax_requirement(tax: TaxStatus, form: TaxForm | None) -> Requirement:
    if tax is TaxStatus.EXPIRED and form is not None:
        return Requirement(
            R.TAX_FORM_EXPIRED,
            f"your {form.kind.value} expired on {form.expires_on}: submit a new one",
        )
    if tax is TaxStatus.WRONG_FORM:
        return Requirement(R.TAX_FORM_MISSING, "residents of the US must give a W-9")
    return Requirement(
        R.TAX_FORM_MISSING, "submit a tax form: a W-9 if you are a US person, else a W-8BEN"
    )


def _method(facts: PayoutFacts) -> list[Requirement]:
    method = facts.method
    if method is None:
        message = f"add a payout method for {facts.provider}"
    elif method.status is PayoutMethodStatus.VERIFIED:
        return []
    elif method.status is PayoutMethodStatus.REJECTED:
        message = f"your {facts.provider} payout method was rejected: add another"
    else:
        message = f"your {facts.provider} payout method is waiting for verification"
    return [Requirement(R.PAYOUT_METHOD_UNVERIFIED, message)]


def may_buy_coins(
    birth_date: date | None, country: str | None, policy: GatePolicy, today: date
) -> Eligibility:
    """The age gate on buying coins: the buyer's birth date (declared or verified) must show
    them of age where they live."""
    majority = policy.ages.majority_in(country)
    if birth_date is None:
        requirement = Requirement(
            R.AGE_UNVERIFIED, f"tell us your date of birth: buyers must be {majority} or older"
        )
    elif not policy.ages.is_adult(birth_date, country, today):
        requirement = Requirement(R.AGE_UNVERIFIED, f"buyers must be {majority} or older")
    else:
        return Eligibility(eligible=True, requirements=(), withholding_bps=0)
    return Eligibility(eligible=False, requirements=(requirement,), withholding_bps=0)
