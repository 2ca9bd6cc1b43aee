"""`requestPayout`: a creator turns diamonds into money. Quotes it (`payouts.quotes`: the amount,
the provider, the minimum, the compliance gate), checks the daily cap, then holds the diamonds and
records the payout in one transaction, once per idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.users import User
from economy.wallets import diamonds_available
from kernel.clock import utcnow
from kernel.errors import DomainError
from ledger import IdempotencyConflict, IdempotentRequest, InsufficientFunds, run_once
from ledger.idempotency import find, idempotency_key
from payouts import actors
from payouts.attempts import start_attempt
from payouts.quotes import Quote, check_diamonds, quote_payout
from payouts.service import PayoutService
from payouts.states import PayoutStatus
from payouts.store import Payout, load_payout, payout_from_row, record_event
from payouts.tables import payouts

UNSPENT = (
    PayoutStatus.FAILED.value,
    PayoutStatus.CANCELED.value,
    PayoutStatus.REJECTED.value,
    PayoutStatus.RETURNED.value,
)


@dataclass(frozen=True)
class Requested:
    payout: Payout
    replayed: bool


async def request_payout(
    svc: PayoutService,
    creator: User,
    *,
    diamonds: int,
    provider: str,
    currency: str,
    key: str,
) -> Requested:
    """Raises `DomainError`: INVALID_AMOUNT, UNKNOWN_PROVIDER, PROVIDER_NOT_CONFIGURED
    (`ProviderNotConfigured`), UNSUPPORTED_CURRENCY (no cash rate for it, or the provider does
    not pay it), BELOW_MINIMUM, AMOUNT_TOO_SMALL, PAYOUT_BLOCKED (`RequirementsNotMet`),
    INSUFFICIENT_DIAMONDS, DAILY_CAP_EXCEEDED, INVALID_IDEMPOTENCY_KEY or IDEMPOTENCY_CONFLICT.
    Nothing is written then."""
    check_diamonds(svc, diamonds)
    code = currency.strip().upper()
    request = IdempotentRequest.of(
        f"requestPayout:{creator.id}",
        idempotency_key(key),
        {"diamonds": diamonds, "provider": provider, "currency": code},
    )
    async with svc.eco.db.read() as conn:
        try:
            earlier = await find(conn, request)
        except IdempotencyConflict:
            raise _conflict() from None
        if earlier is not None:
            return Requested(await _by_request(conn, earlier), replayed=True)

    quote = await quote_payout(svc, creator, diamonds=diamonds, provider=provider, currency=code)
    recorded: list[Payout] = []

    async def book(conn: AsyncConnection) -> int:
        # What the creator owes (a payment booked after we had given its diamonds back) is
        # settled from their diamonds before any of them can be paid out again.
        await svc.book.settle_owed(conn, creator.id, creator.diamond_account_id)
        try:
            transaction_id, hold_id = await svc.book.hold_diamonds(
                conn,
                creator.diamond_account_id,
                diamonds,
                {"provider": provider, "currency": code},
                idempotency=request,
            )
        except InsufficientFunds:
            available = await diamonds_available(conn, creator.id)
            raise DomainError(
                "INSUFFICIENT_DIAMONDS",
                f"only {available:,} diamonds are available, fewer than the {diamonds:,} asked for",
                "diamonds",
            ) from None
        # The hold locked the creator's diamond account: concurrent requests of this creator
        # wait here, so the cap below cannot be passed by two requests at once.
        await _check_daily_cap(svc, conn, creator.id, quote)
        status = (
            PayoutStatus.AWAITING_APPROVAL
            if quote.gross_minor > svc.policy.approval_threshold_minor
            else PayoutStatus.APPROVED
        )
        row = (
            await conn.execute(
                insert(payouts)
                .values(
                    user_id=creator.id,
                    provider=provider,
                    status=status.value,
                    diamonds=diamonds,
                    currency=code,
                    gross_minor=quote.gross_minor,
                    fee_minor=quote.fee_minor,
                    withholding_minor=quote.withholding_minor,
                    net_minor=quote.net_minor,
                    hold_id=hold_id,
                    request_transaction_id=transaction_id,
                    requested_by=creator.subject,
                )
                .returning(payouts)
            )
        ).one()
        payout = payout_from_row(row._mapping)
        await svc.book.booked_for(conn, payout.id, transaction_id)
        await start_attempt(conn, payout.id, payout.generation)
        await record_event(conn, payout.id, None, PayoutStatus.REQUESTED, actor=creator.subject)
        await record_event(
            conn,
            payout.id,
            PayoutStatus.REQUESTED,
            status,
            actor=actors.POLICY,
            reason="above the approval threshold"
            if status is PayoutStatus.AWAITING_APPROVAL
            else "within the automatic approval limit",
        )
        recorded.append(payout)
        return transaction_id

    try:
        outcome = await run_once(svc.eco.db, request, book)
    except IdempotencyConflict:
        raise _conflict() from None
    if recorded and not outcome.replayed:
        # Committed: REQUESTED, then the status the policy gave it (both in its history).
        svc.announce(recorded[0], passed=[PayoutStatus.REQUESTED])
        return Requested(recorded[0], replayed=False)
    async with svc.eco.db.read() as conn:
        return Requested(await _by_request(conn, outcome.transaction_id), replayed=True)


async def _check_daily_cap(
    svc: PayoutService, conn: AsyncConnection, user_id: int, quote: Quote
) -> None:
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    spent = await conn.scalar(
        select(func.coalesce(func.sum(payouts.c.gross_minor), 0)).where(
            payouts.c.user_id == user_id,
            payouts.c.currency == quote.currency,
            payouts.c.created_at >= start,
            payouts.c.created_at < start + timedelta(days=1),
            payouts.c.status.not_in(UNSPENT),
        )
    )
    if int(spent or 0) + quote.gross_minor > svc.policy.daily_cap_minor:
        left = max(0, svc.policy.daily_cap_minor - int(spent or 0))
        raise DomainError(
            "DAILY_CAP_EXCEEDED",
            f"today's payouts are capped at {svc.policy.daily_cap_minor} {quote.currency} minor "
            f"units; {left} remain",
            "diamonds",
        )


async def _by_request(conn: AsyncConnection, transaction_id: int) -> Payout:
    payout_id = await conn.scalar(
        select(payouts.c.id).where(payouts.c.request_transaction_id == transaction_id)
    )
    assert payout_id is not None
    found = await load_payout(conn, int(payout_id))
    assert found is not None
    return found


def _conflict() -> DomainError:
    return DomainError(
        "IDEMPOTENCY_CONFLICT",
        "this idempotency key was already used for a different payout",
        "idempotencyKey",
    )
