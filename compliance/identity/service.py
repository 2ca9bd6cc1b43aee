"""Identity verification at work: a person starts a manual or a Stripe Identity verification,
FINANCE decides manual ones (never their own), Stripe's webhooks move sessions along, a person
may declare their date of birth (the coin purchase age gate), and verifications expire.
Every change is audited; a newly known legal name is screened against the sanctions list.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance import audit, inputs
from compliance.audit import Action
from compliance.identity import store as identity_store
from compliance.identity.rules import (
    STARTABLE,
    IdentityMethod,
    IdentityStatus,
    from_stripe,
    may_move,
)
from compliance.identity.store import IdentityRecord
from compliance.identity.stripe_identity import (
    IdentityProviderError,
    SessionEvent,
    SessionState,
    StripeIdentity,
)
from compliance.sanctions.service import screen_user
from compliance.service import Compliance
from kernel.actor import Actor
from kernel.audit import write_audit_entry
from kernel.clock import utc_today
from kernel.errors import DomainError
from settings.service import Settings

S = IdentityStatus


class ReviewDecision(enum.StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    REQUEST_INPUT = "REQUEST_INPUT"
    REVOKE = "REVOKE"
    """Withdraw a verification found to be false: VERIFIED -> REJECTED."""


def _not_startable(record: IdentityRecord) -> DomainError:
    status = record.identity.status
    if status is S.VERIFIED:
        return DomainError("ALREADY_VERIFIED", "your identity is already verified")
    if status is S.REJECTED:
        return DomainError(
            "VERIFICATION_REJECTED", "your identity verification was rejected; contact support"
        )
    return DomainError(
        "VERIFICATION_IN_PROGRESS", f"a verification is already under way ({status.value})"
    )


async def _changed(
    conn: AsyncConnection,
    actor: str,
    user_id: int,
    before: IdentityStatus,
    after: IdentityStatus,
    action: Action,
    details: dict[str, Any],
) -> None:
    await write_audit_entry(
        conn,
        actor,
        action,
        audit.user_target(user_id),
        {"from": before.value, "to": after.value, **details},
    )


async def start_manual(
    svc: Compliance, user: Actor, *, legal_name: str, birth_date: date, country: str, today: date
) -> IdentityRecord:
    """Submit name, date of birth and country for a FINANCE reviewer. Raises `DomainError`:
    INVALID_LEGAL_NAME, INVALID_BIRTH_DATE, INVALID_COUNTRY, ALREADY_VERIFIED,
    VERIFICATION_REJECTED, VERIFICATION_IN_PROGRESS."""
    name = inputs.legal_name(legal_name)
    born = inputs.birth_date(birth_date, today)
    where = inputs.country(country)
    async with svc.db.write() as conn:
        record = await identity_store.lock(conn, user.id)
        if record.identity.status not in STARTABLE:
            raise _not_startable(record)
        await identity_store.save(
            conn,
            user.id,
            status=S.PENDING.value,
            method=IdentityMethod.MANUAL.value,
            reason=None,
            legal_name=name,
            birth_date=born,
            birth_date_verified=False,
            country=where,
            provider_session_id=None,
            submitted_at=func.now(),
            verified_at=None,
            expires_on=None,
        )
        await _changed(
            conn,
            user.subject,
            user.id,
            record.identity.status,
            S.PENDING,
            Action.IDENTITY_STARTED,
            {"method": IdentityMethod.MANUAL.value, "country": where},
        )
        await screen_user(conn, user.id, svc.settings, actor=audit.SYSTEM)
        return await identity_store.load(conn, user.id)


@dataclass(frozen=True)
class StartedSession:
    record: IdentityRecord
    client_secret: str | None
    url: str | None


async def start_stripe(svc: Compliance, user: Actor, verifier: StripeIdentity) -> StartedSession:
    """Open a Stripe Identity session for the person (a new one replaces a session they left
    unfinished). Raises `DomainError`: ALREADY_VERIFIED, VERIFICATION_REJECTED,
    VERIFICATION_IN_PROGRESS, PROVIDER_UNAVAILABLE."""

    def restartable(record: IdentityRecord) -> bool:
        ident = record.identity
        return ident.status in STARTABLE or (
            ident.status is S.PENDING and ident.method is IdentityMethod.STRIPE_IDENTITY
        )

    async with svc.db.read() as conn:
        before = await identity_store.load(conn, user.id)
    if not restartable(before):
        raise _not_startable(before)
    try:  # never hold a lock across a provider call
        created = await verifier.create_session(user.id)
    except IdentityProviderError as exc:
        raise DomainError("PROVIDER_UNAVAILABLE", str(exc)) from None
    status, reason = from_stripe(
        created.state.status, created.state.error_code, created.state.error_reason
    )
    async with svc.db.write() as conn:
        record = await identity_store.lock(conn, user.id)
        if not restartable(record):
            raise _not_startable(record)
        await identity_store.save(
            conn,
            user.id,
            status=status.value,
            method=IdentityMethod.STRIPE_IDENTITY.value,
            reason=reason,
            provider_session_id=created.state.id,
            submitted_at=func.now(),
            verified_at=None,
            expires_on=None,
        )
        await _changed(
            conn,
            user.subject,
            user.id,
            record.identity.status,
            status,
            Action.IDENTITY_STARTED,
            {"method": IdentityMethod.STRIPE_IDENTITY.value, "session": created.state.id},
        )
        after = await identity_store.load(conn, user.id)
    return StartedSession(after, created.client_secret, created.url)


def _expiry(settings: Settings, today: date, document_expires_on: date | None) -> date | None:
    days = settings.compliance.identity_valid_days
    limits = [d for d in (document_expires_on, today + timedelta(days=days) if days else None) if d]
    return min(limits) if limits else None


async def review(
    svc: Compliance,
    reviewer: Actor,
    *,
    user_id: int,
    decision: ReviewDecision,
    note: str,
    today: date,
    document_expires_on: date | None = None,
) -> IdentityRecord:
    """FINANCE decides a manual verification (or revokes any verification), with a note.
    Raises `DomainError`: INVALID_NOTE, INVALID_EXPIRY, SELF_REVIEW, NOT_PENDING."""
    why = inputs.note(note)
    if document_expires_on is not None and document_expires_on < today:
        raise DomainError(
            "INVALID_EXPIRY", "the identity document has already expired", "documentExpiresOn"
        )
    if reviewer.id == user_id:
        raise DomainError("SELF_REVIEW", "nobody may review their own identity", "userId")
    async with svc.db.write() as conn:
        record = await identity_store.lock(conn, user_id)
        ident = record.identity
        if decision is ReviewDecision.REVOKE:
            if ident.status is not S.VERIFIED:
                raise DomainError(
                    "NOT_PENDING", "only a verified identity can be revoked", "userId"
                )
            values: dict[str, Any] = {"status": S.REJECTED.value, "reason": why}
        else:
            if ident.status is not S.PENDING or ident.method is not IdentityMethod.MANUAL:
                raise DomainError(
                    "NOT_PENDING",
                    f"there is no manual verification to review (status {ident.status.value})",
                    "userId",
                )
            if decision is ReviewDecision.APPROVE:
                values = {
                    "status": S.VERIFIED.value,
                    "reason": None,
                    "birth_date_verified": True,
                    "verified_at": func.now(),
                    "expires_on": _expiry(svc.settings, today, document_expires_on),
                }
            elif decision is ReviewDecision.REJECT:
                values = {"status": S.REJECTED.value, "reason": why}
            else:
                values = {"status": S.REQUIRES_INPUT.value, "reason": why}
        new = S(values["status"])
        await identity_store.save(
            conn, user_id, decided_by=reviewer.subject, decided_at=func.now(), note=why, **values
        )
        await _changed(
            conn,
            reviewer.subject,
            user_id,
            ident.status,
            new,
            Action.IDENTITY_REVIEWED,
            {"decision": decision.value, "note": why},
        )
        return await identity_store.load(conn, user_id)


async def declare_birth_date(
    svc: Compliance, user: Actor, *, birth_date: date, country: str, today: date
) -> IdentityRecord:
    """A person's own word on their date of birth and country, for the coin purchase age gate.
    Ignored for payouts (they need a verified date). A verified identity's date stands.
    Raises `DomainError`: INVALID_BIRTH_DATE, INVALID_COUNTRY, ALREADY_VERIFIED."""
    born = inputs.birth_date(birth_date, today)
    where = inputs.country(country)
    async with svc.db.write() as conn:
        record = await identity_store.lock(conn, user.id)
        if record.identity.birth_date_verified:
            raise DomainError(
                "ALREADY_VERIFIED", "your date of birth is already verified", "dateOfBirth"
            )
        await identity_store.save(conn, user.id, birth_date=born, country=where)
        await write_audit_entry(
            conn,
            user.subject,
            Action.BIRTH_DATE_DECLARED,
            audit.user_target(user.id),
            {"country": where},
        )
        return await identity_store.load(conn, user.id)


async def apply_stripe_event(svc: Compliance, verifier: StripeIdentity, event: SessionEvent) -> str:
    """Apply a verified webhook's session update once. Returns what happened: APPLIED,
    DUPLICATE, UNKNOWN_SESSION (not the person's current session: an abandoned one, or not
    ours), OUT_OF_ORDER or NO_CHANGE."""
    session: SessionState = event.session
    if session.status == "verified" and not session.has_outputs:
        fetched = await verifier.retrieve(session.id)  # outside any transaction
        if fetched.status == "verified":
            session = fetched
    status, reason = from_stripe(session.status, session.error_code, session.error_reason)
    async with svc.db.write() as conn:
        if not await identity_store.claim_event(conn, event.event_id, event.type, session.id):
            return "DUPLICATE"
        outcome = await _apply_session(conn, svc.settings, session, status, reason)
        await identity_store.settle_event(conn, event.event_id, outcome)
        return outcome


async def _apply_session(
    conn: AsyncConnection,
    settings: Settings,
    session: SessionState,
    status: IdentityStatus,
    reason: str | None,
) -> str:
    user_id = await identity_store.user_of_session(conn, session.id)
    if user_id is None:
        return "UNKNOWN_SESSION"
    record = await identity_store.lock(conn, user_id)
    current = record.identity.status
    if status is S.PENDING:
        # Only a start makes a record PENDING. A session reads `requires_input` without an error
        # only when it is new, so such news (the `created` event, perhaps delivered after later
        # ones: Stripe does not order deliveries) never moves a record back.
        return "NO_CHANGE"
    if not may_move(current, status):
        return "OUT_OF_ORDER"
    values: dict[str, Any] = {"status": status.value, "reason": reason}
    if status is S.VERIFIED:
        values.update(
            verified_at=func.now(),
            birth_date=session.birth_date,
            birth_date_verified=session.birth_date is not None,
            expires_on=_expiry(settings, utc_today(), None),
        )
        if session.legal_name:
            values["legal_name"] = session.legal_name[:200]
        if session.country:
            values["country"] = session.country
    await identity_store.save(conn, user_id, **values)
    await _changed(
        conn,
        audit.STRIPE,
        user_id,
        current,
        status,
        Action.IDENTITY_STATUS_CHANGED,
        {"session": session.id, "reason": reason},
    )
    if status is S.VERIFIED:
        await screen_user(conn, user_id, settings, actor=audit.SYSTEM)
    return "APPLIED"


async def expire_verifications(svc: Compliance, today: date) -> list[int]:
    """Mark verifications past their last day EXPIRED (the gate already treats them so)."""
    async with svc.db.write() as conn:
        expired = await identity_store.expire_due(conn, today)
        for user_id in expired:
            await _changed(
                conn,
                audit.SYSTEM,
                user_id,
                S.VERIFIED,
                S.EXPIRED,
                Action.IDENTITY_STATUS_CHANGED,
                {"expired_on": today.isoformat()},
            )
    return expired
