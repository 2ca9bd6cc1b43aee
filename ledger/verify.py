"""`ledger verify`: re-derives every invariant of the ledger from its rows and names the rows
that break one. Read-only; safe to run against a live database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.tables import accounts, balances, holds, idempotency_keys, transactions, transfers


@dataclass(frozen=True)
class Violation:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


async def verify_ledger(conn: AsyncConnection) -> list[Violation]:
    """Every broken invariant, each naming the offending rows; empty when the ledger is sound."""
    found: list[Violation] = []
    for check in (
        _assets_sum_to_zero,
        _balances_match_transfers,
        _held_matches_pending_holds,
        checked_accounts_below_zero,
        _no_debt_account_above_zero,
        _transfers_match_account_assets,
        _holds_resolved_once,
        _holds_match_account_assets,
        _one_transaction_per_idempotency_key,
    ):
        found.extend(await check(conn))
    return found


async def ledger_size(conn: AsyncConnection) -> tuple[int, int]:
    """How many accounts and transfers `verify_ledger` checks."""
    n_accounts = await conn.scalar(select(func.count()).select_from(accounts))
    n_transfers = await conn.scalar(select(func.count()).select_from(transfers))
    return int(n_accounts or 0), int(n_transfers or 0)


async def keys_per_kind(conn: AsyncConnection) -> dict[str, int]:
    """How many idempotency keys name a transaction of each kind."""
    rows = await conn.execute(
        select(transactions.c.kind, func.count())
        .select_from(idempotency_keys)
        .join(transactions, transactions.c.id == idempotency_keys.c.transaction_id)
        .group_by(transactions.c.kind)
    )
    return {str(kind): int(n) for kind, n in rows}


async def _assets_sum_to_zero(conn: AsyncConnection) -> list[Violation]:
    total = func.sum(balances.c.balance)
    rows = await conn.execute(
        select(accounts.c.asset, total)
        .join(balances, balances.c.account_id == accounts.c.id)
        .group_by(accounts.c.asset)
        .having(total != 0)
    )
    return [
        Violation("asset sums to zero", f"asset {asset} sums to {int(s)} over all accounts")
        for asset, s in rows
    ]


async def _balances_match_transfers(conn: AsyncConnection) -> list[Violation]:
    movements = union_all(
        select(
            transfers.c.credit_account_id.label("account_id"), transfers.c.amount.label("amount")
        ),
        select(transfers.c.debit_account_id, -transfers.c.amount),
    ).subquery()
    moved = (
        select(movements.c.account_id, func.sum(movements.c.amount).label("net"))
        .group_by(movements.c.account_id)
        .subquery()
    )
    stored = (
        select(balances.c.account_id, func.sum(balances.c.balance).label("balance"))
        .group_by(balances.c.account_id)
        .subquery()
    )
    net = func.coalesce(moved.c.net, 0)
    rows = await conn.execute(
        select(stored.c.account_id, stored.c.balance, net)
        .outerjoin(moved, moved.c.account_id == stored.c.account_id)
        .where(stored.c.balance != net)
        .order_by(stored.c.account_id)
    )
    orphans = await conn.execute(
        select(moved.c.account_id)
        .outerjoin(stored, stored.c.account_id == moved.c.account_id)
        .where(stored.c.account_id.is_(None))
    )
    found = [
        Violation(
            "balance equals its transfers",
            f"account {a}: balance rows say {int(b)}, transfers say {int(n)}",
        )
        for a, b, n in rows
    ]
    found += [
        Violation("balance equals its transfers", f"account {a} has transfers but no balance rows")
        for (a,) in orphans
    ]
    return found


async def _held_matches_pending_holds(conn: AsyncConnection) -> list[Violation]:
    pending = (
        select(holds.c.debit_account_id.label("account_id"), func.sum(holds.c.amount).label("held"))
        .where(holds.c.status == "PENDING")
        .group_by(holds.c.debit_account_id)
        .subquery()
    )
    stored = (
        select(balances.c.account_id, func.sum(balances.c.held).label("held"))
        .group_by(balances.c.account_id)
        .subquery()
    )
    expected = func.coalesce(pending.c.held, 0)
    rows = await conn.execute(
        select(stored.c.account_id, stored.c.held, expected)
        .outerjoin(pending, pending.c.account_id == stored.c.account_id)
        .where(stored.c.held != expected)
    )
    return [
        Violation(
            "held equals pending holds", f"account {a}: held {int(h)}, pending holds {int(p)}"
        )
        for a, h, p in rows
    ]


async def checked_accounts_below_zero(conn: AsyncConnection) -> list[Violation]:
    """Invariant 2 alone: every NON_NEGATIVE account whose available is below zero."""
    available = func.sum(balances.c.balance) - func.sum(balances.c.held)
    rows = await conn.execute(
        select(accounts.c.id, accounts.c.owner, accounts.c.name, accounts.c.asset, available)
        .join(balances, balances.c.account_id == accounts.c.id)
        .where(accounts.c.policy == "NON_NEGATIVE")
        .group_by(accounts.c.id, accounts.c.owner, accounts.c.name, accounts.c.asset)
        .having(available < 0)
    )
    return [
        Violation(
            "no checked account below zero",
            f"account {i} ({owner} {name} {asset}) has {int(av)} available",
        )
        for i, owner, name, asset, av in rows
    ]


async def _no_debt_account_above_zero(conn: AsyncConnection) -> list[Violation]:
    """A creator's `diamonds_owed` account only records a debt (minus what they owe) and its
    repayment: it never holds diamonds of its own."""
    balance = func.sum(balances.c.balance)
    rows = await conn.execute(
        select(accounts.c.id, accounts.c.owner, balance)
        .join(balances, balances.c.account_id == accounts.c.id)
        .where(accounts.c.name == "diamonds_owed")
        .group_by(accounts.c.id, accounts.c.owner)
        .having(balance > 0)
    )
    return [
        Violation("no debt account above zero", f"account {i} ({owner} diamonds_owed) has {int(b)}")
        for i, owner, b in rows
    ]


async def _transfers_match_account_assets(conn: AsyncConnection) -> list[Violation]:
    debit = accounts.alias("debit")
    credit = accounts.alias("credit")
    rows = await conn.execute(
        select(transfers.c.id, transfers.c.asset, debit.c.asset, credit.c.asset)
        .join(debit, debit.c.id == transfers.c.debit_account_id)
        .join(credit, credit.c.id == transfers.c.credit_account_id)
        .where((debit.c.asset != transfers.c.asset) | (credit.c.asset != transfers.c.asset))
    )
    return [
        Violation(
            "transfers stay in one asset",
            f"transfer {t} moves {a} between a {d} and a {c} account",
        )
        for t, a, d, c in rows
    ]


async def _holds_resolved_once(conn: AsyncConnection) -> list[Violation]:
    posted = (
        select(transfers.c.hold_id, func.count().label("n"))
        .where(transfers.c.hold_id.is_not(None))
        .group_by(transfers.c.hold_id)
        .subquery()
    )
    count = func.coalesce(posted.c.n, 0)
    rows = await conn.execute(
        select(holds.c.id, holds.c.status, count)
        .outerjoin(posted, posted.c.hold_id == holds.c.id)
        .where(
            ((holds.c.status == "POSTED") & (count != 1))
            | ((holds.c.status != "POSTED") & (count != 0))
        )
    )
    return [
        Violation("holds resolve once", f"hold {h} is {status} with {int(n)} posting transfers")
        for h, status, n in rows
    ]


async def _holds_match_account_assets(conn: AsyncConnection) -> list[Violation]:
    debit = accounts.alias("debit")
    credit = accounts.alias("credit")
    rows = await conn.execute(
        select(holds.c.id, holds.c.asset, debit.c.asset, credit.c.asset)
        .join(debit, debit.c.id == holds.c.debit_account_id)
        .join(credit, credit.c.id == holds.c.credit_account_id)
        .where((debit.c.asset != holds.c.asset) | (credit.c.asset != holds.c.asset))
    )
    return [
        Violation("holds stay in one asset", f"hold {h} holds {a} between a {d} and a {c} account")
        for h, a, d, c in rows
    ]


async def _one_transaction_per_idempotency_key(conn: AsyncConnection) -> list[Violation]:
    n = func.count()
    rows = await conn.execute(
        select(idempotency_keys.c.transaction_id, n)
        .group_by(idempotency_keys.c.transaction_id)
        .having(n > 1)
    )
    return [
        Violation(
            "one transaction per idempotency key",
            f"transaction {t} is claimed by {int(c)} idempotency keys",
        )
        for t, c in rows
    ]
