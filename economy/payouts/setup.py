"""Assembling the payout pipeline for a process: providers from the registry (entry points and
per-provider environment), the compliance gate, and the policy from `DIAMONDS_PAYOUT_*`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from diamonds.config import ConfigError
from economy.app import Economy
from economy.payouts.gate import ComplianceGate, PayoutGate
from economy.payouts.policy import PayoutPolicy
from economy.payouts.service import PayoutService
from providers.registry import ProviderRegistry


def build_payout_service(
    eco: Economy,
    environ: Mapping[str, str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
    gate: PayoutGate | None = None,
) -> PayoutService:
    """The pipeline with every configured provider. Raises `ConfigError` on a bad policy value."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    policy = PayoutPolicy.from_env(env, problems)
    if problems:
        raise ConfigError(problems)
    return PayoutService(
        eco=eco,
        gate=gate or ComplianceGate(eco.settings),
        providers=registry or ProviderRegistry(env),
        policy=policy,
    )
