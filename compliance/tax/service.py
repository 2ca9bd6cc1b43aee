"""Tax forms at work: a creator submits a W-9 or W-8BEN (the TIN validated, then encrypted
before it reaches the database), FINANCE reveals a full TIN only with a reason and an audit
entry, and a key rotation re-encrypts every TIN and account number under the newest key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from compliance import audit, inputs
from compliance.audit import Action
from compliance.crypto import CannotDecrypt, Cipher, cipher_for
from compliance.methods import store as methods_store
from compliance.sanctions.service import screen_user
from compliance.service import Compliance
from compliance.tax import store as tax_store
from compliance.tax.rules import TaxFormKind, check_submission
from compliance.tax.tin import TinType
from kernel.actor import Actor
from kernel.audit import write_audit_entry
from kernel.errors import DomainError
from settings.service import Settings

ROTATION_BATCH = 200


def cipher(settings: Settings) -> Cipher:
    return cipher_for(tuple(settings.compliance.tin_keys))


async def submit_tax_form(
    svc: Compliance,
    user: Actor,
    *,
    kind: TaxFormKind,
    legal_name: str,
    country: str,
    tin_type: TinType,
    tin: str,
    certified: bool,
    today: date,
) -> tax_store.StoredTaxForm:
    """Store the person's new tax form, superseding the previous one, and screen the name on it.
    Raises `DomainError`: INVALID_LEGAL_NAME, INVALID_COUNTRY, NOT_CERTIFIED, WRONG_FORM,
    INVALID_TIN. The TIN is never logged nor audited, only its last four characters."""
    submission = check_submission(
        kind,
        legal_name=inputs.legal_name(legal_name),
        country=inputs.country(country),
        tin_type=tin_type,
        tin=tin,
        certified=certified,
        today=today,
    )
    sealed = cipher(svc.settings).seal(submission.tin.value)
    async with svc.db.write() as conn:
        form_id = await tax_store.replace(conn, user.id, submission, sealed, user.subject)
        await write_audit_entry(
            conn,
            user.subject,
            Action.TAX_FORM_SUBMITTED,
            audit.user_target(user.id),
            {
                "form_id": form_id,
                "kind": submission.kind.value,
                "country": submission.country,
                "tin_kind": submission.tin.kind,
                "tin_last4": submission.tin.last4,
                "expires_on": submission.expires_on.isoformat() if submission.expires_on else None,
            },
        )
        await screen_user(conn, user.id, svc.settings, actor=audit.SYSTEM)
        stored = await tax_store.current(conn, user.id)
    assert stored is not None
    return stored


@dataclass(frozen=True)
class RevealedTin:
    form_id: int
    kind: str
    value: str

    def __repr__(self) -> str:
        return f"RevealedTin(form_id={self.form_id}, kind={self.kind!r}, value=<hidden>)"


async def reveal_tin(svc: Compliance, actor: Actor, *, user_id: int, reason: str) -> RevealedTin:
    """The full TIN of a person's current form, for filing. The access is audited in the same
    transaction, so no TIN leaves without its audit entry. Raises `DomainError`: INVALID_NOTE,
    NO_TAX_FORM, CANNOT_DECRYPT."""
    why = inputs.note(reason, "reason")
    async with svc.db.write() as conn:
        stored = await tax_store.current(conn, user_id)
        sealed = await tax_store.sealed_tin(conn, user_id)
        if stored is None or sealed is None:
            raise DomainError("NO_TAX_FORM", "this person has no tax form", "userId")
        try:
            value = cipher(svc.settings).open(sealed[1])
        except CannotDecrypt:
            raise DomainError(
                "CANNOT_DECRYPT", "no configured key opens this TIN; check DIAMONDS_TIN_KEYS"
            ) from None
        await write_audit_entry(
            conn,
            actor.subject,
            Action.TIN_DECRYPTED,
            audit.user_target(user_id),
            {"form_id": stored.id, "tin_last4": stored.form.tin_last4, "reason": why},
        )
    return RevealedTin(form_id=stored.id, kind=stored.form.tin_kind, value=value)


@dataclass(frozen=True)
class Rotation:
    tax_forms: int
    payout_methods: int
    key_id: str


async def rotate_keys(svc: Compliance, *, actor: str) -> Rotation:
    """Re-encrypt, in batches, every TIN and secret payout method field (IBAN, account number)
    not sealed with the primary key (the first of DIAMONDS_TIN_KEYS). Afterwards older keys
    can be removed. Resumable."""
    box = cipher(svc.settings)
    forms = methods = 0
    while True:
        async with svc.db.write() as conn:
            batch = await tax_store.sealed_with_other_keys(conn, box.primary_key_id, ROTATION_BATCH)
            for form_id, token in batch:
                await tax_store.reseal(conn, form_id, box.reseal(token))
            forms += len(batch)
        if len(batch) < ROTATION_BATCH:
            break
    while True:
        async with svc.db.write() as conn:
            found = await methods_store.sealed_with_other_keys(
                conn, box.primary_key_id, ROTATION_BATCH
            )
            for sealed in found:
                await methods_store.reseal(conn, sealed, box.reseal(sealed.token))
            methods += len(found)
        if len(found) < ROTATION_BATCH:
            break
    async with svc.db.write() as conn:
        await write_audit_entry(
            conn,
            actor,
            Action.KEYS_ROTATED,
            "compliance:keys",
            {"key_id": box.primary_key_id, "tax_forms": forms, "payout_methods": methods},
        )
    return Rotation(tax_forms=forms, payout_methods=methods, key_id=box.primary_key_id)
