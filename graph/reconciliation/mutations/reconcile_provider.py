"""`reconcileProvider`: FINANCE reconciles one provider for a period now (a day by default), the
same run the daily job makes; a re-run replaces the period's results and keeps resolutions.
"""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry.types import Info

from graph.context import Context
from graph.errors import refusals_as
from graph.reconciliation.types import ReconciliationRun
from kernel.errors import DomainError
from payouts.reconciliation.run import checked_period, reconcile_period


@strawberry.enum
class ReconcileProviderErrorCode(enum.Enum):
    UNKNOWN_PROVIDER = "UNKNOWN_PROVIDER"
    PROVIDER_NOT_CONFIGURED = "PROVIDER_NOT_CONFIGURED"
    RECONCILE_UNSUPPORTED = "RECONCILE_UNSUPPORTED"
    INVALID_PERIOD = "INVALID_PERIOD"
    RUN_IN_PROGRESS = "RUN_IN_PROGRESS"
    PROVIDER_UNREACHABLE = "PROVIDER_UNREACHABLE"


@strawberry.type
class ReconcileProviderError:
    field: str | None
    message: str
    code: ReconcileProviderErrorCode


@strawberry.input
class ReconcileProviderInput:
    provider: str
    since: date = strawberry.field(description="The first day (UTC).")
    until: date | None = strawberry.field(
        default=None, description="The day after the last (exclusive); default: since + 1 day."
    )


@strawberry.type
class ReconcileProviderPayload:
    run: ReconciliationRun | None
    errors: list[ReconcileProviderError]


@refusals_as(ReconcileProviderPayload, ReconcileProviderError, ReconcileProviderErrorCode, run=None)
async def reconcile_provider(
    info: Info[Context, None], input: ReconcileProviderInput
) -> ReconcileProviderPayload:
    actor = await info.context.user()
    period = checked_period(input.since, input.until)
    try:
        run = await reconcile_period(
            info.context.payout_service(), input.provider, period, actor=actor.subject
        )
    except DomainError:
        raise
    except Exception as exc:
        raise DomainError(
            "PROVIDER_UNREACHABLE",
            f"{input.provider} could not be read: {type(exc).__name__}; the run is marked "
            "FAILED and can be run again",
            "provider",
        ) from exc
    if run is None:
        raise DomainError(
            "RUN_IN_PROGRESS", "this period is being reconciled right now", "provider"
        )
    return ReconcileProviderPayload(run=ReconciliationRun.of(run), errors=[])
