"""Payout methods at work: a creator adds one (checked by its provider; secret fields encrypted
before they are stored), and FINANCE verifies or rejects it with a note (never their own).
"""

from __future__ import annotations

from collections.abc import Mapping

from compliance import audit, inputs
from compliance.audit import Action
from compliance.crypto import cipher_for
from compliance.methods import store as methods_store
from compliance.methods.rules import PayeeContract, PayoutMethodStatus, validate_method
from compliance.service import Compliance
from kernel.actor import Actor
from kernel.audit import write_audit_entry
from kernel.errors import DomainError, NotFound


async def add_payout_method(
    svc: Compliance, user: Actor, provider: PayeeContract, fields: Mapping[str, str]
) -> methods_store.StoredMethod:
    """Add (or replace) the person's method for `provider` from the details they gave, by
    field name; it waits for verification. Raises `PayeeRefused` (a `DomainError` naming every
    bad field); nothing is written then."""
    method = validate_method(provider, fields)
    box = cipher_for(tuple(svc.settings.compliance.tin_keys))
    sealed = {f.name: box.seal(f.value) for f in method.fields if f.secret}
    async with svc.db.write() as conn:
        method_id = await methods_store.replace(conn, user.id, method, sealed)
        stored = await methods_store.by_id(conn, method_id)
        assert stored is not None
        await write_audit_entry(
            conn,
            user.subject,
            Action.PAYOUT_METHOD_ADDED,
            audit.user_target(user.id),
            {"method_id": method_id, "provider": method.provider, "display": stored.display},
        )
    return stored


async def review_payout_method(
    svc: Compliance, reviewer: Actor, *, method_id: int, verify: bool, note: str
) -> methods_store.StoredMethod:
    """FINANCE verifies or rejects a pending method. Raises `DomainError`: INVALID_NOTE,
    METHOD_NOT_FOUND, SELF_REVIEW, NOT_PENDING."""
    why = inputs.note(note)
    async with svc.db.write() as conn:
        found = await methods_store.by_id(conn, method_id, lock=True)
        if found is None:
            raise NotFound("METHOD_NOT_FOUND", "no payout method has this id", "payoutMethodId")
        if found.user_id == reviewer.id:
            raise DomainError(
                "SELF_REVIEW", "nobody may verify their own payout method", "payoutMethodId"
            )
        status = PayoutMethodStatus.VERIFIED if verify else PayoutMethodStatus.REJECTED
        if not await methods_store.decide(
            conn, method_id, status, actor=reviewer.subject, note=why
        ):
            raise DomainError(
                "NOT_PENDING", f"this payout method is {found.status.value}", "payoutMethodId"
            )
        await write_audit_entry(
            conn,
            reviewer.subject,
            Action.PAYOUT_METHOD_REVIEWED,
            audit.user_target(found.user_id),
            {"method_id": method_id, "decision": status.value, "note": why},
        )
        decided = await methods_store.by_id(conn, method_id)
    assert decided is not None
    return decided
