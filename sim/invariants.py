"""What must hold after every step of a simulation: the ledger's own invariants (`ledger verify`),
each payout's hold, and the money at the fake provider against what the ledger says left.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from diamonds_fakes.paypal_server import FakeItem, FakePayPal
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger import verify_ledger
from ledger.tables import accounts, balances, holds
from payouts.states import HOLDING, PayoutStatus
from payouts.tables import payouts
from payouts.webhooks import payout_id_of

PAID_AT_PAYPAL = frozenset({"SUCCESS"})
EVER_PAID_AT_PAYPAL = frozenset({"SUCCESS", "RETURNED", "REFUNDED", "REVERSED"})
"""Item statuses in which PayPal holds (or once held) a payment made."""


def item_minor(item: FakeItem) -> int:
    """The item's amount in minor units (the simulation pays USD only)."""
    return int(Decimal(str(item.item["amount"]["value"])) * 100)


def items_by_payout(fake: FakePayPal) -> dict[int, list[FakeItem]]:
    """The fake's items for each of our payouts (every attempt), in the order they were made."""
    found: dict[int, list[FakeItem]] = defaultdict(list)
    for item in fake.items.values():
        ours = payout_id_of(item.sender_batch_id)
        if ours is not None:
            found[ours[0]].append(item)
    return found


async def ledger_paid_out(conn: AsyncConnection, currency: str = "USD") -> int:
    """What the ledger says left for creators: the sum of every `payouts_received` account."""
    total = await conn.scalar(
        select(func.coalesce(func.sum(balances.c.balance), 0))
        .select_from(balances.join(accounts, accounts.c.id == balances.c.account_id))
        .where(accounts.c.name == "payouts_received", accounts.c.asset == currency)
    )
    return int(total or 0)


async def violations(conn: AsyncConnection, fake: FakePayPal, *, settled: bool) -> list[str]:
    """Every broken invariant, one line each; `settled` adds the checks that hold only once all
    the provider's news has been heard (the money at PayPal equals the money the ledger says left,
    and a payout is PAID exactly when PayPal holds its payment)."""
    found = [f"ledger: {v}" for v in await verify_ledger(conn)]
    rows = (
        await conn.execute(
            select(payouts.c.id, payouts.c.status, payouts.c.diamonds, holds.c.status.label("hold"))
            .select_from(payouts.join(holds, holds.c.id == payouts.c.hold_id))
            .order_by(payouts.c.id)
        )
    ).all()
    holding = {s.value for s in HOLDING}
    for row in rows:
        if row.status not in {s.value for s in PayoutStatus}:
            found.append(f"payout {row.id}: unknown status {row.status}")
        if (row.status in holding) != (row.hold == "PENDING"):
            found.append(f"payout {row.id}: {row.status} with its hold {row.hold}")
    pending = await conn.scalar(
        select(func.count()).select_from(holds).where(holds.c.status == "PENDING")
    )
    in_holding = sum(1 for row in rows if row.status in holding)
    if int(pending or 0) != in_holding:
        found.append(f"{pending} pending holds for {in_holding} payouts holding diamonds")
    by_payout = items_by_payout(fake)
    status_of = {int(row.id): str(row.status) for row in rows}
    for payout_id, items in sorted(by_payout.items()):
        paid = [i for i in items if i.status in PAID_AT_PAYPAL]
        ever = [i for i in items if i.status in EVER_PAID_AT_PAYPAL]
        if len(ever) > 1:
            found.append(f"payout {payout_id}: paid {len(ever)} times at PayPal")
        status = status_of.get(payout_id)
        if status == PayoutStatus.PAID.value and not ever:
            found.append(f"payout {payout_id}: PAID but PayPal never paid it")
        if settled and (status == PayoutStatus.PAID.value) != bool(paid):
            found.append(
                f"payout {payout_id}: {status} but PayPal says {[i.status for i in items]}"
            )
    for payout_id, status in status_of.items():
        if status == PayoutStatus.PAID.value and payout_id not in by_payout:
            found.append(f"payout {payout_id}: PAID but PayPal has no item for it")
    ledger_left = await ledger_paid_out(conn)
    at_paypal = sum(item_minor(i) for i in fake.items.values() if i.status in PAID_AT_PAYPAL)
    ever_at_paypal = sum(
        item_minor(i) for i in fake.items.values() if i.status in EVER_PAID_AT_PAYPAL
    )
    if ledger_left > ever_at_paypal:
        found.append(f"the ledger says {ledger_left} left, PayPal only ever paid {ever_at_paypal}")
    if settled and ledger_left != at_paypal:
        found.append(f"the ledger says {ledger_left} left, PayPal holds {at_paypal} paid")
    return found
