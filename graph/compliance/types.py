"""GraphQL types of compliance: payout eligibility with its requirements, identity verifications,
tax profiles (TIN shown as its last four only), payout methods (masked), sanctions hits, a person's
whole compliance profile (also beside each review) and the year-end report. Visible to the person
themselves and to FINANCE.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from compliance.gate import rules as gate_rules
from compliance.identity import rules as identity_rules
from compliance.identity import store as identity_store
from compliance.identity.store import IdentityRecord
from compliance.methods import rules as methods_rules
from compliance.methods import store as methods_store
from compliance.methods.store import StoredMethod
from compliance.reporting.rules import ReportRow
from compliance.sanctions import store as sanctions_store
from compliance.sanctions.store import Hit
from compliance.tax import rules as tax_rules
from compliance.tax import store as tax_store
from compliance.tax.store import StoredTaxForm
from compliance.tax.tin import masked
from graph.auth import Role
from graph.context import Context
from graph.errors import forbidden
from graph.global_ids import Node, to_global_id
from graph.scalars import BigInt, utc
from kernel.clock import utc_today

if TYPE_CHECKING:
    from graph.users.types import User

PayoutRequirementCode = strawberry.enum(
    gate_rules.RequirementCode, description="A requirement a payout is still missing."
)
IdentityVerificationStatus = strawberry.enum(
    identity_rules.IdentityStatus, description="Where an identity verification stands."
)
IdentityVerificationMethod = strawberry.enum(
    identity_rules.IdentityMethod, description="Who verifies: a FINANCE reviewer, or Stripe."
)
TaxFormKind = strawberry.enum(tax_rules.TaxFormKind, description="W9 for US persons, W8BEN others.")
TaxFormStatus = strawberry.enum(tax_rules.TaxStatus, description="Whether a tax form holds today.")
PayoutMethodStatus = strawberry.enum(
    methods_rules.PayoutMethodStatus, description="Whether a payout method may be paid to."
)
SanctionsStatus = strawberry.enum(
    gate_rules.SanctionsState, description="Where a person stands against the sanctions list."
)


@strawberry.enum(description="FINANCE's decision on a sanctions hit.")
class SanctionsHitStatus(enum.Enum):
    OPEN = "OPEN"
    CLEARED = "CLEARED"
    CONFIRMED = "CONFIRMED"
    SUPERSEDED = "SUPERSEDED"


@strawberry.type(description="A requirement a payout still misses, like Stripe's currently_due.")
class PayoutRequirement:
    code: PayoutRequirementCode  # type: ignore[valid-type]
    message: str


@strawberry.type(description="Whether a creator may be paid now, and if not, what is missing.")
class PayoutEligibility:
    eligible: bool
    requirements: list[PayoutRequirement]
    withholding_bps: int = strawberry.field(
        description="Backup withholding in basis points (2400 = 24%) a payout would have "
        "withheld; 0 with a valid tax form."
    )

    @classmethod
    def of(cls, found: gate_rules.Eligibility) -> PayoutEligibility:
        return cls(
            eligible=found.eligible,
            requirements=[
                PayoutRequirement(code=gate_rules.RequirementCode(r.code), message=r.message)
                for r in found.requirements
            ],
            withholding_bps=found.withholding_bps,
        )


async def _user(info: Info[Context, None], user_id: int) -> User:
    from graph.users.types import User

    found = await info.context.loaders.user.load(user_id)
    assert found is not None
    return User.of(found)


UserRef = Annotated["User", strawberry.lazy("graph.users.types")]


@strawberry.type(description="A person's identity verification (KYC).")
class IdentityVerification(Node):
    id: strawberry.ID
    status: IdentityVerificationStatus  # type: ignore[valid-type]
    method: IdentityVerificationMethod | None  # type: ignore[valid-type]
    reason: str | None = strawberry.field(description="Why more input is needed, or rejected.")
    legal_name: str | None
    date_of_birth: date | None
    date_of_birth_verified: bool
    country: str | None
    submitted_at: datetime | None
    verified_at: datetime | None
    expires_on: date | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    user_id: strawberry.Private[int]

    @classmethod
    def of(cls, record: IdentityRecord, today: date) -> IdentityVerification:
        ident = record.identity
        return cls(
            id=to_global_id("IdentityVerification", record.user_id),
            status=ident.status_on(today),
            method=ident.method,
            reason=ident.reason,
            legal_name=ident.legal_name,
            date_of_birth=ident.birth_date,
            date_of_birth_verified=ident.birth_date_verified,
            country=ident.country,
            submitted_at=utc(record.submitted_at) if record.submitted_at else None,
            verified_at=utc(ident.verified_at) if ident.verified_at else None,
            expires_on=ident.expires_on,
            decided_by=record.decided_by,
            decided_at=utc(record.decided_at) if record.decided_at else None,
            note=record.note,
            user_id=record.user_id,
        )

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> UserRef:
        return await _user(info, self.user_id)

    @strawberry.field(
        description="Everything compliance knows of this person, to read beside the review "
        "(FINANCE)."
    )
    async def compliance_profile(self, info: Info[Context, None]) -> ComplianceProfile:
        return await compliance_profile_of(info, self.user_id)


@strawberry.type(description="A person's current tax form. The TIN shows as its last four only.")
class TaxProfile:
    form: TaxFormKind  # type: ignore[valid-type]
    status: TaxFormStatus  # type: ignore[valid-type]
    legal_name: str
    country: str
    tin_type: str = strawberry.field(description="US_SSN, US_EIN, US_ITIN, DE_IDNR, ...")
    tin_last_four: str
    tin_masked: str
    tin_checked: bool = strawberry.field(
        description="False for a foreign TIN whose format we cannot check."
    )
    signed_on: date
    expires_on: date | None

    @classmethod
    def of(cls, stored: StoredTaxForm, residence: str | None, today: date) -> TaxProfile:
        form = stored.form
        return cls(
            form=form.kind,
            status=tax_rules.tax_status(form, residence or form.country, today),
            legal_name=form.legal_name,
            country=form.country,
            tin_type=form.tin_kind,
            tin_last_four=form.tin_last4,
            tin_masked=masked(form.tin_last4),
            tin_checked=stored.tin_checked,
            signed_on=form.signed_on,
            expires_on=form.expires_on,
        )


@strawberry.type(description="One payee field of a payout method; a secret one is masked.")
class PayoutMethodField:
    name: str
    value: str = strawberry.field(description="The value; for a secret field ••••, last four.")
    secret: bool


@strawberry.type(description="Where a creator is paid through one provider; secrets masked.")
class PayoutMethod(Node):
    id: strawberry.ID
    provider: str
    status: PayoutMethodStatus  # type: ignore[valid-type]
    display: str
    fields: list[PayoutMethodField]
    holder_name: str | None
    country: str | None
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    user_id: strawberry.Private[int]

    @classmethod
    def of(cls, stored: StoredMethod) -> PayoutMethod:
        return cls(
            id=to_global_id("PayoutMethod", stored.id),
            provider=stored.provider,
            status=stored.status,
            display=stored.display,
            fields=[
                PayoutMethodField(name=f.name, value=f.shown, secret=f.secret)
                for f in stored.fields
            ],
            holder_name=stored.holder_name,
            country=stored.country,
            created_at=utc(stored.created_at),
            decided_by=stored.decided_by,
            decided_at=utc(stored.decided_at) if stored.decided_at else None,
            note=stored.note,
            user_id=stored.user_id,
        )

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> UserRef:
        return await _user(info, self.user_id)

    @strawberry.field(
        description="Everything compliance knows of this person, to read beside the review "
        "(FINANCE)."
    )
    async def compliance_profile(self, info: Info[Context, None]) -> ComplianceProfile:
        return await compliance_profile_of(info, self.user_id)


@strawberry.type(description="A possible sanctions list match, for FINANCE to clear or confirm.")
class SanctionsHit(Node):
    id: strawberry.ID
    entry_uid: int = strawberry.field(description="The list entry's number (OFAC ent_num).")
    entry_name: str
    matched_name: str = strawberry.field(description="The entry's name or alias that matched.")
    screened_name: str
    score: int = strawberry.field(description="Name similarity, 0 to 100.")
    country_match: bool | None
    status: SanctionsHitStatus
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime
    user_id: strawberry.Private[int]

    @classmethod
    def of(cls, hit: Hit) -> SanctionsHit:
        return cls(
            id=to_global_id("SanctionsHit", hit.id),
            entry_uid=hit.entry_uid,
            entry_name=hit.entry_name,
            matched_name=hit.matched_name,
            screened_name=hit.screened_name,
            score=hit.score,
            country_match=hit.country_match,
            status=SanctionsHitStatus(hit.status),
            decided_by=hit.decided_by,
            decided_at=utc(hit.decided_at) if hit.decided_at else None,
            note=hit.note,
            created_at=utc(hit.created_at),
            user_id=hit.user_id,
        )

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> UserRef:
        return await _user(info, self.user_id)

    @strawberry.field(
        description="Everything compliance knows of this person, to read beside the review "
        "(FINANCE)."
    )
    async def compliance_profile(self, info: Info[Context, None]) -> ComplianceProfile:
        return await compliance_profile_of(info, self.user_id)


@strawberry.type(description="Everything compliance knows of a person, for them and FINANCE.")
class ComplianceProfile:
    identity: IdentityVerification
    tax_profile: TaxProfile | None
    payout_methods: list[PayoutMethod]
    sanctions_status: SanctionsStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="FINANCE only; null for the person themselves."
    )
    user_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> UserRef:
        return await _user(info, self.user_id)


async def compliance_profile_of(info: Info[Context, None], user_id: int) -> ComplianceProfile:
    """Everything compliance knows of user `user_id`: for the person themselves, or for FINANCE
    (who also sees the sanctions status); anyone else is refused."""
    reviewer = info.context.principal.has(Role.FINANCE)
    if not reviewer and (await info.context.user()).id != user_id:
        raise forbidden("see another person's compliance data (needs the FINANCE role)")
    today = utc_today()
    async with info.context.eco.db.read() as conn:
        record = await identity_store.load(conn, user_id)
        form = await tax_store.current(conn, user_id)
        found = await methods_store.of_user(conn, user_id)
        sanctions = await sanctions_store.state_of(conn, user_id) if reviewer else None
    residence = record.identity.country
    return ComplianceProfile(
        identity=IdentityVerification.of(record, today),
        tax_profile=TaxProfile.of(form, residence, today) if form else None,
        payout_methods=[PayoutMethod.of(m) for m in found],
        sanctions_status=sanctions,
        user_id=user_id,
    )


@strawberry.type(description="One creator's payouts in one currency over a year.")
class YearEndReportRow:
    subject: str
    legal_name: str
    country: str
    tax_form: str
    tin_last_four: str
    currency: str
    gross: BigInt = strawberry.field(description="Paid before fees and withholding, minor units.")
    payouts: int
    withholding: BigInt
    form_1099k: bool = strawberry.field(name="form1099K")
    dac7: bool
    user_id: strawberry.Private[int]

    @classmethod
    def of(cls, row: ReportRow) -> YearEndReportRow:
        return cls(
            subject=row.subject,
            legal_name=row.legal_name,
            country=row.country,
            tax_form=row.tax_form,
            tin_last_four=row.tin_last4,
            currency=row.currency,
            gross=BigInt(row.gross_minor),
            payouts=row.payouts,
            withholding=BigInt(row.withholding_minor),
            form_1099k=row.form_1099k,
            dac7=row.dac7,
            user_id=row.user_id,
        )

    @strawberry.field
    async def user(self, info: Info[Context, None]) -> UserRef:
        return await _user(info, self.user_id)


@strawberry.type(
    description="Per creator and currency: gross paid, payouts, withholding, "
    "and whether Form 1099-K or DAC7 reporting applies."
)
class YearEndReport:
    year: int
    rows: list[YearEndReportRow]
    csv: str = strawberry.field(description="The same rows as CSV, with a header line.")
