"""`sendGift`: a viewer spends coins on a gift in a live stream, once per idempotency key."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from economy.gifting import send_gift as send_gift_service
from graph.context import Context
from graph.errors import refusals_as
from graph.gifts.types import GiftSend
from graph.global_ids import id_argument
from graph.streams.types import LiveStream
from graph.wallets.types import Asset, Wallet


@strawberry.enum
class SendGiftErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
    STREAM_NOT_FOUND = "STREAM_NOT_FOUND"
    STREAM_NOT_LIVE = "STREAM_NOT_LIVE"
    CANNOT_GIFT_OWN_STREAM = "CANNOT_GIFT_OWN_STREAM"
    GIFT_NOT_FOUND = "GIFT_NOT_FOUND"
    GIFT_UNAVAILABLE = "GIFT_UNAVAILABLE"
    INSUFFICIENT_COINS = "INSUFFICIENT_COINS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


@strawberry.type
class SendGiftError:
    field: str | None
    message: str
    code: SendGiftErrorCode


@strawberry.input
class SendGiftInput:
    stream_id: strawberry.ID
    gift_id: strawberry.ID
    quantity: int = strawberry.field(description="How many of the gift at once (a combo).")
    idempotency_key: str = strawberry.field(
        description="Chosen by the client, unique per gift: a retry with the same key and input "
        "returns the first result and spends nothing more."
    )


async def senders_coin_wallet(info: Info[Context, None]) -> Wallet | None:
    """The caller's coin wallet, shown whether the gift was sent or refused."""
    sender = await info.context.user()
    return Wallet.of(sender.coin_account_id, sender.id, Asset.COIN)


@strawberry.type
class SendGiftPayload:
    gift_send: GiftSend | None
    coin_wallet: Wallet | None = strawberry.field(
        resolver=senders_coin_wallet, description="The sender's wallet after."
    )
    replayed: bool = strawberry.field(
        description="True when this answers a retry of an earlier, identical request."
    )
    errors: list[SendGiftError]
    stream_id: strawberry.Private[int | None] = None

    @strawberry.field(description="The stream the gift went to (read only when asked for).")
    async def stream(self, info: Info[Context, None]) -> LiveStream | None:
        if self.stream_id is None:
            return None
        found = await info.context.loaders.stream.load(self.stream_id)
        return LiveStream.of(found) if found else None


@refusals_as(SendGiftPayload, SendGiftError, SendGiftErrorCode, gift_send=None, replayed=False)
async def send_gift(info: Info[Context, None], input: SendGiftInput) -> SendGiftPayload:
    sender = await info.context.user()
    result = await send_gift_service(
        info.context.eco,
        sender,
        stream_id=id_argument(input.stream_id, "LiveStream", "streamId"),
        gift_id=id_argument(input.gift_id, "Gift", "giftId"),
        quantity=input.quantity,
        key=input.idempotency_key,
    )
    return SendGiftPayload(
        gift_send=GiftSend.of(result.sent),
        replayed=result.replayed,
        errors=[],
        stream_id=result.sent.stream_id,
    )
