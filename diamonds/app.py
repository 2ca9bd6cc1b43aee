"""The service as `diamonds serve` runs it, assembled in the shell: the HTTP app around one
economy, compliance on its database and settings, payouts through every configured provider,
coin purchases, and the migration check.
"""

from __future__ import annotations

from aiohttp import web

from compliance.service import Compliance
from diamonds.migrate import current_revision, head_revision
from economy.app import Economy
from economy.purchases.setup import build_purchase_service
from graph.server import create_app
from payouts.setup import build_payout_service, log_provider_statuses


async def migration_state(eco: Economy) -> tuple[str | None, str | None]:
    """The database's migration revision and the newest one this code knows."""
    return await current_revision(eco.db), head_revision()


def create_service_app(eco: Economy, *, run_worker: bool = True) -> web.Application:
    """The app with payouts through every configured provider and coin purchases when Stripe is
    configured (both from the settings and the environment), logging each provider's state."""
    payouts = build_payout_service(eco)
    log_provider_statuses(payouts.providers)
    return create_app(
        eco,
        payouts,
        purchases=build_purchase_service(eco),
        run_worker=run_worker,
        schema_state=migration_state,
        compliance=Compliance(eco.db, eco.settings),
    )
