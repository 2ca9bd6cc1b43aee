"""The payouts' root fields: one payout, pages of payouts (a creator's own; FINANCE filters all),
a quote, the providers, and the mutations to request, review, cancel, retry and resolve them.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from economy.users import by_subject
from graph.context import Context
from graph.errors import bad_input
from graph.global_ids import Connection, PageRequest, connection, query_id
from graph.inputs import filter_text
from graph.payouts.mutations.acknowledge_discrepancy import (
    AcknowledgeDiscrepancyPayload,
    acknowledge_discrepancy,
)
from graph.payouts.mutations.bulk_approve_payouts import (
    BulkApprovePayoutsPayload,
    bulk_approve_payouts,
)
from graph.payouts.mutations.request_payout import RequestPayoutPayload, request_payout_mutation
from graph.payouts.mutations.review_payout import (
    PayoutReviewPayload,
    approve_payout,
    cancel_payout,
    reject_payout,
    resolve_payout,
    retry_payout,
)
from graph.payouts.quote import PayoutQuotePayload, payout_quote
from graph.payouts.types import (
    Payout,
    PayoutConnection,
    PayoutDiscrepancy,
    PayoutProviderInfo,
    PayoutSort,
    PayoutStatus,
)
from graph.permissions import CanCancelPayouts, CanRequestPayouts, IsAuthenticated, IsFinance
from graph.scalars import BigInt
from kernel import validation
from kernel.clock import as_utc
from kernel.errors import DomainError
from payouts import queries
from payouts.discrepancies import count_discrepancies, list_discrepancies
from payouts.queries import PayoutFilter
from payouts.store import load_payout


@strawberry.type
class PayoutQueries:
    payout_quote: PayoutQuotePayload = strawberry.field(
        resolver=payout_quote,
        permission_classes=[CanRequestPayouts],
        description="What cashing out `diamonds` through `provider` would pay you, checked as "
        "`requestPayout` checks it (amount, provider, currency, minimum, compliance): gross, "
        "fee, withholding and net. Holds and records nothing (CREATOR).",
    )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="A payout by id: your own, or any for FINANCE and ADMIN.",
    )
    async def payout(self, info: Info[Context, None], id: strawberry.ID) -> Payout | None:
        pk = query_id(id, "Payout", "id")
        async with info.context.eco.db.read() as conn:
            found = await load_payout(conn, pk)
        if found is None or not await info.context.may_see_money_of(found.user_id):
            return None
        return Payout.of(found)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Payouts, newest first unless sorted otherwise: your own; FINANCE and ADMIN "
        "see everyone's and may filter by creator subject. `minDiamonds` and `maxDiamonds` bound "
        "the amount (inclusive), `createdAfter` inclusive and `createdBefore` exclusive the time.",
    )
    async def payouts(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        status: PayoutStatus | None = None,  # type: ignore[valid-type]
        provider: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        creator: str | None = None,
        min_diamonds: BigInt | None = None,
        max_diamonds: BigInt | None = None,
        sort: PayoutSort = queries.PayoutOrder.NEWEST,  # type: ignore[valid-type]
    ) -> PayoutConnection:
        page = PageRequest.of(first, after)
        ctx = info.context
        if ctx.principal.sees_all_money:
            user_id = None
            if creator is not None:
                user_id = await _creator_id(ctx, creator)
        else:
            user_id = (await ctx.user()).id
        where = PayoutFilter(
            user_id=user_id,
            status=status,
            provider=filter_text(provider, argument="provider"),
            created_after=as_utc(created_after) if created_after else None,
            created_before=as_utc(created_before) if created_before else None,
            min_diamonds=None if min_diamonds is None else int(min_diamonds),
            max_diamonds=None if max_diamonds is None else int(max_diamonds),
        )
        async with ctx.eco.db.read() as conn:
            rows = await queries.payouts_page(
                conn, where, before_id=page.after, limit=page.limit + 1, order=sort
            )
        found = connection(
            rows, page, lambda p: p.id, Payout.of, lambda conn: queries.count_payouts(conn, where)
        )
        return PayoutConnection(
            edges=found.edges, page_info=found.page_info, count=found.count, where=where, order=sort
        )

    @strawberry.field(
        permission_classes=[IsFinance],
        description="Discrepancies between the providers' outcomes and our records, newest "
        "first: the open ones by default, every one with open: false (FINANCE).",
    )
    async def payout_discrepancies(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        open: bool = True,
    ) -> Connection[PayoutDiscrepancy]:
        page = PageRequest.of(first, after)
        async with info.context.eco.db.read() as conn:
            rows = await list_discrepancies(
                conn, open_only=open, after_id=page.after, limit=page.limit + 1
            )
        return connection(
            rows,
            page,
            lambda d: d.id,
            PayoutDiscrepancy.of,
            lambda conn: count_discrepancies(conn, open_only=open),
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The payout providers configured on this server, each with the payee fields "
        "`addPayoutMethod` takes for it.",
    )
    async def payout_providers(self, info: Info[Context, None]) -> list[PayoutProviderInfo]:
        svc = info.context.payouts
        if svc is None:
            return []
        return [
            PayoutProviderInfo.of(status.provider)
            for status in svc.providers.statuses()
            if status.provider is not None
        ]


@strawberry.type
class PayoutMutations:
    request_payout: RequestPayoutPayload = strawberry.mutation(
        resolver=request_payout_mutation,
        permission_classes=[CanRequestPayouts],
        description="Cash out diamonds (CREATOR).",
    )
    approve_payout: PayoutReviewPayload = strawberry.mutation(
        resolver=approve_payout,
        permission_classes=[IsFinance],
        description="Approve a payout awaiting approval or on hold (FINANCE, not the requester).",
    )
    bulk_approve_payouts: BulkApprovePayoutsPayload = strawberry.mutation(
        resolver=bulk_approve_payouts,
        permission_classes=[IsFinance],
        description="Approve many payouts, each on its own: the answer says per payout whether "
        "it was approved or why not; the four-eyes rule holds per payout (FINANCE).",
    )
    reject_payout: PayoutReviewPayload = strawberry.mutation(
        resolver=reject_payout,
        permission_classes=[IsFinance],
        description="Reject a payout; its diamonds are released (FINANCE).",
    )
    cancel_payout: PayoutReviewPayload = strawberry.mutation(
        resolver=cancel_payout,
        permission_classes=[CanCancelPayouts],
        description="Cancel a payout before it is dispatched (its creator, or FINANCE).",
    )
    retry_payout: PayoutReviewPayload = strawberry.mutation(
        resolver=retry_payout,
        permission_classes=[IsFinance],
        description="Retry a failed payout as a new attempt, with a reason: hold its diamonds "
        "again and dispatch; refused while the last attempt could still pay (FINANCE).",
    )
    resolve_payout: PayoutReviewPayload = strawberry.mutation(
        resolver=resolve_payout,
        permission_classes=[IsFinance],
        description="Settle a stuck payout, with a reason; the provider is asked first and what "
        "it says wins; only where it cannot be asked is the stated outcome taken, by hand "
        "(FINANCE).",
    )
    acknowledge_payout_discrepancy: AcknowledgeDiscrepancyPayload = strawberry.mutation(
        resolver=acknowledge_discrepancy,
        permission_classes=[IsFinance],
        description="Close a discrepancy once it has been dealt with, with a note (FINANCE).",
    )


NO_SUCH_USER = 0
"""No user has id 0: the filter of a creator nobody is matches no payout."""


async def _creator_id(ctx: Context, creator: str) -> int:
    """The creator a FINANCE filter names, read and never created (a read writes nothing)."""
    try:
        checked = validation.subject(creator, field="creator")
    except DomainError as exc:
        raise bad_input(f"creator: {exc.message}", argument="creator") from None
    async with ctx.eco.db.read() as conn:
        found = await by_subject(conn, checked)
    return NO_SUCH_USER if found is None else found.id
