"""GraphQL types of payouts: `Payout` with its amounts, status and history, for its creator and for
FINANCE and ADMIN; who moved it shows by role to the creator, by name to FINANCE and ADMIN.
"""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.types import Info

from economy.payouts import actors
from graph.auth import Principal, Role
from graph.context import Context
from graph.relay import Node, to_global_id
from graph.scalars import BigInt, utc
from graph.users.types import User
from ledger.payouts import states
from ledger.payouts.store import Payout as PayoutRecord
from ledger.payouts.store import payout_history

PayoutStatus = strawberry.enum(states.PayoutStatus, description="Where a payout stands.")


SEES_WHO = (Role.FINANCE, Role.ADMIN)
"""The roles shown which person, worker or webhook moved a payout."""


@strawberry.enum(description="Who moved a payout, by role.")
class PayoutActorRole(enum.Enum):
    CREATOR = strawberry.enum_value(
        "CREATOR", description="The payout's creator: the request, or a cancel of their own."
    )
    FINANCE = strawberry.enum_value(
        "FINANCE",
        description="A FINANCE person: an approval, rejection, retry, resolution, or a cancel "
        "on the creator's behalf.",
    )
    SYSTEM = strawberry.enum_value(
        "SYSTEM",
        description="The service: the approval policy, a dispatch worker, a provider's webhook.",
    )


def actor_role(actor: str, payout: PayoutRecord) -> PayoutActorRole:
    """The role behind an actor in a payout's history (which keeps the real actor)."""
    if actor == payout.requested_by:
        return PayoutActorRole.CREATOR
    if actors.is_system(actor):
        return PayoutActorRole.SYSTEM
    return PayoutActorRole.FINANCE


def shown_actor(actor: str, payout: PayoutRecord, principal: Principal) -> str:
    """`actor` as `principal` may see it: FINANCE and ADMIN see who it was; anyone else (the
    creator) sees their own subject for their own steps and the role (`finance`, `system`) for
    the rest, never a staff member's, worker's or webhook's identity."""
    role = actor_role(actor, payout)
    if role is PayoutActorRole.CREATOR or principal.has(*SEES_WHO):
        return actor
    return role.name.lower()


@strawberry.type(description="One step in a payout's life.")
class PayoutStatusChange:
    from_status: PayoutStatus | None  # type: ignore[valid-type]
    to_status: PayoutStatus  # type: ignore[valid-type]
    actor_role: PayoutActorRole = strawberry.field(description="Who moved it, by role.")
    actor: str = strawberry.field(
        description="Who moved it. FINANCE and ADMIN see who exactly: a subject, `policy`, "
        "`worker:<host>:<pid>` or `webhook:<provider>`. Anyone else (the creator) sees their own "
        "subject for their own steps and the role, `finance` or `system`, for the rest."
    )
    reason: str | None
    at: datetime


@strawberry.enum(description="Outcomes FINANCE can state for a stuck payout.")
class PayoutResolution(enum.Enum):
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


@strawberry.interface(
    description="What a payout pays: through which provider, for how many diamonds, and the "
    "money in minor units of its currency."
)
class PayoutAmounts:
    provider: str
    diamonds: BigInt
    currency: str
    gross: BigInt = strawberry.field(description="What the diamonds are worth, minor units.")
    fee: BigInt = strawberry.field(description="The provider's fee, passed through.")
    withholding: BigInt = strawberry.field(description="Tax withheld (backup withholding).")
    net: BigInt = strawberry.field(description="What the creator receives.")


@strawberry.type(description="Diamonds turned into money for a creator.")
class Payout(Node, PayoutAmounts):
    id: strawberry.ID
    status: PayoutStatus  # type: ignore[valid-type]
    provider_reference: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    record: strawberry.Private[PayoutRecord]

    @classmethod
    def of(cls, payout: PayoutRecord) -> Payout:
        return cls(
            id=to_global_id("Payout", payout.id),
            status=payout.status,
            provider=payout.provider,
            diamonds=BigInt(payout.diamonds),
            currency=payout.currency,
            gross=BigInt(payout.gross_minor),
            fee=BigInt(payout.fee_minor),
            withholding=BigInt(payout.withholding_minor),
            net=BigInt(payout.net_minor),
            provider_reference=payout.provider_reference,
            failure_code=payout.failure_code,
            failure_message=payout.failure_message,
            created_at=utc(payout.created_at),
            updated_at=utc(payout.updated_at),
            paid_at=utc(payout.paid_at) if payout.paid_at else None,
            record=payout,
        )

    @strawberry.field
    async def creator(self, info: Info[Context, None]) -> User:
        found = await info.context.loaders.user.load(self.record.user_id)
        assert found is not None
        return User.of(found)

    @strawberry.field(
        description="The FINANCE person who approved it (null if approved automatically): "
        "their subject for FINANCE and ADMIN, `finance` for anyone else."
    )
    def approved_by(self, info: Info[Context, None]) -> str | None:
        approver = self.record.approved_by
        if approver is None:
            return None
        return shown_actor(approver, self.record, info.context.principal)

    @strawberry.field(description="Every status change, oldest first.")
    async def history(self, info: Info[Context, None]) -> list[PayoutStatusChange]:
        async with info.context.eco.db.read() as conn:
            events = await payout_history(conn, self.record.id)
        principal = info.context.principal
        return [
            PayoutStatusChange(
                from_status=e.from_status,
                to_status=e.to_status,
                actor_role=actor_role(e.actor, self.record),
                actor=shown_actor(e.actor, self.record, principal),
                reason=e.reason,
                at=utc(e.created_at),
            )
            for e in events
        ]
