"""The service as `diamonds serve` runs it, assembled in the shell: the HTTP app around one
economy, compliance on its database and settings, payouts through every configured provider,
coin purchases, the migration check, and the finance console and creator studio on one schema.
"""

from __future__ import annotations

from aiohttp import web

from compliance.service import Compliance
from consoles.pages import ConsoleConfig
from consoles.setup import add_consoles
from diamonds.demo import demo_tokens
from diamonds.migrate import current_revision, head_revision
from economy.app import Economy
from economy.purchases.setup import PurchaseService, build_purchase_service
from graph.auth import Principal
from graph.context import Context
from graph.server import create_app
from payouts.service import PayoutService
from payouts.setup import build_payout_service, log_provider_statuses


async def migration_state(eco: Economy) -> tuple[str | None, str | None]:
    """The database's migration revision and the newest one this code knows."""
    return await current_revision(eco.db), head_revision()


def create_service_app(eco: Economy, *, run_worker: bool = True) -> web.Application:
    """The app with payouts through every configured provider and coin purchases when Stripe is
    configured (both from the settings and the environment), logging each provider's state."""
    payouts = build_payout_service(eco)
    log_provider_statuses(payouts.providers)
    purchases = build_purchase_service(eco)
    app = create_app(
        eco,
        payouts,
        purchases=purchases,
        run_worker=run_worker,
        schema_state=migration_state,
        compliance=Compliance(eco.db, eco.settings),
    )
    mount_consoles(app, eco, payouts, purchases)
    return app


def mount_consoles(
    app: web.Application,
    eco: Economy,
    payouts: PayoutService | None,
    purchases: PurchaseService | None = None,
) -> None:
    """The finance console at `/console` and the creator studio at `/studio`, running their
    operations with the API's context; in development their sign-in offers the demo tokens."""

    def context_for(principal: Principal, request: web.Request) -> Context:
        return Context(
            eco=eco, principal=principal, request=request, payouts=payouts, purchases=purchases
        )

    tokens = demo_tokens(eco.settings) if eco.settings.development else {}
    add_consoles(app, ConsoleConfig(eco.settings, context_for, tokens))
