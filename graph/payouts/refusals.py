"""How a payout's quote and request answer the refusals they share: each missing compliance
requirement as its own typed error, and a provider not configured told to a creator plainly.
"""

from __future__ import annotations

import enum
from typing import TypeVar

from strawberry.types import Info

from graph.context import Context
from graph.errors import PayloadErrorType, payload_errors
from kernel.errors import DomainError
from payouts.quotes import RequirementsNotMet
from payouts.service import ProviderNotConfigured

E = TypeVar("E")
C = TypeVar("C", bound=enum.Enum)


def requirement_errors(
    error_type: PayloadErrorType[E, C], codes: type[C], exc: RequirementsNotMet
) -> list[E]:
    """One error per missing requirement, coded as the requirement (PAYOUT_BLOCKED for one the
    enum does not name)."""
    known = codes.__members__
    return [
        error_type(
            field=None,
            message=r.message,
            code=codes[r.code] if r.code in known else codes["PAYOUT_BLOCKED"],
        )
        for r in exc.requirements
    ] or payload_errors(error_type, codes, exc)


def for_the_caller(info: Info[Context, None], exc: ProviderNotConfigured) -> DomainError:
    """What is missing in a provider's configuration is for FINANCE (and the logs), not for a
    creator: FINANCE gets the exception itself, anyone else its public message."""
    if info.context.principal.sees_all_money:
        return exc
    return DomainError(exc.code, exc.public_message, exc.field)
