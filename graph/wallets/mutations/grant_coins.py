"""`grantCoins`: an ADMIN grants promotional coins to a subject, with a reason, audited."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from economy.grants import grant_coins as grant_coins_service
from graph.context import Context
from graph.errors import refusals_as
from graph.scalars import BigInt
from graph.wallets.types import Asset, Wallet


@strawberry.enum
class GrantCoinsErrorCode(enum.Enum):
    INVALID_SUBJECT = "INVALID_SUBJECT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_REASON = "INVALID_REASON"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


@strawberry.type
class GrantCoinsError:
    field: str | None
    message: str
    code: GrantCoinsErrorCode


@strawberry.input
class GrantCoinsInput:
    subject: str = strawberry.field(description="The token subject of the recipient.")
    coins: BigInt
    reason: str = strawberry.field(description="Why, for the audit log (1 to 500 characters).")
    idempotency_key: str


@strawberry.type
class GrantCoinsPayload:
    wallet: Wallet | None = strawberry.field(description="The recipient's coin wallet.")
    replayed: bool
    errors: list[GrantCoinsError]


@refusals_as(GrantCoinsPayload, GrantCoinsError, GrantCoinsErrorCode, wallet=None, replayed=False)
async def grant_coins(info: Info[Context, None], input: GrantCoinsInput) -> GrantCoinsPayload:
    admin = await info.context.user()
    grant = await grant_coins_service(
        info.context.eco,
        admin,
        subject=input.subject,
        coins=int(input.coins),
        reason=input.reason,
        key=input.idempotency_key,
    )
    recipient = grant.recipient
    return GrantCoinsPayload(
        wallet=Wallet.of(recipient.coin_account_id, recipient.id, Asset.COIN),
        replayed=grant.replayed,
        errors=[],
    )
