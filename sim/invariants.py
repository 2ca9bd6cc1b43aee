"""What must hold after every step of a simulation: the ledger's own invariants (`ledger verify`),
each payout's hold, and the money at each fake provider against what the ledger says left.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger import verify_ledger
from ledger.tables import accounts, balances, holds
from payouts.states import HOLDING, PayoutStatus
from payouts.tables import payouts
from sim.providers import Payment, SimProvider


async def ledger_paid_out(conn: AsyncConnection, currency: str = "USD") -> int:
    """What the ledger says left for creators: the sum of every `payouts_received` account."""
    total = await conn.scalar(
        select(func.coalesce(func.sum(balances.c.balance), 0))
        .select_from(balances.join(accounts, accounts.c.id == balances.c.account_id))
        .where(accounts.c.name == "payouts_received", accounts.c.asset == currency)
    )
    return int(total or 0)


async def violations(
    conn: AsyncConnection, providers: list[SimProvider], *, settled: bool
) -> list[str]:
    """Every broken invariant, one line each; `settled` adds the checks that hold only once all
    the providers' news has been heard (the money at the providers equals the money the ledger
    says left, and a payout is PAID exactly when its provider holds its payment)."""
    found = [f"ledger: {v}" for v in await verify_ledger(conn)]
    rows = (
        await conn.execute(
            select(
                payouts.c.id,
                payouts.c.provider,
                payouts.c.status,
                holds.c.status.label("hold"),
            )
            .select_from(payouts.join(holds, holds.c.id == payouts.c.hold_id))
            .order_by(payouts.c.id)
        )
    ).all()
    holding = {s.value for s in HOLDING}
    known = {s.value for s in PayoutStatus}
    for row in rows:
        if row.status not in known:
            found.append(f"payout {row.id}: unknown status {row.status}")
        if (row.status in holding) != (row.hold == "PENDING"):
            found.append(f"payout {row.id}: {row.status} with its hold {row.hold}")
    pending = await conn.scalar(
        select(func.count()).select_from(holds).where(holds.c.status == "PENDING")
    )
    in_holding = sum(1 for row in rows if row.status in holding)
    if int(pending or 0) != in_holding:
        found.append(f"{pending} pending holds for {in_holding} payouts holding diamonds")
    payments = {sim.slug: sim.payments() for sim in providers}
    for row in rows:
        mine: list[Payment] = payments.get(str(row.provider), {}).get(int(row.id), [])
        held = [p for p in mine if p.paid]
        if len(held) > 1:  # a payment that came back (and was retried) is not a second one
            found.append(f"payout {row.id}: paid {len(held)} times at {row.provider}")
        if row.status == PayoutStatus.PAID.value and not any(p.ever_paid for p in mine):
            found.append(f"payout {row.id}: PAID but {row.provider} never paid it")
        paid_now = bool(held)
        if settled and (row.status == PayoutStatus.PAID.value) != paid_now:
            said = [p.status for p in mine]
            found.append(f"payout {row.id}: {row.status} but {row.provider} says {said}")
    left = await ledger_paid_out(conn)
    every = [p for by_payout in payments.values() for ps in by_payout.values() for p in ps]
    at_providers = sum(p.minor for p in every if p.paid)
    ever_at_providers = sum(p.minor for p in every if p.ever_paid)
    if left > ever_at_providers:
        found.append(
            f"the ledger says {left} left, the providers only ever paid {ever_at_providers}"
        )
    if settled and left != at_providers:
        found.append(f"the ledger says {left} left, the providers hold {at_providers} paid")
    return found
