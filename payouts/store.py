"""Reading payouts (with their history and ledger entries) and moving them from one status to the
next: each move is a conditional update from the status it left (so it happens once), a history
row, and the ledger entries it books, each transaction linked to the payout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import func

from ledger.accounts import (
    PLATFORM,
    Asset,
    BalancePolicy,
    find_account,
    open_account,
    opened_in_this_transaction,
    user_owner,
)
from ledger.book import Ledger, Transfer
from ledger.debts import OWED
from ledger.history import AccountName as AccountName  # a payout's ledger entries, for graph
from ledger.history import Entry as Entry
from ledger.history import EntryEffect as EntryEffect
from ledger.history import entries_of
from payouts.attempts import attempt_key
from payouts.states import MoneyEffect, PayoutStatus, allowed, effect
from payouts.tables import payout_events, payout_transactions, payouts


@dataclass(frozen=True)
class Payout:
    id: int
    user_id: int
    provider: str
    status: PayoutStatus
    diamonds: int
    currency: str
    gross_minor: int
    fee_minor: int
    withholding_minor: int
    net_minor: int
    hold_id: int
    request_transaction_id: int
    requested_by: str
    approved_by: str | None
    generation: int
    provider_reference: str | None
    failure_code: str | None
    failure_message: str | None
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    first_sent_at: datetime | None
    """When this attempt (generation) first went to the provider: its idempotency window opens."""
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    resolved_by_hand: bool
    """FINANCE stated the outcome where the provider could not be asked."""
    open_discrepancies: int

    @property
    def reference(self) -> str:
        """Our stable name for the current attempt at the provider (PayPal's sender_batch_id)."""
        return attempt_key(self.id, self.generation)

    @property
    def idempotency_key(self) -> str:
        """The same on every retry and re-run of one dispatch; new only for FINANCE's retry of a
        failed payout, which is a new attempt at the provider."""
        return self.reference


@dataclass(frozen=True)
class PayoutEvent:
    id: int
    payout_id: int
    from_status: PayoutStatus | None
    to_status: PayoutStatus
    actor: str
    reason: str | None
    details: Mapping[str, Any]
    created_at: datetime


class PayoutTransitionRefused(Exception):
    def __init__(self, payout_id: int, current: PayoutStatus, new: PayoutStatus) -> None:
        self.payout_id = payout_id
        self.current = current
        self.new = new
        super().__init__(f"payout {payout_id} cannot go from {current} to {new}")


class StaleStatus(Exception):
    """The payout changed status under us; re-read it and decide again."""

    def __init__(self, payout_id: int) -> None:
        self.payout_id = payout_id
        super().__init__(f"payout {payout_id} changed status concurrently")


def payout_from_row(row: RowMapping) -> Payout:
    values = {name: row[name] for name in Payout.__dataclass_fields__}
    values["status"] = PayoutStatus(values["status"])
    values["resolved_by_hand"] = bool(values["resolved_by_hand"])
    return Payout(**values)


async def load_payout(conn: AsyncConnection, payout_id: int) -> Payout | None:
    row = (await conn.execute(select(payouts).where(payouts.c.id == payout_id))).first()
    return None if row is None else payout_from_row(row._mapping)


async def load_payouts(conn: AsyncConnection, payout_ids: Sequence[int]) -> list[Payout]:
    """The payouts of `payout_ids` that exist, in that order, read in one statement."""
    if not payout_ids:
        return []
    rows = await conn.execute(select(payouts).where(payouts.c.id.in_(payout_ids)))
    found = {int(r.id): payout_from_row(r._mapping) for r in rows}
    return [found[i] for i in payout_ids if i in found]


async def payout_history(conn: AsyncConnection, payout_id: int) -> list[PayoutEvent]:
    rows = await conn.execute(
        select(payout_events)
        .where(payout_events.c.payout_id == payout_id)
        .order_by(payout_events.c.id)
    )
    return [
        PayoutEvent(
            id=int(r.id),
            payout_id=int(r.payout_id),
            from_status=PayoutStatus(r.from_status) if r.from_status else None,
            to_status=PayoutStatus(r.to_status),
            actor=r.actor,
            reason=r.reason,
            details=r.details or {},
            created_at=r.created_at,
        )
        for r in rows
    ]


async def payout_ledger_entries(conn: AsyncConnection, payout_id: int) -> list[Entry]:
    """Every ledger entry the payout booked, across its retries, oldest first."""
    booked = await conn.scalars(
        select(payout_transactions.c.transaction_id).where(
            payout_transactions.c.payout_id == payout_id
        )
    )
    return await entries_of(conn, [int(t) for t in booked])


async def record_event(
    conn: AsyncConnection,
    payout_id: int,
    from_status: PayoutStatus | None,
    to_status: PayoutStatus,
    *,
    actor: str,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    await conn.execute(
        insert(payout_events).values(
            payout_id=payout_id,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value,
            actor=actor,
            reason=reason[:500] if reason else None,
            details=dict(details or {}),
        )
    )


class PayoutBook:
    """Books what payouts do to the money, on the ledger's accounts."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._accounts: dict[tuple[str, str, str], int] = {}

    async def account(
        self, conn: AsyncConnection, owner: str, name: str, asset: str, policy: BalancePolicy
    ) -> int:
        key = (owner, name, asset)
        cached = self._accounts.get(key)
        if cached is not None:
            return cached
        opened = await open_account(conn, owner, name, asset, policy=policy)
        if not opened_in_this_transaction(conn, opened.id):
            self._accounts[key] = opened.id
        return opened.id

    async def booked_for(
        self, conn: AsyncConnection, payout_id: int, *transaction_ids: int
    ) -> None:
        """Link ledger transactions to the payout that booked them (its ledger entries)."""
        await conn.execute(
            insert(payout_transactions),
            [{"payout_id": payout_id, "transaction_id": t} for t in transaction_ids],
        )

    async def owed_diamonds(self, conn: AsyncConnection, user_id: int) -> int:
        """DIAMOND, per creator: what they owe after a payment we had already given back to
        them (its balance is minus the debt, never above zero); their next diamonds settle it."""
        return await self.account(
            conn, user_owner(user_id), OWED, Asset.DIAMOND, BalancePolicy.UNBOUNDED
        )

    async def redeemed_diamonds(self, conn: AsyncConnection) -> int:
        """DIAMOND: where a payout's diamonds go once paid."""
        return await self.account(
            conn, PLATFORM, "diamonds_redeemed", Asset.DIAMOND, BalancePolicy.NON_NEGATIVE
        )

    async def hold_diamonds(
        self,
        conn: AsyncConnection,
        diamond_account_id: int,
        diamonds: int,
        details: Mapping[str, Any],
        **kwargs: Any,
    ) -> tuple[int, int]:
        """Reserve a payout's diamonds; returns (transaction id, hold id)."""
        placed = await self.ledger.place_hold(
            conn,
            "PAYOUT_HOLD",
            Transfer(
                diamond_account_id, await self.redeemed_diamonds(conn), Asset.DIAMOND, diamonds
            ),
            details=details,
            **kwargs,
        )
        return placed.transaction_id, placed.hold_id

    async def _cash_moves(self, conn: AsyncConnection, payout: Payout) -> list[Transfer]:
        """Cash paid out: from the platform's funding account to the creator (net), to the
        withholding account (tax withheld) and to the provider's fee account."""
        currency = payout.currency
        legs = [
            (user_owner(payout.user_id), "payouts_received", payout.net_minor),
            (PLATFORM, "withholding", payout.withholding_minor),
            (PLATFORM, f"fees:{payout.provider}"[:32], payout.fee_minor),
        ]
        funding = await self.account(
            conn, PLATFORM, "payout_funding", currency, BalancePolicy.UNBOUNDED
        )
        return [
            Transfer(
                funding,
                await self.account(conn, owner, name, currency, BalancePolicy.NON_NEGATIVE),
                currency,
                amount,
            )
            for owner, name, amount in legs
            if amount
        ]

    async def book_payment_again(
        self, conn: AsyncConnection, payout: Payout, diamond_account_id: int, kind: str
    ) -> int:
        """Book a payment whose diamonds are no longer held: spend what the creator has available
        now and book the rest as owed by them; the cash side as for any payment. Returns the
        diamonds owed."""
        details = {"payout_id": payout.id}
        owed_account = await self.owed_diamonds(conn, payout.user_id)
        available = await self.ledger.lock_available(conn, [diamond_account_id, owed_account])
        taken = max(0, min(available[diamond_account_id], payout.diamonds))
        owed = payout.diamonds - taken
        redeemed = await self.redeemed_diamonds(conn)
        moves = [
            Transfer(account, redeemed, Asset.DIAMOND, amount)
            for account, amount in ((diamond_account_id, taken), (owed_account, owed))
            if amount
        ]
        moves.extend(await self._cash_moves(conn, payout))
        booked = await self.ledger.record(conn, kind, moves, details={**details, "owed": owed})
        await self.booked_for(conn, payout.id, booked)
        return owed

    async def settle_owed(
        self, conn: AsyncConnection, user_id: int, diamond_account_id: int
    ) -> int:
        """Pay down what the creator owes from their available diamonds; returns the amount."""
        found = await find_account(conn, user_owner(user_id), OWED, Asset.DIAMOND)
        if found is None:
            return 0
        owed_account = found.id
        # The debt account holds nothing, so its available is its balance: minus the debt.
        available = await self.ledger.lock_available(conn, [diamond_account_id, owed_account])
        amount = min(-available[owed_account], available[diamond_account_id])
        if amount <= 0:
            return 0
        await self.ledger.record(
            conn,
            "PAYOUT_DEBT_SETTLED",
            [Transfer(diamond_account_id, owed_account, Asset.DIAMOND, amount)],
            details={"user_id": user_id},
        )
        return amount

    async def apply(
        self,
        conn: AsyncConnection,
        payout: Payout,
        money: MoneyEffect,
        diamond_account_id: int,
        receipt: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """Book `money` for `payout`; returns column changes for the payout row. A late payment
        puts the diamonds it booked as owed in `receipt["owed"]`."""
        details = {"payout_id": payout.id}
        if money is MoneyEffect.LATE_POST:
            owed = await self.book_payment_again(
                conn, payout, diamond_account_id, "PAYOUT_PAID_LATE"
            )
            if receipt is not None:
                receipt["owed"] = owed
            return {"paid_at": func.now()}
        if money is MoneyEffect.POST:
            posted = await self.ledger.post_hold(conn, payout.hold_id, details=details)
            paid = await self.ledger.record(
                conn, "PAYOUT_PAID", await self._cash_moves(conn, payout), details=details
            )
            await self.booked_for(conn, payout.id, posted, paid)
            return {"paid_at": func.now()}
        if money is MoneyEffect.VOID:
            voided = await self.ledger.void_hold(conn, payout.hold_id, details=details)
            await self.booked_for(conn, payout.id, voided)
            return {}
        if money is MoneyEffect.REVERSE:
            back = [
                Transfer(m.credit, m.debit, m.asset, m.amount)
                for m in await self._cash_moves(conn, payout)
            ]
            back.append(
                Transfer(
                    await self.redeemed_diamonds(conn),
                    diamond_account_id,
                    Asset.DIAMOND,
                    payout.diamonds,
                )
            )
            returned = await self.ledger.record(conn, "PAYOUT_RETURNED", back, details=details)
            await self.booked_for(conn, payout.id, returned)
            return {}
        if money is MoneyEffect.HOLD:
            held, hold_id = await self.hold_diamonds(
                conn, diamond_account_id, payout.diamonds, details
            )
            await self.booked_for(conn, payout.id, held)
            return {"hold_id": hold_id, "generation": payout.generation + 1, "paid_at": None}
        return {}

    async def move(
        self,
        conn: AsyncConnection,
        payout: Payout,
        new: PayoutStatus,
        *,
        diamond_account_id: int,
        actor: str,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        changes: Mapping[str, Any] | None = None,
        guard: ColumnElement[bool] | None = None,
        correcting: bool = False,
        receipt: dict[str, int] | None = None,
    ) -> Payout:
        """Move `payout` (as last read) to `new`, booking its money effect exactly once.

        `correcting` admits the moves a provider's contradicting outcome makes (PAID after
        FAILED or CANCELED). Raises `PayoutTransitionRefused` when the machine forbids it and
        `StaleStatus` when another transaction moved the payout first, or `guard` (an extra
        condition on the payout row) no longer holds (nothing is written then: roll back and
        re-read).
        """
        if not allowed(payout.status, new, correcting=correcting):
            raise PayoutTransitionRefused(payout.id, payout.status, new)
        claim = update(payouts).where(
            payouts.c.id == payout.id, payouts.c.status == payout.status.value
        )
        if guard is not None:
            claim = claim.where(guard)
        claimed = await conn.execute(
            claim.values(status=new.value, updated_at=func.now(), **dict(changes or {}))
        )
        if claimed.rowcount != 1:
            raise StaleStatus(payout.id)
        money = effect(payout.status, new)
        booked = await self.apply(conn, payout, money, diamond_account_id, receipt)
        if booked:
            await conn.execute(update(payouts).where(payouts.c.id == payout.id).values(**booked))
        await record_event(
            conn,
            payout.id,
            payout.status,
            new,
            actor=actor,
            reason=reason,
            details={**dict(details or {}), "money": money.value},
        )
        moved = await load_payout(conn, payout.id)
        assert moved is not None
        return moved
