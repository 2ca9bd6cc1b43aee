"""The gate the payouts pipeline calls before money leaves: `check_payout` gathers the facts from
the compliance stores and asks the pure policy (`decide`); `payee_for` gives the creator's
verified payout method as a provider `Payee`. Both only read: call them on any connection.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from compliance import audit
from compliance.audit import Action
from compliance.crypto import cipher_for
from compliance.gate.rules import (
    Eligibility,
    GatePolicy,
    MethodFacts,
    PayoutFacts,
    Requirement,
    RequirementCode,
    decide,
    may_buy_coins,
)
from compliance.identity import store as identity_store
from compliance.methods import store as methods_store
from compliance.methods.rules import PayoutMethodStatus
from compliance.sanctions import store as sanctions_store
from compliance.tax import store as tax_store
from kernel.audit import write_audit_entry
from providers.base import Payee
from settings.service import Settings

__all__ = [
    "Eligibility",
    "Requirement",
    "RequirementCode",
    "check_coin_purchase",
    "check_payout",
    "decide",
    "facts_for",
    "may_buy_coins",
    "payee_for",
    "record_gate_decision",
]


async def facts_for(
    conn: AsyncConnection, *, user_id: int, provider: str, currency: str, amount_minor: int
) -> PayoutFacts:
    record = await identity_store.load(conn, user_id)
    form = await tax_store.current(conn, user_id)
    method = await methods_store.current(conn, user_id, provider)
    return PayoutFacts(
        identity=record.identity,
        tax_form=form.form if form else None,
        sanctions=await sanctions_store.state_of(conn, user_id),
        method=MethodFacts(method.status, method.country) if method else None,
        provider=provider,
        currency=currency,
        amount_minor=amount_minor,
    )


async def check_payout(
    conn: AsyncConnection,
    *,
    user_id: int,
    provider: str,
    currency: str,
    amount_minor: int,
    today: date,
    settings: Settings,
) -> Eligibility:
    """May `user_id` be paid `amount_minor` of `currency` through `provider` on `today`?
    Eligible, or every missing requirement; with the backup withholding rate that applies."""
    facts = await facts_for(
        conn, user_id=user_id, provider=provider, currency=currency, amount_minor=amount_minor
    )
    return decide(facts, GatePolicy.of(settings), today)


async def check_coin_purchase(
    conn: AsyncConnection, *, user_id: int, today: date, settings: Settings
) -> Eligibility:
    """May `user_id` buy coins? Their date of birth (verified, or declared) must show them of
    age where they live."""
    ident = (await identity_store.load(conn, user_id)).identity
    return may_buy_coins(ident.birth_date, ident.country, GatePolicy.of(settings), today)


async def payee_for(
    conn: AsyncConnection, *, user_id: int, provider: str, settings: Settings
) -> Payee | None:
    """Where `provider` should send the creator's money: their VERIFIED payout method for it,
    with their legal name and country, and the method's fields by name; None without one.
    Secret fields are decrypted with the keys of `settings`."""
    method = await methods_store.current(conn, user_id, provider)
    if method is None or method.status is not PayoutMethodStatus.VERIFIED:
        return None
    ident = (await identity_store.load(conn, user_id)).identity
    form = await tax_store.current(conn, user_id)
    name = ident.legal_name or method.holder_name or (form.form.legal_name if form else None)
    country = ident.country or method.country or (form.form.country if form else None)
    if not name or not country:
        return None
    fields, sealed = await methods_store.field_values(conn, method.id)
    if sealed:
        box = cipher_for(tuple(settings.compliance.tin_keys))
        fields.update({field: box.open(token) for field, token in sealed.items()})
    return Payee(name=method.holder_name or name, country=country, fields=fields)


async def record_gate_decision(
    conn: AsyncConnection,
    *,
    actor: str,
    user_id: int,
    eligibility: Eligibility,
    reference: str,
    stage: str,
) -> None:
    """Audit a gate decision the pipeline acted on (`stage`: request, dispatch, ...), in the
    pipeline's write transaction."""
    await write_audit_entry(
        conn,
        actor,
        Action.PAYOUT_GATE_DECIDED,
        audit.user_target(user_id),
        {
            "reference": reference,
            "stage": stage,
            "eligible": eligibility.eligible,
            "requirements": [r.code for r in eligibility.requirements],
            "withholding_bps": eligibility.withholding_bps,
        },
    )
