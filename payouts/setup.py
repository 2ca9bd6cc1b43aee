"""Assembling the payout pipeline for a process: providers from the registry (entry points and
per-provider environment, each one's state logged), the compliance gate, the payout policy (read
at start-up with the other settings).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from economy.app import Economy
from payouts.eligibility import ComplianceGate, PayoutGate
from payouts.service import PayoutService
from providers.registry import ProviderRegistry, ProviderStatus

log = logging.getLogger(__name__)


def build_payout_service(
    eco: Economy,
    environ: Mapping[str, str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
    gate: PayoutGate | None = None,
) -> PayoutService:
    """The pipeline with every configured provider (from `environ`, else the process's) and the
    payout policy of `eco.settings`."""
    return PayoutService(
        eco=eco,
        gate=gate or ComplianceGate(eco.settings),
        providers=registry or ProviderRegistry(environ),
        policy=eco.settings.payouts,
    )


def log_provider_statuses(registry: ProviderRegistry) -> list[ProviderStatus]:
    """Build every registered provider once and log whether it can be used here (`configured`,
    or `not configured: missing DIAMONDS_...`), so an operator sees it at start-up."""
    statuses = registry.statuses()
    for status in statuses:
        if status.configured:
            log.info("payout provider %s: %s", status.slug, status.describe())
        else:
            log.warning("payout provider %s: %s", status.slug, status.describe())
    if not statuses:
        log.warning("no payout provider is registered")
    return statuses
