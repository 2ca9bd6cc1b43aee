"""The compliance root fields: `payoutEligibility` and `complianceProfile` for a creator (or any
user, for FINANCE), FINANCE's review queues and year-end report, and the mutations to submit a
tax form, verify an identity, add a payout method, and review them.
"""

from __future__ import annotations

from typing import ClassVar

import strawberry
from strawberry.types import Info

from compliance.gate import service as gate_service
from compliance.identity import store as identity_store
from compliance.methods import store as methods_store
from compliance.reporting import rules as reporting_rules
from compliance.reporting import service as reporting_service
from compliance.sanctions import store as sanctions_store
from economy import users
from graph.auth import Role
from graph.compliance.mutations.add_payout_method import AddPayoutMethodPayload, add_payout_method
from graph.compliance.mutations.decide_sanctions_hit import (
    DecideSanctionsHitPayload,
    decide_sanctions_hit,
)
from graph.compliance.mutations.declare_date_of_birth import (
    DeclareDateOfBirthPayload,
    declare_date_of_birth,
)
from graph.compliance.mutations.reveal_tax_id import RevealTaxIdPayload, reveal_tax_id
from graph.compliance.mutations.review_identity import ReviewIdentityPayload, review_identity
from graph.compliance.mutations.review_payout_method import (
    ReviewPayoutMethodPayload,
    review_payout_method,
)
from graph.compliance.mutations.start_identity_verification import (
    StartIdentityVerificationPayload,
    start_identity_verification,
)
from graph.compliance.mutations.submit_tax_form import SubmitTaxFormPayload, submit_tax_form
from graph.compliance.types import (
    ComplianceProfile,
    IdentityVerification,
    PayoutEligibility,
    PayoutMethod,
    SanctionsHit,
    SanctionsHitStatus,
    YearEndReport,
    YearEndReportRow,
    compliance_profile_of,
)
from graph.context import Context
from graph.errors import bad_input, forbidden
from graph.global_ids import Connection, PageRequest, connection, query_id
from graph.inputs import filter_text
from graph.permissions import IsAuthenticated, _RequireRoles
from kernel.clock import utc_today


class IsComplianceReviewer(_RequireRoles):
    roles: ClassVar[tuple[Role, ...]] = (Role.FINANCE,)
    action: ClassVar[str] = "review compliance"


class CanCollectPayouts(_RequireRoles):
    roles: ClassVar[tuple[Role, ...]] = (Role.CREATOR,)
    action: ClassVar[str] = "set up payouts"


async def _subject(info: Info[Context, None], user_id: strawberry.ID | None) -> int:
    """Whose compliance data: the caller's, or (FINANCE only) the user named by `user_id`."""
    me = await info.context.user()
    if user_id is None:
        return me.id
    pk = query_id(user_id, "User", "userId")
    if pk != me.id and not info.context.principal.has(Role.FINANCE):
        raise forbidden("see another person's compliance data (needs the FINANCE role)")
    async with info.context.eco.db.read() as conn:
        if await users.by_id(conn, pk) is None:
            raise bad_input("userId: no user has this id", argument="userId")
    return pk


MIN_YEAR = 2000
MAX_YEAR = 2100


@strawberry.type
class ComplianceQueries:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Whether a payout through `provider` may go now, and every missing "
        "requirement: yours, or any user's for FINANCE.",
    )
    async def payout_eligibility(
        self,
        info: Info[Context, None],
        provider: str,
        currency: str = "USD",
        user_id: strawberry.ID | None = None,
    ) -> PayoutEligibility:
        pk = await _subject(info, user_id)
        eco = info.context.eco
        async with eco.db.read() as conn:
            found = await gate_service.check_payout(
                conn,
                user_id=pk,
                provider=filter_text(provider, argument="provider").strip().lower()[:32],
                currency=currency.strip().upper()[:3],
                amount_minor=0,
                today=utc_today(),
                settings=eco.settings,
            )
        return PayoutEligibility.of(found)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Identity, tax form and payout methods: yours, or any user's for FINANCE "
        "(who also sees the sanctions status).",
    )
    async def compliance_profile(
        self, info: Info[Context, None], user_id: strawberry.ID | None = None
    ) -> ComplianceProfile:
        return await compliance_profile_of(info, await _subject(info, user_id))

    @strawberry.field(
        permission_classes=[IsComplianceReviewer],
        description="Manual identity verifications waiting for a decision (FINANCE).",
    )
    async def identity_review_queue(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[IdentityVerification]:
        page = PageRequest.of(first, after)
        today = utc_today()
        async with info.context.eco.db.read() as conn:
            rows = await identity_store.review_queue(conn, after=page.after, limit=page.limit + 1)
        return connection(
            rows,
            page,
            lambda r: r.user_id,
            lambda r: IdentityVerification.of(r, today),
            identity_store.count_review_queue,
        )

    @strawberry.field(
        permission_classes=[IsComplianceReviewer],
        description="Payout methods waiting for verification (FINANCE).",
    )
    async def payout_method_review_queue(
        self, info: Info[Context, None], first: int | None = None, after: str | None = None
    ) -> Connection[PayoutMethod]:
        page = PageRequest.of(first, after)
        async with info.context.eco.db.read() as conn:
            rows = await methods_store.review_queue(conn, after=page.after, limit=page.limit + 1)
        return connection(
            rows, page, lambda m: m.id, PayoutMethod.of, methods_store.count_review_queue
        )

    @strawberry.field(
        permission_classes=[IsComplianceReviewer],
        description="Possible sanctions matches, open ones by default (FINANCE).",
    )
    async def sanctions_hits(
        self,
        info: Info[Context, None],
        status: SanctionsHitStatus | None = SanctionsHitStatus.OPEN,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SanctionsHit]:
        page = PageRequest.of(first, after)
        wanted = status.value if status else None
        async with info.context.eco.db.read() as conn:
            rows = await sanctions_store.hits(
                conn, status=wanted, after=page.after, limit=page.limit + 1
            )
        return connection(
            rows,
            page,
            lambda h: h.id,
            SanctionsHit.of,
            lambda conn: sanctions_store.count_hits(conn, status=wanted),
        )

    @strawberry.field(
        permission_classes=[IsComplianceReviewer],
        description="Per creator and currency, the year's gross paid, payouts, withholding and "
        "whether 1099-K or DAC7 reporting applies, also as CSV (FINANCE; audited).",
    )
    async def year_end_report(self, info: Info[Context, None], year: int) -> YearEndReport:
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise bad_input(f"year must be between {MIN_YEAR} and {MAX_YEAR}", argument="year")
        actor = await info.context.user()
        rows = await reporting_service.year_end_report(
            info.context.compliance, year=year, actor=actor.subject
        )
        return YearEndReport(
            year=year, rows=[YearEndReportRow.of(r) for r in rows], csv=reporting_rules.to_csv(rows)
        )


@strawberry.type
class ComplianceMutations:
    submit_tax_form: SubmitTaxFormPayload = strawberry.mutation(
        resolver=submit_tax_form,
        permission_classes=[CanCollectPayouts],
        description="Give a W-9 or W-8BEN (CREATOR). The TIN is encrypted; shown as last four.",
    )
    start_identity_verification: StartIdentityVerificationPayload = strawberry.mutation(
        resolver=start_identity_verification,
        permission_classes=[CanCollectPayouts],
        description="Start verifying your identity, manually or through Stripe (CREATOR).",
    )
    add_payout_method: AddPayoutMethodPayload = strawberry.mutation(
        resolver=add_payout_method,
        permission_classes=[CanCollectPayouts],
        description="Add where you are paid through a provider (CREATOR); it is verified next.",
    )
    declare_date_of_birth: DeclareDateOfBirthPayload = strawberry.mutation(
        resolver=declare_date_of_birth,
        permission_classes=[IsAuthenticated],
        description="State your date of birth and country: buying coins needs an adult.",
    )
    review_identity: ReviewIdentityPayload = strawberry.mutation(
        resolver=review_identity,
        permission_classes=[IsComplianceReviewer],
        description="Decide a manual identity verification, with a note (FINANCE; audited).",
    )
    review_payout_method: ReviewPayoutMethodPayload = strawberry.mutation(
        resolver=review_payout_method,
        permission_classes=[IsComplianceReviewer],
        description="Verify or reject a payout method, with a note (FINANCE; audited).",
    )
    decide_sanctions_hit: DecideSanctionsHitPayload = strawberry.mutation(
        resolver=decide_sanctions_hit,
        permission_classes=[IsComplianceReviewer],
        description="Clear or confirm a possible sanctions match, with a note (FINANCE; audited).",
    )
    reveal_tax_id: RevealTaxIdPayload = strawberry.mutation(
        resolver=reveal_tax_id,
        permission_classes=[IsComplianceReviewer],
        description="Read a person's full TIN for filing, with a reason (FINANCE; audited).",
    )
