"""GraphQL types of payouts: `Payout` with its amounts, provider, status and timestamped history
(its creator's, FINANCE's and ADMIN's to see), and the providers with their payee fields.
"""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.relay import Node, to_global_id
from graph.scalars import BigInt, utc
from graph.users.types import User
from ledger.payouts import states
from ledger.payouts.store import Payout as PayoutRecord
from ledger.payouts.store import payout_history
from providers.base import MAX_FIELD_LENGTH, PayeeField, PayoutProvider

PayoutStatus = strawberry.enum(states.PayoutStatus, description="Where a payout stands.")


@strawberry.type(description="One step in a payout's life.")
class PayoutStatusChange:
    from_status: PayoutStatus | None  # type: ignore[valid-type]
    to_status: PayoutStatus  # type: ignore[valid-type]
    actor: str = strawberry.field(
        description="Who or what moved it: a subject, the policy, a worker, a provider's webhook."
    )
    reason: str | None
    at: datetime


@strawberry.enum(description="Outcomes FINANCE can state for a stuck payout.")
class PayoutResolution(enum.Enum):
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


@strawberry.type(description="Diamonds turned into money for a creator.")
class Payout(Node):
    id: strawberry.ID
    status: PayoutStatus  # type: ignore[valid-type]
    provider: str
    diamonds: BigInt
    currency: str
    gross: BigInt = strawberry.field(description="What the diamonds are worth, minor units.")
    fee: BigInt = strawberry.field(description="The provider's fee, passed through.")
    withholding: BigInt = strawberry.field(description="Tax withheld (backup withholding).")
    net: BigInt = strawberry.field(description="What the creator receives.")
    provider_reference: str | None
    failure_code: str | None
    failure_message: str | None
    approved_by: str | None
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
            approved_by=payout.approved_by,
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

    @strawberry.field(description="Every status change, oldest first.")
    async def history(self, info: Info[Context, None]) -> list[PayoutStatusChange]:
        async with info.context.eco.db.read() as conn:
            events = await payout_history(conn, self.record.id)
        return [
            PayoutStatusChange(
                from_status=e.from_status,
                to_status=e.to_status,
                actor=e.actor,
                reason=e.reason,
                at=utc(e.created_at),
            )
            for e in events
        ]


@strawberry.type(
    name="PayeeField",
    description="A payee detail a provider asks for: a frontend renders one form input per field.",
)
class PayeeFieldInfo:
    name: str = strawberry.field(description="The key to send in `addPayoutMethod`'s `fields`.")
    label: str
    required: bool
    secret: bool = strawberry.field(description="Encrypted at rest and shown masked afterwards.")
    pattern: str | None = strawberry.field(description="A regular expression the value matches.")
    help: str = strawberry.field(description="What the value looks like, for the form.")
    max_length: int

    @classmethod
    def of(cls, spec: PayeeField) -> PayeeFieldInfo:
        return cls(
            name=spec.name,
            label=spec.label,
            required=spec.required,
            secret=spec.secret,
            pattern=spec.pattern,
            help=spec.help,
            max_length=min(spec.max_length, MAX_FIELD_LENGTH),
        )


@strawberry.type(
    name="PayoutProvider",
    description="A payout provider configured on this server, and the payee fields it needs.",
)
class PayoutProviderInfo:
    slug: str
    currencies: list[str]
    countries: list[str] | None = strawberry.field(description="Payee countries; null is any.")
    payee_fields: list[PayeeFieldInfo]

    @classmethod
    def of(cls, provider: PayoutProvider) -> PayoutProviderInfo:
        return cls(
            slug=provider.slug,
            currencies=sorted(provider.currencies),
            countries=None if provider.countries is None else sorted(provider.countries),
            payee_fields=[PayeeFieldInfo.of(f) for f in provider.payee_fields],
        )
