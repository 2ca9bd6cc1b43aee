"""GraphQL types of the live subscriptions: gifts landing in a stream, its leaderboard, the
caller's wallets and payouts. The public ones (gifts, leaderboard) are plain data that reads
nothing of the caller, so one execution can serve every subscriber of a stream.
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from economy import events
from economy.streams import LeaderboardEntry
from graph.gifts.types import Gift
from graph.global_ids import to_global_id
from graph.payouts.types import PayoutAmounts, PayoutStatus
from graph.scalars import BigInt
from graph.wallets.types import Wallet
from payouts import states


@strawberry.type(description="One gift that landed in a stream.")
class ReceivedGift:
    id: strawberry.ID = strawberry.field(description="The GiftSend's id.")
    gift: Gift
    sender_name: str = strawberry.field(description="The sender's display name.")
    quantity: int
    coins: BigInt = strawberry.field(description="Coins the sender spent.")
    diamonds: BigInt = strawberry.field(description="Diamonds the creator received.")
    stream_total: BigInt = strawberry.field(
        description="Diamonds the creator has received in this stream, this gift included."
    )
    committed_at: datetime = strawberry.field(description="When the gift was booked.")

    @classmethod
    def of(cls, event: events.GiftReceived, stream_total: int) -> ReceivedGift:
        return cls(
            id=to_global_id("GiftSend", event.gift_send_id),
            gift=Gift(
                id=to_global_id("Gift", event.gift_id),
                name=event.gift_name,
                coins=event.gift_coins,
                active=True,
            ),
            sender_name=event.sender_name,
            quantity=event.quantity,
            coins=BigInt(event.coins),
            diamonds=BigInt(event.diamonds),
            stream_total=BigInt(stream_total),
            committed_at=datetime.fromtimestamp(event.committed_at, UTC),
        )


@strawberry.type(
    description="Gifts that landed in a stream. The first message after subscribing has no "
    "gifts and the stream's total so far; then each message carries the gifts booked since the "
    "previous one: one at a time when gifts are sparse, all of one delivery tick in a storm."
)
class GiftReceived:
    stream_id: strawberry.ID
    gifts: list[ReceivedGift]
    stream_total: BigInt = strawberry.field(
        description="Diamonds the creator has received in this stream so far."
    )


@strawberry.type(description="A place on a stream's leaderboard.")
class LeaderboardPlace:
    rank: int
    user_id: strawberry.ID
    display_name: str
    total: BigInt = strawberry.field(description="Coins this user spent on gifts in the stream.")

    @classmethod
    def of(cls, entry: LeaderboardEntry) -> LeaderboardPlace:
        return cls(
            rank=entry.rank,
            user_id=to_global_id("User", entry.user_id),
            display_name=entry.display_name,
            total=BigInt(entry.coins),
        )


@strawberry.type(description="A stream's top gifters, sent at most once per throttle interval.")
class LeaderboardUpdate:
    stream_id: strawberry.ID
    entries: list[LeaderboardPlace]


@strawberry.type(description="The caller's wallet moved.")
class WalletUpdate:
    wallet: Wallet
    change: BigInt = strawberry.field(
        description="The net change this message reports: negative when money went out."
    )
    reason: str = strawberry.field(
        description="Why: GIFT, GRANT, ... (the latest), or CURRENT for the first messages."
    )
    transactions: int = strawberry.field(description="How many transactions it sums up.")


@strawberry.type(
    description="A payout changed status, with what it pays. A new payout sends REQUESTED, then "
    "the status its request left it in (AWAITING_APPROVAL or APPROVED)."
)
class PayoutStatusUpdate(PayoutAmounts):
    payout_id: strawberry.ID
    user_id: strawberry.ID
    status: PayoutStatus  # type: ignore[valid-type]
    at: datetime

    @classmethod
    def of(cls, event: events.PayoutStatusChanged) -> PayoutStatusUpdate:
        return cls(
            payout_id=to_global_id("Payout", event.payout_id),
            user_id=to_global_id("User", event.user_id),
            status=states.PayoutStatus(event.status),
            at=event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC),
            provider=event.provider,
            diamonds=BigInt(event.diamonds),
            currency=event.currency,
            gross=BigInt(event.gross_minor),
            fee=BigInt(event.fee_minor),
            withholding=BigInt(event.withholding_minor),
            net=BigInt(event.net_minor),
        )
