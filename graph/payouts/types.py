"""GraphQL types of payouts: `Payout` with its amounts, attempts, status and history (who moved it
by role to the creator, by name to FINANCE and ADMIN), ledger entries, its creator's compliance
profile, discrepancies, and the payout providers.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from economy import events
from graph.auth import Principal, Role
from graph.compliance.types import ComplianceProfile, compliance_profile_of
from graph.context import Context
from graph.global_ids import Connection, Node, to_global_id
from graph.permissions import CanReadPayoutLedger, IsFinance
from graph.scalars import BigInt, utc
from graph.users.types import User
from payouts import actors, queries, states
from payouts import attempts as attempt_records
from payouts import discrepancies as discrepancy_records
from payouts import store as payout_store
from payouts.attempts import attempts_of
from payouts.discrepancies import Discrepancy as DiscrepancyRecord
from payouts.discrepancies import discrepancies_of
from payouts.export import MAX_EXPORT_ROWS, payouts_csv
from payouts.store import Payout as PayoutRecord
from payouts.store import load_payout, payout_history, payout_ledger_entries
from providers.base import MAX_FIELD_LENGTH, PayeeField, PayoutProvider

PayoutStatus = strawberry.enum(states.PayoutStatus, description="Where a payout stands.")
PayoutAttemptOutcome = strawberry.enum(
    attempt_records.AttemptOutcome, description="Where one attempt stands at the provider."
)
PayoutAttemptSettledBy = strawberry.enum(
    attempt_records.SettledBy, description="Who settled an attempt's outcome."
)
PayoutDiscrepancyKind = strawberry.enum(
    discrepancy_records.DiscrepancyKind,
    description="How a provider's outcome contradicted our records.",
)


@strawberry.type(
    description="One attempt at the provider, under its own idempotency key; a retry is a new "
    "attempt and never overwrites an earlier one."
)
class PayoutAttempt:
    number: int
    idempotency_key: str = strawberry.field(
        description="Our reference at the provider: diamonds-payout-<id>[-<number>]."
    )
    provider_reference: str | None
    outcome: PayoutAttemptOutcome  # type: ignore[valid-type]
    settled_by: PayoutAttemptSettledBy | None  # type: ignore[valid-type]
    failure_code: str | None
    failure_message: str | None
    first_sent_at: datetime | None
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: attempt_records.Attempt) -> PayoutAttempt:
        return cls(
            number=a.number,
            idempotency_key=a.idempotency_key,
            provider_reference=a.provider_reference,
            outcome=a.outcome,
            settled_by=a.settled_by,
            failure_code=a.failure_code,
            failure_message=a.failure_message,
            first_sent_at=utc(a.first_sent_at) if a.first_sent_at else None,
            paid_at=utc(a.paid_at) if a.paid_at else None,
            created_at=utc(a.created_at),
            updated_at=utc(a.updated_at),
        )


@strawberry.type(
    description="Where a provider's outcome and our records disagreed. The money is booked as "
    "the provider says (or held back, for a reversal it will not confirm) and the discrepancy "
    "stays open until FINANCE acknowledges it."
)
class PayoutDiscrepancy(Node):
    id: strawberry.ID
    attempt_number: int
    kind: PayoutDiscrepancyKind  # type: ignore[valid-type]
    provider_state: str = strawberry.field(description="What the provider said.")
    our_status: PayoutStatus = strawberry.field(  # type: ignore[valid-type]
        description="What our records said when the news arrived."
    )
    message: str
    owed_diamonds: BigInt = strawberry.field(
        description="Diamonds booked as owed by the creator because of it."
    )
    source: str = strawberry.field(description="Where the news came from (webhook, lookup...).")
    created_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    note: str | None
    record: strawberry.Private[DiscrepancyRecord]

    @classmethod
    def of(cls, d: DiscrepancyRecord) -> PayoutDiscrepancy:
        return cls(
            id=to_global_id("PayoutDiscrepancy", d.id),
            attempt_number=d.attempt_number,
            kind=d.kind,
            provider_state=d.provider_state,
            our_status=states.PayoutStatus(d.our_status),
            message=d.message,
            owed_diamonds=BigInt(d.owed_diamonds),
            source=d.source,
            created_at=utc(d.created_at),
            acknowledged_by=d.acknowledged_by,
            acknowledged_at=utc(d.acknowledged_at) if d.acknowledged_at else None,
            note=d.note,
            record=d,
        )

    @strawberry.field(description="The payout it is about.")
    async def payout(self, info: Info[Context, None]) -> Payout | None:
        async with info.context.eco.db.read() as conn:
            found = await load_payout(conn, self.record.payout_id)
        return Payout.of(found) if found else None


LedgerEntryEffect = strawberry.enum(
    payout_store.EntryEffect,
    description="What a ledger entry did: TRANSFER moved the amount from the debit account to "
    "the credit account (a posted hold too); HOLD_PLACED reserved it on the debit account; "
    "HOLD_VOIDED released that reservation. Only a TRANSFER changes a balance.",
)


@strawberry.type(description="A ledger account, named as the ledger names it.")
class LedgerAccount:
    owner: str = strawberry.field(description="`user:<id>` for a person's, `platform` for ours.")
    name: str = strawberry.field(
        description="Which of the owner's accounts: diamonds, payouts_received, withholding, "
        "fees:<provider>, payout_funding, diamonds_redeemed, ..."
    )
    asset: str = strawberry.field(description="DIAMOND, COIN, or a currency code.")

    @classmethod
    def of(cls, account: payout_store.AccountName) -> LedgerAccount:
        return cls(owner=account.owner, name=account.name, asset=account.asset)


@strawberry.type(
    description="One ledger entry a payout booked: a transfer between two accounts, or a hold "
    "placed or released, with the ledger transaction it belongs to."
)
class LedgerEntry:
    transaction_id: strawberry.ID = strawberry.field(
        description="The ledger transaction (as a wallet's history names it); one transaction "
        "can have several entries (the cash legs of a payment)."
    )
    kind: str = strawberry.field(
        description="The transaction's kind: PAYOUT_HOLD, HOLD_POSTED, HOLD_VOIDED, PAYOUT_PAID, "
        "PAYOUT_RETURNED, PAYOUT_PAID_LATE, ..."
    )
    effect: LedgerEntryEffect  # type: ignore[valid-type]
    debit_account: LedgerAccount
    credit_account: LedgerAccount
    asset: str
    amount: BigInt = strawberry.field(
        description="Diamonds, or minor units of the currency; always positive."
    )
    at: datetime

    @classmethod
    def of(cls, entry: payout_store.Entry) -> LedgerEntry:
        return cls(
            transaction_id=to_global_id("WalletTransaction", entry.transaction_id),
            kind=entry.kind,
            effect=entry.effect,
            debit_account=LedgerAccount.of(entry.debit),
            credit_account=LedgerAccount.of(entry.credit),
            asset=entry.asset,
            amount=BigInt(entry.amount),
            at=utc(entry.at),
        )


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
    resolved_by_hand: bool = strawberry.field(
        description="FINANCE stated its outcome where the provider could not be asked."
    )
    open_discrepancies: int = strawberry.field(
        description="Discrepancies flagged on it that FINANCE has not acknowledged yet."
    )
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
            resolved_by_hand=payout.resolved_by_hand,
            open_discrepancies=payout.open_discrepancies,
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

    @strawberry.field(description="Every attempt at the provider, first first.")
    async def attempts(self, info: Info[Context, None]) -> list[PayoutAttempt]:
        async with info.context.eco.db.read() as conn:
            found = await attempts_of(conn, self.record.id)
        return [PayoutAttempt.of(a) for a in found]

    @strawberry.field(
        permission_classes=[CanReadPayoutLedger],
        description="Every ledger entry this payout booked, across its retries, oldest first: "
        "the hold of its request (and of each retry), the hold's posting or release, the cash "
        "legs (net, withholding, fee), a return (FINANCE and ADMIN; refused, null, for others).",
    )
    async def ledger_entries(self, info: Info[Context, None]) -> list[LedgerEntry] | None:
        async with info.context.eco.db.read() as conn:
            found = await payout_ledger_entries(conn, self.record.id)
        return [LedgerEntry.of(e) for e in found]

    @strawberry.field(
        description="The creator's compliance profile: identity, tax form, payout methods and "
        "(FINANCE) sanctions status; for FINANCE and the creator themselves (refused, null, for "
        "others)."
    )
    async def compliance_profile(self, info: Info[Context, None]) -> ComplianceProfile | None:
        return await compliance_profile_of(info, self.record.user_id)

    @strawberry.field(
        description="Discrepancies flagged on this payout, oldest first; null unless you are "
        "FINANCE or ADMIN."
    )
    async def discrepancies(self, info: Info[Context, None]) -> list[PayoutDiscrepancy] | None:
        if not info.context.principal.sees_all_money:
            return None
        async with info.context.eco.db.read() as conn:
            found = await discrepancies_of(conn, self.record.id)
        return [PayoutDiscrepancy.of(d) for d in found]


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


PayoutSort = strawberry.enum(
    queries.PayoutOrder,
    name="PayoutSort",
    description="How payouts are listed: NEWEST or OLDEST first, or by diamonds, LARGEST or "
    "SMALLEST first (equal amounts newest first).",
)


@strawberry.type(description="A page of payouts, with how many match and all of them as CSV.")
class PayoutConnection(Connection[Payout]):
    where: strawberry.Private[queries.PayoutFilter]
    order: strawberry.Private[queries.PayoutOrder]

    @strawberry.field(
        permission_classes=[IsFinance],
        description="Every payout matching the filter (not only this page), in the same order, "
        f"as CSV with a header row; at most {MAX_EXPORT_ROWS:,} rows; amounts are integers "
        "(diamonds, minor units) (FINANCE).",
    )
    async def csv(self, info: Info[Context, None]) -> str:
        async with info.context.eco.db.read() as conn:
            return await payouts_csv(conn, self.where, self.order)
