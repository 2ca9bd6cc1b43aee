"""`revealTaxId`: FINANCE reads a person's full TIN, for filing, with a reason; the access is
written to the audit log before the TIN is returned."""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from compliance.tax import service as tax_service
from graph.context import Context
from graph.errors import refusals_as
from graph.global_ids import id_argument


@strawberry.enum
class RevealTaxIdErrorCode(enum.Enum):
    INVALID_ID = "INVALID_ID"
    INVALID_NOTE = "INVALID_NOTE"
    NO_TAX_FORM = "NO_TAX_FORM"
    CANNOT_DECRYPT = "CANNOT_DECRYPT"


@strawberry.type
class RevealTaxIdError:
    field: str | None
    message: str
    code: RevealTaxIdErrorCode


@strawberry.input
class RevealTaxIdInput:
    user_id: strawberry.ID
    reason: str = strawberry.field(description="Why the full TIN is needed (audited).")


@strawberry.type
class RevealTaxIdPayload:
    tin: str | None
    tin_type: str | None
    errors: list[RevealTaxIdError]


@refusals_as(RevealTaxIdPayload, RevealTaxIdError, RevealTaxIdErrorCode, tin=None, tin_type=None)
async def reveal_tax_id(info: Info[Context, None], input: RevealTaxIdInput) -> RevealTaxIdPayload:
    actor = await info.context.user()
    revealed = await tax_service.reveal_tin(
        info.context.compliance,
        actor,
        user_id=id_argument(input.user_id, "User", "userId"),
        reason=input.reason,
    )
    return RevealTaxIdPayload(tin=revealed.value, tin_type=revealed.kind, errors=[])
