"""Reconciliation's root fields, FINANCE only: runs newest first (by provider), one run, and the
mutations to reconcile a provider now and to resolve an exception.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.global_ids import Connection, PageRequest, connection, query_id
from graph.inputs import filter_text
from graph.permissions import IsFinance
from graph.reconciliation.mutations.reconcile_provider import (
    ReconcileProviderPayload,
    reconcile_provider,
)
from graph.reconciliation.mutations.resolve_exception import (
    ResolveReconciliationExceptionPayload,
    resolve_reconciliation_exception,
)
from graph.reconciliation.types import ReconciliationRun
from payouts.reconciliation.store import count_runs, load_run, runs_page


@strawberry.type
class ReconciliationQueries:
    @strawberry.field(
        permission_classes=[IsFinance],
        description="Reconciliation runs, newest first, of one provider or all (FINANCE).",
    )
    async def reconciliation_runs(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        provider: str | None = None,
    ) -> Connection[ReconciliationRun]:
        page = PageRequest.of(first, after)
        of = filter_text(provider, argument="provider")
        async with info.context.eco.db.read() as conn:
            rows = await runs_page(conn, provider=of, before_id=page.after, limit=page.limit + 1)
        return connection(
            rows,
            page,
            lambda r: r.id,
            ReconciliationRun.of,
            lambda conn: count_runs(conn, provider=of),
        )

    @strawberry.field(permission_classes=[IsFinance], description="One run by id (FINANCE).")
    async def reconciliation_run(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> ReconciliationRun | None:
        pk = query_id(id, "ReconciliationRun", "id")
        async with info.context.eco.db.read() as conn:
            found = await load_run(conn, pk)
        return None if found is None else ReconciliationRun.of(found)


@strawberry.type
class ReconciliationMutations:
    reconcile_provider: ReconcileProviderPayload = strawberry.mutation(
        resolver=reconcile_provider,
        permission_classes=[IsFinance],
        description="Reconcile one provider for a period now; a re-run replaces the period's "
        "results and keeps resolutions (FINANCE).",
    )
    resolve_reconciliation_exception: ResolveReconciliationExceptionPayload = strawberry.mutation(
        resolver=resolve_reconciliation_exception,
        permission_classes=[IsFinance],
        description="Close a reconciliation exception with a note saying what was done (FINANCE).",
    )
