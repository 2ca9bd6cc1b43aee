"""`python -m sim.worker CONFIG`: one round of the payout worker in a process of its own, on the
simulation's database and fake providers (CONFIG is the JSON `World.worker_killed` passes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any

from economy.app import Economy
from payouts.service import PayoutService
from providers.base import Payee
from providers.registry import ProviderRegistry
from sim.gate import SimGate
from sim.providers import paypal_payee, paypal_provider, stripe_payee, stripe_provider
from sim.run import settings_for
from sim.world import CALLS, POLICY, new_dispatcher

TIMEOUT_SECONDS = 60.0
"""The child's bound on one exchange: longer than the simulator takes to kill it in a hang."""


async def one_round(config: dict[str, Any]) -> int:
    eco = await Economy.start(settings_for(config["database"]))
    paypal = paypal_provider(config["paypal"], TIMEOUT_SECONDS)
    stripe = stripe_provider(config["stripe"], TIMEOUT_SECONDS)
    registry = ProviderRegistry({}, discover=False)
    registry.register(paypal)
    registry.register(stripe)
    accounts = {int(user): str(account) for user, account in config["stripe_accounts"].items()}

    def stripe_for(user_id: int) -> Payee:
        return stripe_payee(user_id, accounts[user_id])

    gate = SimGate({"paypal": paypal_payee, "stripe": stripe_for})
    gate.blocked.update(int(user) for user in config["blocked"])
    svc = PayoutService(eco=eco, gate=gate, providers=registry, policy=POLICY, asking=CALLS)
    try:
        return await new_dispatcher(svc, int(config["number"])).run_once()
    finally:
        await paypal.close()
        await stripe.close()
        await eco.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.CRITICAL)
    logging.getLogger("sqlalchemy").setLevel(logging.CRITICAL + 1)
    print(asyncio.run(one_round(json.loads(args[0]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
