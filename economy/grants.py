"""Promotional coins: an admin grants coins to a subject with a reason; the grant is booked in
the ledger from the platform's promotions account and written to the audit log, once per key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.events import WalletChanged, now
from economy.users import User
from kernel import validation
from kernel.audit import write_audit_entry
from kernel.errors import DomainError
from kernel.validation import text_field, whole_number
from ledger import Asset, IdempotencyConflict, IdempotentRequest, Transfer, run_once
from ledger.idempotency import find, idempotency_key

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class Grant:
    transaction_id: int
    recipient: User
    coins: int
    replayed: bool


async def grant_coins(
    eco: Economy, admin: User, *, subject: str, coins: int, reason: str, key: str
) -> Grant:
    """Raises `DomainError` with INVALID_SUBJECT, INVALID_AMOUNT, INVALID_REASON,
    INVALID_IDEMPOTENCY_KEY or IDEMPOTENCY_CONFLICT; nothing is written then."""
    recipient_subject = validation.subject(subject.strip(), field="subject")
    whole_number(
        coins,
        field="coins",
        code="INVALID_AMOUNT",
        low=1,
        high=eco.settings.max_grant_coins,
        what="the coins granted",
    )
    why = text_field(
        reason,
        field="reason",
        code="INVALID_REASON",
        max_length=MAX_REASON_LENGTH,
        what="the reason",
    )
    request = IdempotentRequest.of(
        f"grantCoins:{admin.id}",
        idempotency_key(key),
        {"subject": recipient_subject, "coins": coins, "reason": why},
    )
    async with eco.db.read() as conn:
        try:
            earlier = await find(conn, request)
        except IdempotencyConflict:
            raise _conflict() from None
    if earlier is not None:  # a replay: answer without creating anything
        recipient = await eco.users.ensure(recipient_subject)
        return Grant(earlier, recipient, coins, replayed=True)
    recipient = await eco.users.ensure(recipient_subject)

    async def book(conn: AsyncConnection) -> int:
        transaction_id = await eco.ledger.record(
            conn,
            "GRANT",
            [Transfer(eco.platform.coin_promotions, recipient.coin_account_id, Asset.COIN, coins)],
            details={"reason": why, "granted_by": admin.subject},
            idempotency=request,
        )
        await write_audit_entry(
            conn,
            admin.subject,
            "GRANT_COINS",
            recipient.subject,
            {"coins": coins, "reason": why, "transaction_id": transaction_id},
        )
        return transaction_id

    try:
        outcome = await run_once(eco.db, request, book)
    except IdempotencyConflict:
        raise _conflict() from None
    if not outcome.replayed:  # committed now: tell the recipient's live subscribers
        eco.events.publish(
            WalletChanged(
                user_id=recipient.id,
                account_id=recipient.coin_account_id,
                asset=Asset.COIN.value,
                change=coins,
                reason="GRANT",
                transaction_id=outcome.transaction_id,
                committed_at=now(),
            )
        )
    return Grant(outcome.transaction_id, recipient, coins, outcome.replayed)


def _conflict() -> DomainError:
    return DomainError(
        "IDEMPOTENCY_CONFLICT",
        "this idempotency key was already used for a different grant",
        "idempotencyKey",
    )
