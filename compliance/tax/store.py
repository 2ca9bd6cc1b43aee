"""The tax forms: the current form per person (older ones are kept, superseded), its TIN sealed
with the configured keys, and the re-encryption of TINs sealed with an older key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.crypto import Sealed
from compliance.tables import tax_forms
from compliance.tax.rules import TaxForm, TaxFormKind, TaxFormSubmission


@dataclass(frozen=True)
class StoredTaxForm:
    id: int
    user_id: int
    form: TaxForm
    tin_checked: bool
    submitted_by: str
    created_at: datetime


def _stored(row: RowMapping) -> StoredTaxForm:
    return StoredTaxForm(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        form=TaxForm(
            kind=TaxFormKind(row["kind"]),
            legal_name=row["legal_name"],
            country=row["country"],
            tin_kind=row["tin_kind"],
            tin_last4=row["tin_last4"],
            signed_on=row["signed_on"],
            expires_on=row["expires_on"],
        ),
        tin_checked=bool(row["tin_checked"]),
        submitted_by=row["submitted_by"],
        created_at=row["created_at"],
    )


_CURRENT_COLUMNS = [c for c in tax_forms.c if c.name != "tin_ciphertext"]


async def current(conn: AsyncConnection, user_id: int) -> StoredTaxForm | None:
    row = (
        await conn.execute(
            select(*_CURRENT_COLUMNS).where(
                tax_forms.c.user_id == user_id, tax_forms.c.superseded_at.is_(None)
            )
        )
    ).first()
    return None if row is None else _stored(row._mapping)


async def current_many(conn: AsyncConnection, user_ids: list[int]) -> dict[int, StoredTaxForm]:
    rows = await conn.execute(
        select(*_CURRENT_COLUMNS).where(
            tax_forms.c.user_id.in_(user_ids), tax_forms.c.superseded_at.is_(None)
        )
    )
    return {int(r.user_id): _stored(r._mapping) for r in rows}


async def replace(
    conn: AsyncConnection,
    user_id: int,
    submission: TaxFormSubmission,
    sealed: Sealed,
    submitted_by: str,
) -> int:
    """Store `submission` as the person's current form, superseding the one before."""
    await conn.execute(
        update(tax_forms)
        .where(tax_forms.c.user_id == user_id, tax_forms.c.superseded_at.is_(None))
        .values(superseded_at=func.now())
    )
    form_id = await conn.scalar(
        insert(tax_forms)
        .values(
            user_id=user_id,
            kind=submission.kind.value,
            legal_name=submission.legal_name,
            country=submission.country,
            tin_kind=submission.tin.kind,
            tin_ciphertext=sealed.token,
            tin_key_id=sealed.key_id,
            tin_last4=submission.tin.last4,
            tin_checked=submission.tin.checked,
            signed_on=submission.signed_on,
            expires_on=submission.expires_on,
            submitted_by=submitted_by,
        )
        .returning(tax_forms.c.id)
    )
    assert form_id is not None
    return int(form_id)


async def sealed_tin(conn: AsyncConnection, user_id: int) -> tuple[int, str] | None:
    """(form id, sealed TIN) of the person's current form."""
    row = (
        await conn.execute(
            select(tax_forms.c.id, tax_forms.c.tin_ciphertext).where(
                tax_forms.c.user_id == user_id, tax_forms.c.superseded_at.is_(None)
            )
        )
    ).first()
    return None if row is None else (int(row.id), str(row.tin_ciphertext))


async def sealed_with_other_keys(
    conn: AsyncConnection, primary_key_id: str, limit: int
) -> list[tuple[int, str]]:
    """(form id, sealed TIN) of forms (current or not) not sealed with the primary key."""
    rows = await conn.execute(
        select(tax_forms.c.id, tax_forms.c.tin_ciphertext)
        .where(tax_forms.c.tin_key_id != primary_key_id)
        .order_by(tax_forms.c.id)
        .limit(limit)
        .with_for_update()
    )
    return [(int(r.id), str(r.tin_ciphertext)) for r in rows]


async def reseal(conn: AsyncConnection, form_id: int, sealed: Sealed) -> None:
    await conn.execute(
        update(tax_forms)
        .where(tax_forms.c.id == form_id)
        .values(tin_ciphertext=sealed.token, tin_key_id=sealed.key_id)
    )
