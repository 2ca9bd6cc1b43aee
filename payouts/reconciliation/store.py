"""Reading and writing reconciliation runs: claiming a provider-period once, replacing its results
on a re-run (carrying FINANCE's resolutions over), and the reads FINANCE's pages use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.clock import as_utc, utcnow
from kernel.tables import count_where
from payouts.reconciliation.matching import EXCEPTIONS, MatchClass, Outcome, their_json
from payouts.reconciliation.tables import (
    reconciliation_items,
    reconciliation_runs,
    reconciliation_totals,
)


class RunStatus:
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Run:
    id: int
    provider: str
    period_start: date
    period_end: date
    status: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    our_count: int
    their_count: int
    exception_count: int
    open_exception_count: int
    runs: int


@dataclass(frozen=True)
class Total:
    klass: MatchClass
    currency: str
    count: int
    our_minor: int
    their_minor: int
    their_fee_minor: int


@dataclass(frozen=True)
class Item:
    id: int
    run_id: int
    key: str
    klass: MatchClass
    payout_id: int | None
    attempt_number: int | None
    provider_reference: str | None
    currency: str
    our_minor: int | None
    their_minor: int | None
    reason: str
    ours: Mapping[str, Any] | None
    theirs: Mapping[str, Any] | None
    discrepancy_id: int | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None

    @property
    def is_exception(self) -> bool:
        return self.klass in EXCEPTIONS


def _run(row: RowMapping) -> Run:
    values = {name: row[name] for name in Run.__dataclass_fields__}
    values["started_at"] = as_utc(values["started_at"])
    if values["finished_at"] is not None:
        values["finished_at"] = as_utc(values["finished_at"])
    return Run(**values)


def _item(row: RowMapping) -> Item:
    values = {name: row[name] for name in Item.__dataclass_fields__ if name != "klass"}
    return Item(klass=MatchClass(row["class"]), **values)


async def load_run(conn: AsyncConnection, run_id: int) -> Run | None:
    row = (
        await conn.execute(select(reconciliation_runs).where(reconciliation_runs.c.id == run_id))
    ).first()
    return None if row is None else _run(row._mapping)


async def run_for(conn: AsyncConnection, provider: str, start: date, end: date) -> Run | None:
    row = (
        await conn.execute(
            select(reconciliation_runs).where(
                reconciliation_runs.c.provider == provider,
                reconciliation_runs.c.period_start == start,
                reconciliation_runs.c.period_end == end,
            )
        )
    ).first()
    return None if row is None else _run(row._mapping)


async def claim_run(
    conn: AsyncConnection,
    provider: str,
    start: date,
    end: date,
    *,
    actor: str,
    rerun: bool,
    stale_after: timedelta,
) -> int | None:
    """Mark the provider-period RUNNING for us; None when someone else holds it (a run started
    less than `stale_after` ago) or, without `rerun`, when it has run already."""
    try:
        async with conn.begin_nested():
            found = await conn.scalar(
                insert(reconciliation_runs)
                .values(
                    provider=provider,
                    period_start=start,
                    period_end=end,
                    status=RunStatus.RUNNING,
                    started_by=actor[:255],
                )
                .returning(reconciliation_runs.c.id)
            )
            assert found is not None
            return int(found)
    except IntegrityError:
        pass
    existing = await run_for(conn, provider, start, end)
    if existing is None:
        return None
    busy = existing.status == RunStatus.RUNNING and utcnow() - existing.started_at < stale_after
    if busy or (not rerun and existing.status == RunStatus.DONE):
        return None
    taken = await conn.execute(
        update(reconciliation_runs)
        .where(
            reconciliation_runs.c.id == existing.id,
            reconciliation_runs.c.status == existing.status,
            reconciliation_runs.c.runs == existing.runs,
        )
        .values(
            status=RunStatus.RUNNING,
            started_by=actor[:255],
            started_at=func.now(),
            finished_at=None,
            error=None,
            runs=reconciliation_runs.c.runs + 1,
        )
    )
    return existing.id if taken.rowcount == 1 else None


async def items_of(conn: AsyncConnection, run_id: int) -> dict[str, Item]:
    rows = await conn.execute(
        select(reconciliation_items).where(reconciliation_items.c.run_id == run_id)
    )
    return {row.key: _item(row._mapping) for row in rows}


async def save_results(
    conn: AsyncConnection,
    run_id: int,
    outcome: Outcome,
    *,
    their_count: int,
    discrepancies: Mapping[str, int],
    kept: Mapping[str, Item],
) -> None:
    """Replace the run's results with `outcome`. `kept` are earlier items that stand as they
    were (an exception our own booking since cured stays an exception until resolved);
    a resolution of the same key in the same class is carried over."""
    earlier = await items_of(conn, run_id)
    await conn.execute(delete(reconciliation_items).where(reconciliation_items.c.run_id == run_id))
    await conn.execute(
        delete(reconciliation_totals).where(reconciliation_totals.c.run_id == run_id)
    )
    rows: list[dict[str, Any]] = []
    for match in outcome.matches:
        if match.key in kept:
            item = kept[match.key]
            rows.append(
                {
                    "run_id": run_id,
                    "key": item.key,
                    "class": item.klass.value,
                    "payout_id": item.payout_id,
                    "attempt_number": item.attempt_number,
                    "provider_reference": item.provider_reference,
                    "currency": item.currency,
                    "our_minor": item.our_minor,
                    "their_minor": item.their_minor,
                    "reason": item.reason,
                    "ours": item.ours,
                    "theirs": item.theirs,
                    "discrepancy_id": item.discrepancy_id,
                    "resolved_by": item.resolved_by,
                    "resolved_at": item.resolved_at,
                    "note": item.note,
                }
            )
            continue
        before = earlier.get(match.key)
        same = before is not None and before.klass is match.klass
        side = match.ours or match.theirs
        assert side is not None
        rows.append(
            {
                "run_id": run_id,
                "key": match.key[:255],
                "class": match.klass.value,
                "payout_id": match.ours.payout_id if match.ours else None,
                "attempt_number": match.ours.attempt_number if match.ours else None,
                "provider_reference": (
                    match.theirs.provider_reference
                    if match.theirs
                    else match.ours.provider_reference
                    if match.ours
                    else None
                ),
                "currency": side.currency,
                "our_minor": match.ours.amount_minor if match.ours else None,
                "their_minor": match.theirs.amount_minor if match.theirs else None,
                "reason": match.reason[:500],
                "ours": match.ours.as_record() if match.ours else None,
                "theirs": their_json(match.theirs) if match.theirs else None,
                "discrepancy_id": discrepancies.get(match.key)
                or (before.discrepancy_id if same and before else None),
                "resolved_by": before.resolved_by if same and before else None,
                "resolved_at": before.resolved_at if same and before else None,
                "note": before.note if same and before else None,
            }
        )
    if rows:
        await conn.execute(insert(reconciliation_items), rows)
    totals = _totals(rows)
    if totals:
        await conn.execute(insert(reconciliation_totals), totals)
    exceptions = [r for r in rows if MatchClass(r["class"]) in EXCEPTIONS]
    await conn.execute(
        update(reconciliation_runs)
        .where(reconciliation_runs.c.id == run_id)
        .values(
            status=RunStatus.DONE,
            finished_at=func.now(),
            our_count=sum(1 for r in rows if r["ours"] is not None),
            their_count=their_count,
            exception_count=len(exceptions),
            open_exception_count=sum(1 for r in exceptions if r["resolved_at"] is None),
        )
    )


def _totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        total = found.setdefault(
            (row["class"], row["currency"]),
            {
                "run_id": row["run_id"],
                "class": row["class"],
                "currency": row["currency"],
                "count": 0,
                "our_minor": 0,
                "their_minor": 0,
                "their_fee_minor": 0,
            },
        )
        total["count"] += 1
        total["our_minor"] += row["our_minor"] or 0
        total["their_minor"] += row["their_minor"] or 0
        theirs = row["theirs"] or {}
        total["their_fee_minor"] += theirs.get("feeMinor") or 0
    return list(found.values())


async def fail_run(conn: AsyncConnection, run_id: int, error: str) -> None:
    await conn.execute(
        update(reconciliation_runs)
        .where(reconciliation_runs.c.id == run_id)
        .values(status=RunStatus.FAILED, finished_at=func.now(), error=error[:500])
    )


async def totals_of(conn: AsyncConnection, run_id: int) -> list[Total]:
    rows = await conn.execute(
        select(reconciliation_totals)
        .where(reconciliation_totals.c.run_id == run_id)
        .order_by(reconciliation_totals.c["class"], reconciliation_totals.c.currency)
    )
    return [
        Total(
            klass=MatchClass(r._mapping["class"]),
            currency=r.currency,
            count=int(r._mapping["count"]),
            our_minor=int(r.our_minor),
            their_minor=int(r.their_minor),
            their_fee_minor=int(r.their_fee_minor),
        )
        for r in rows
    ]


async def runs_page(
    conn: AsyncConnection,
    *,
    provider: str | None,
    before_id: int | None,
    limit: int,
) -> list[Run]:
    """Newest first; `before_id` continues a page."""
    query = (
        select(reconciliation_runs)
        .where(*_runs_of(provider))
        .order_by(reconciliation_runs.c.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(reconciliation_runs.c.id < before_id)
    return [_run(r._mapping) for r in await conn.execute(query)]


def _runs_of(provider: str | None) -> list[Any]:
    return [] if provider is None else [reconciliation_runs.c.provider == provider]


async def count_runs(conn: AsyncConnection, *, provider: str | None) -> int:
    """How many runs `provider` has (all when None): every page of `runs_page`."""
    return await count_where(conn, reconciliation_runs, _runs_of(provider))


def _items_of(run_id: int, *, exceptions_only: bool, open_only: bool) -> list[Any]:
    items = reconciliation_items.c
    conditions: list[Any] = [items.run_id == run_id]
    if exceptions_only:
        conditions.append(items["class"].in_([c.value for c in EXCEPTIONS]))
    if open_only:
        conditions.append(items.resolved_at.is_(None))
    return conditions


async def count_items(
    conn: AsyncConnection, run_id: int, *, exceptions_only: bool, open_only: bool
) -> int:
    """How many of the run's lines `items_page` lists with these filters, on every page."""
    conditions = _items_of(run_id, exceptions_only=exceptions_only, open_only=open_only)
    return await count_where(conn, reconciliation_items, conditions)


async def items_page(
    conn: AsyncConnection,
    run_id: int,
    *,
    exceptions_only: bool,
    open_only: bool,
    after_id: int | None,
    limit: int,
) -> list[Item]:
    """In id order; `after_id` continues a page."""
    query = (
        select(reconciliation_items)
        .where(*_items_of(run_id, exceptions_only=exceptions_only, open_only=open_only))
        .order_by(reconciliation_items.c.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(reconciliation_items.c.id > after_id)
    return [_item(r._mapping) for r in await conn.execute(query)]


async def load_item(conn: AsyncConnection, item_id: int) -> Item | None:
    row = (
        await conn.execute(select(reconciliation_items).where(reconciliation_items.c.id == item_id))
    ).first()
    return None if row is None else _item(row._mapping)


async def resolve_item(conn: AsyncConnection, item: Item, *, by: str, note: str) -> bool:
    """Close an open exception once; False when it was already resolved."""
    closed = await conn.execute(
        update(reconciliation_items)
        .where(reconciliation_items.c.id == item.id, reconciliation_items.c.resolved_at.is_(None))
        .values(resolved_by=by[:255], resolved_at=func.now(), note=note[:500])
    )
    if closed.rowcount != 1:
        return False
    await conn.execute(
        update(reconciliation_runs)
        .where(reconciliation_runs.c.id == item.run_id)
        .values(open_exception_count=reconciliation_runs.c.open_exception_count - 1)
    )
    return True
