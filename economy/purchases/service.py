"""Buying coins: `purchase_coins` records the purchase and asks the payment provider for a
PaymentIntent (once per idempotency key); `apply_payment_event` credits the coins exactly once
when the verified webhook says the payment succeeded, for the amount that was asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.app import Economy
from economy.catalog import currency_code, list_coin_bundles
from economy.purchases.tables import coin_purchases
from economy.users import User
from kernel.clock import utcnow
from kernel.errors import DomainError
from ledger import Asset, IdempotentRequest, Transfer, run_once
from ledger.idempotency import idempotency_key
from providers.errors import PermanentProviderError, ProviderError
from providers.stripe_payments import PaymentEvent, PaymentIntent

log = logging.getLogger(__name__)


class PaymentsGateway(Protocol):
    async def create_payment_intent(
        self, *, amount_minor: int, currency: str, metadata: dict[str, str], key: str
    ) -> PaymentIntent: ...


class AgeGate(Protocol):
    async def may_buy(self, conn: AsyncConnection, user_id: int) -> tuple[bool, str]: ...


@dataclass(frozen=True)
class Purchase:
    id: int
    user_id: int
    bundle_id: int
    coins: int
    currency: str
    amount_minor: int
    payment_intent_id: str | None
    client_secret: str | None
    status: str
    created_at: datetime


@dataclass(frozen=True)
class Started:
    purchase: Purchase
    replayed: bool


def purchase_from_row(row: RowMapping) -> Purchase:
    return Purchase(**{name: row[name] for name in Purchase.__dataclass_fields__})


async def purchase_coins(
    eco: Economy,
    payments: PaymentsGateway,
    gate: AgeGate,
    buyer: User,
    *,
    bundle_id: int,
    currency: str,
    key: str,
) -> Started:
    """Raises `DomainError`: INVALID_IDEMPOTENCY_KEY, INVALID_CURRENCY, BUNDLE_NOT_FOUND,
    AGE_UNVERIFIED, IDEMPOTENCY_CONFLICT, PAYMENT_PROVIDER_UNAVAILABLE or PAYMENT_REFUSED."""
    chosen_key = idempotency_key(key)
    code = currency_code(currency)
    request_hash = IdempotentRequest.of(
        "purchaseCoins", chosen_key, {"bundle": bundle_id, "currency": code}
    ).request_hash
    async with eco.db.read() as conn:
        existing = await _by_key(conn, buyer.id, chosen_key)
        bundle = None
        if existing is None:
            bundle = next(
                (b for b in await list_coin_bundles(conn, code) if b.id == bundle_id), None
            )
            if bundle is None:
                raise DomainError(
                    "BUNDLE_NOT_FOUND", f"no coin bundle on sale in {code} by that id", "bundleId"
                )
            allowed, why = await gate.may_buy(conn, buyer.id)
            if not allowed:
                raise DomainError("AGE_UNVERIFIED", why, None)
    if existing is not None:
        purchase, hash_of_first = existing
        if hash_of_first != request_hash:
            raise DomainError(
                "IDEMPOTENCY_CONFLICT",
                "this idempotency key was already used for another purchase",
                "idempotencyKey",
            )
        if purchase.payment_intent_id:
            return Started(purchase, replayed=True)
        replayed = True
    else:
        assert bundle is not None
        purchase, made = await _record(
            eco, buyer, bundle_id, bundle.coins, code, bundle.price_minor, chosen_key, request_hash
        )
        if not made and purchase.payment_intent_id:
            return Started(purchase, replayed=True)
        replayed = not made
    try:
        intent = await payments.create_payment_intent(
            amount_minor=purchase.amount_minor,
            currency=purchase.currency,
            metadata={
                "purchase_id": str(purchase.id),
                "user_id": str(buyer.id),
                "coins": str(purchase.coins),
            },
            key=f"diamonds-coin-purchase-{purchase.id}",
        )
    except PermanentProviderError as exc:
        raise DomainError(
            "PAYMENT_REFUSED", f"the payment provider refused: {exc.detail}", None
        ) from None
    except ProviderError:
        log.exception("coin purchase %s: the payment provider did not answer", purchase.id)
        raise DomainError(
            "PAYMENT_PROVIDER_UNAVAILABLE",
            "the payment provider did not answer; try again with the same idempotency key",
            None,
        ) from None
    async with eco.db.write() as conn:
        await conn.execute(
            update(coin_purchases)
            .where(coin_purchases.c.id == purchase.id)
            .values(
                payment_intent_id=intent.id, client_secret=intent.client_secret, updated_at=utcnow()
            )
        )
        row = (
            await conn.execute(select(coin_purchases).where(coin_purchases.c.id == purchase.id))
        ).one()
    return Started(purchase_from_row(row._mapping), replayed=replayed)


async def _record(
    eco: Economy,
    buyer: User,
    bundle_id: int,
    coins: int,
    currency: str,
    amount: int,
    key: str,
    request_hash: str,
) -> tuple[Purchase, bool]:
    """The purchase recorded under `key`, and whether this call made it (False: a racing
    identical request recorded it first, and this one replays it)."""
    try:
        async with eco.db.write() as conn:
            row = (
                await conn.execute(
                    insert(coin_purchases)
                    .values(
                        user_id=buyer.id,
                        bundle_id=bundle_id,
                        coins=coins,
                        currency=currency,
                        amount_minor=amount,
                        idempotency_key=key,
                        request_hash=request_hash,
                    )
                    .returning(coin_purchases)
                )
            ).one()
            return purchase_from_row(row._mapping), True
    except IntegrityError:  # a racing request with the same key won
        async with eco.db.read() as conn:
            found = await _by_key(conn, buyer.id, key)
        assert found is not None
        if found[1] != request_hash:
            raise DomainError(
                "IDEMPOTENCY_CONFLICT",
                "this idempotency key was already used for another purchase",
                "idempotencyKey",
            ) from None
        return found[0], False


async def _by_key(conn: AsyncConnection, user_id: int, key: str) -> tuple[Purchase, str] | None:
    row = (
        await conn.execute(
            select(coin_purchases).where(
                coin_purchases.c.user_id == user_id, coin_purchases.c.idempotency_key == key
            )
        )
    ).first()
    return None if row is None else (purchase_from_row(row._mapping), row.request_hash)


async def apply_payment_event(eco: Economy, event: PaymentEvent) -> str:
    """Credit the coins of a succeeded payment once; record failures. Returns what happened:
    credited, duplicate, failed, canceled, mismatch, ignored or unmatched."""
    async with eco.db.read() as conn:
        row = (
            await conn.execute(
                select(coin_purchases).where(
                    coin_purchases.c.payment_intent_id == event.payment_intent_id
                )
            )
        ).first()
    if row is None:
        log.warning("payment event %s names no purchase of ours", event.event_id)
        return "unmatched"
    purchase = purchase_from_row(row._mapping)
    if event.type != "payment_intent.succeeded":
        status = "FAILED" if event.type == "payment_intent.payment_failed" else "CANCELED"
        async with eco.db.write() as conn:
            changed = await conn.execute(
                update(coin_purchases)
                .where(coin_purchases.c.id == purchase.id, coin_purchases.c.status == "PENDING")
                .values(status=status, updated_at=utcnow())
            )
        return status.lower() if changed.rowcount else "ignored"
    if event.currency != purchase.currency or event.amount_received < purchase.amount_minor:
        log.error(
            "purchase %s: paid %s %s, expected %s %s; no coins credited",
            purchase.id,
            event.amount_received,
            event.currency,
            purchase.amount_minor,
            purchase.currency,
        )
        async with eco.db.write() as conn:
            await conn.execute(
                update(coin_purchases)
                .where(coin_purchases.c.id == purchase.id, coin_purchases.c.status == "PENDING")
                .values(status="MISMATCH", updated_at=utcnow())
            )
        return "mismatch"
    buyer_row = await _buyer_coins(eco, purchase.user_id)
    request = IdempotentRequest.of(
        "coinPurchase", event.payment_intent_id, {"purchase": purchase.id, "coins": purchase.coins}
    )

    async def credit(conn: AsyncConnection) -> int:
        transaction_id = await eco.ledger.record(
            conn,
            "PURCHASE",
            [Transfer(eco.platform.coin_sales, buyer_row, Asset.COIN, purchase.coins)],
            details={"purchase": purchase.id, "payment_intent": event.payment_intent_id},
            idempotency=request,
        )
        await conn.execute(
            update(coin_purchases)
            .where(coin_purchases.c.id == purchase.id)
            .values(status="SUCCEEDED", credit_transaction_id=transaction_id, updated_at=utcnow())
        )
        return transaction_id

    outcome = await run_once(eco.db, request, credit)
    return "duplicate" if outcome.replayed else "credited"


async def _buyer_coins(eco: Economy, user_id: int) -> int:
    from economy.users import by_id

    async with eco.db.read() as conn:
        buyer = await by_id(conn, user_id)
    assert buyer is not None
    return buyer.coin_account_id


async def purchase_by_id(conn: AsyncConnection, purchase_id: int) -> Purchase | None:
    row = (
        await conn.execute(select(coin_purchases).where(coin_purchases.c.id == purchase_id))
    ).first()
    return None if row is None else purchase_from_row(row._mapping)
