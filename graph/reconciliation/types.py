"""GraphQL types of reconciliation: a run with its totals per class and currency, its lines (each
payout or stray provider record with both sides' records), and the CSV of a run.
"""

from __future__ import annotations

import json
from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from graph.context import Context
from graph.global_ids import Connection, Node, PageRequest, connection, to_global_id
from graph.payouts.types import Payout, PayoutDiscrepancy
from graph.scalars import BigInt, utc
from payouts.discrepancies import load_discrepancy
from payouts.reconciliation import matching
from payouts.reconciliation.export import run_csv
from payouts.reconciliation.store import Item, Run, count_items, items_page, totals_of
from payouts.store import load_payout

ReconciliationClass = strawberry.enum(
    matching.MatchClass, description="Where a payout ended a reconciliation run."
)

MAX_CSV_LINES = 200_000


@strawberry.type(description="One class's count and money in one currency, in a run.")
class ReconciliationTotal:
    class_: ReconciliationClass = strawberry.field(name="class")  # type: ignore[valid-type]
    currency: str
    count: int
    our_minor: BigInt = strawberry.field(description="What our payouts say left (net).")
    their_minor: BigInt = strawberry.field(description="What the provider's records say left.")
    their_fee_minor: BigInt = strawberry.field(description="The provider's fees, where given.")


@strawberry.type(description="One payout of the period, or one provider record we never sent.")
class ReconciliationLine(Node):
    id: strawberry.ID
    class_: ReconciliationClass = strawberry.field(name="class")  # type: ignore[valid-type]
    is_exception: bool = strawberry.field(description="FINANCE must look at it.")
    reason: str
    attempt_number: int | None
    provider_reference: str | None
    currency: str
    our_minor: BigInt | None
    their_minor: BigInt | None
    ours: JSON | None = strawberry.field(description="Our record of the attempt.")
    theirs: JSON | None = strawberry.field(description="The provider's record, as it gave it.")
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None
    record: strawberry.Private[Item]

    @classmethod
    def of(cls, item: Item) -> ReconciliationLine:
        return cls(
            id=to_global_id("ReconciliationLine", item.id),
            class_=item.klass,
            is_exception=item.is_exception,
            reason=item.reason,
            attempt_number=item.attempt_number,
            provider_reference=item.provider_reference,
            currency=item.currency,
            our_minor=None if item.our_minor is None else BigInt(item.our_minor),
            their_minor=None if item.their_minor is None else BigInt(item.their_minor),
            ours=json.loads(json.dumps(item.ours)) if item.ours is not None else None,
            theirs=json.loads(json.dumps(item.theirs)) if item.theirs is not None else None,
            resolved_by=item.resolved_by,
            resolved_at=utc(item.resolved_at) if item.resolved_at else None,
            note=item.note,
            record=item,
        )

    @strawberry.field(description="Our payout, where there is one.")
    async def payout(self, info: Info[Context, None]) -> Payout | None:
        if self.record.payout_id is None:
            return None
        async with info.context.eco.db.read() as conn:
            found = await load_payout(conn, self.record.payout_id)
        return None if found is None else Payout.of(found)

    @strawberry.field(description="The discrepancy this line opened on the payout, if any.")
    async def discrepancy(self, info: Info[Context, None]) -> PayoutDiscrepancy | None:
        if self.record.discrepancy_id is None:
            return None
        async with info.context.eco.db.read() as conn:
            found = await load_discrepancy(conn, self.record.discrepancy_id)
        return None if found is None else PayoutDiscrepancy.of(found)


@strawberry.type(description="One provider's records for one period, matched against ours.")
class ReconciliationRun(Node):
    id: strawberry.ID
    provider: str
    period_start: date
    period_end: date = strawberry.field(description="Exclusive: a day's run ends the next day.")
    status: str = strawberry.field(description="RUNNING, DONE or FAILED.")
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    our_count: int = strawberry.field(description="Our payout attempts of the period.")
    their_count: int = strawberry.field(description="The provider's records of the period.")
    exception_count: int
    open_exception_count: int
    runs: int = strawberry.field(description="How many times the period was (re-)run.")
    record: strawberry.Private[Run]

    @classmethod
    def of(cls, run: Run) -> ReconciliationRun:
        return cls(
            id=to_global_id("ReconciliationRun", run.id),
            provider=run.provider,
            period_start=run.period_start,
            period_end=run.period_end,
            status=run.status,
            started_by=run.started_by,
            started_at=utc(run.started_at),
            finished_at=utc(run.finished_at) if run.finished_at else None,
            error=run.error,
            our_count=run.our_count,
            their_count=run.their_count,
            exception_count=run.exception_count,
            open_exception_count=run.open_exception_count,
            runs=run.runs,
            record=run,
        )

    @strawberry.field(description="Counts and money per class and currency.")
    async def totals(self, info: Info[Context, None]) -> list[ReconciliationTotal]:
        async with info.context.eco.db.read() as conn:
            found = await totals_of(conn, self.record.id)
        return [
            ReconciliationTotal(
                class_=t.klass,
                currency=t.currency,
                count=t.count,
                our_minor=BigInt(t.our_minor),
                their_minor=BigInt(t.their_minor),
                their_fee_minor=BigInt(t.their_fee_minor),
            )
            for t in found
        ]

    @strawberry.field(
        description="The run's lines in order: only the exceptions by default; every line "
        "with exceptionsOnly: false; only unresolved ones with open: true."
    )
    async def lines(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        exceptions_only: bool = True,
        open: bool = False,
    ) -> Connection[ReconciliationLine]:
        page = PageRequest.of(first, after)
        async with info.context.eco.db.read() as conn:
            rows = await items_page(
                conn,
                self.record.id,
                exceptions_only=exceptions_only,
                open_only=open,
                after_id=page.after,
                limit=page.limit + 1,
            )
        run_id = self.record.id
        return connection(
            rows,
            page,
            lambda i: i.id,
            ReconciliationLine.of,
            lambda conn: count_items(conn, run_id, exceptions_only=exceptions_only, open_only=open),
        )

    @strawberry.field(description="Every line of the run as CSV (minor units; one header row).")
    async def csv(self, info: Info[Context, None]) -> str:
        async with info.context.eco.db.read() as conn:
            rows = await items_page(
                conn,
                self.record.id,
                exceptions_only=False,
                open_only=False,
                after_id=None,
                limit=MAX_CSV_LINES,
            )
        return run_csv(self.record, rows)
