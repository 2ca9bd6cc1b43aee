"""The gift catalog and the coin bundles with their prices per currency: read by everyone,
written by the demo loader and by admins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from economy.tables import coin_bundle_prices, coin_bundles, gifts
from kernel.errors import DomainError
from ledger.database import insert_ignoring_conflicts

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Gift:
    id: int
    name: str
    coins: int
    active: bool


@dataclass(frozen=True)
class CoinBundle:
    id: int
    coins: int
    currency: str
    price_minor: int


def gift_from_row(row: Mapping[Any, Any]) -> Gift:
    return Gift(id=int(row["id"]), name=row["name"], coins=int(row["coins"]), active=row["active"])


async def list_gifts(conn: AsyncConnection, *, include_inactive: bool = False) -> list[Gift]:
    query = select(gifts).order_by(gifts.c.coins, gifts.c.id)
    if not include_inactive:
        query = query.where(gifts.c.active.is_(True))
    return [gift_from_row(r._mapping) for r in await conn.execute(query)]


async def gifts_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, Gift]:
    rows = await conn.execute(select(gifts).where(gifts.c.id.in_(list(ids))))
    return {int(r.id): gift_from_row(r._mapping) for r in rows}


async def get_gift(conn: AsyncConnection, gift_id: int) -> Gift | None:
    return (await gifts_by_ids(conn, [gift_id])).get(gift_id)


def currency_code(value: str, field: str = "currency") -> str:
    code = value.strip().upper()
    if not _CURRENCY.match(code):
        raise DomainError("INVALID_CURRENCY", "a currency is a three-letter ISO 4217 code", field)
    return code


async def list_coin_bundles(conn: AsyncConnection, currency: str) -> list[CoinBundle]:
    code = currency_code(currency)
    rows = await conn.execute(
        select(coin_bundles.c.id, coin_bundles.c.coins, coin_bundle_prices.c.amount_minor)
        .join(coin_bundle_prices, coin_bundle_prices.c.bundle_id == coin_bundles.c.id)
        .where(coin_bundles.c.active.is_(True), coin_bundle_prices.c.currency == code)
        .order_by(coin_bundles.c.coins)
    )
    return [
        CoinBundle(id=int(i), coins=int(c), currency=code, price_minor=int(p)) for i, c, p in rows
    ]


async def put_gift(conn: AsyncConnection, name: str, coins: int, *, active: bool = True) -> None:
    """Add a gift to the catalog, or reprice and (de)activate the one of that name."""
    await conn.execute(
        insert_ignoring_conflicts(conn.dialect, gifts).values(name=name, coins=coins, active=active)
    )
    await conn.execute(update(gifts).where(gifts.c.name == name).values(coins=coins, active=active))


async def put_coin_bundle(
    conn: AsyncConnection, coins: int, prices: Iterable[tuple[str, int]]
) -> None:
    """Add a bundle of `coins`, or update its prices: (currency, minor units) pairs."""
    await conn.execute(insert_ignoring_conflicts(conn.dialect, coin_bundles).values(coins=coins))
    bundle_id = await conn.scalar(select(coin_bundles.c.id).where(coin_bundles.c.coins == coins))
    for currency, amount in prices:
        await conn.execute(
            insert_ignoring_conflicts(conn.dialect, coin_bundle_prices).values(
                bundle_id=bundle_id, currency=currency, amount_minor=amount
            )
        )
        await conn.execute(
            update(coin_bundle_prices)
            .where(
                coin_bundle_prices.c.bundle_id == bundle_id,
                coin_bundle_prices.c.currency == currency,
            )
            .values(amount_minor=amount)
        )
