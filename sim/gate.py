"""The compliance gate as the simulation scripts it: a creator passes unless the seed has blocked
them, and is paid where each provider pays them. (The compliance rules have tests of their own.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.gate.rules import Eligibility, Requirement
from providers.base import Payee

BLOCKED = Requirement("SANCTIONS_REVIEW", "the simulation put this creator under review")


class SimGate:
    """`blocked` holds the user ids the gate refuses; `payees` gives each provider's payee."""

    def __init__(self, payees: Mapping[str, Callable[[int], Payee]]) -> None:
        self.blocked: set[int] = set()
        self.payees = payees

    async def check(
        self,
        conn: AsyncConnection,
        *,
        user_id: int,
        provider: str,
        currency: str,
        amount_minor: int,
        today: date,
    ) -> Eligibility:
        if user_id in self.blocked:
            return Eligibility(False, (BLOCKED,), 0)
        return Eligibility(True, (), 0)

    async def payee(self, conn: AsyncConnection, *, user_id: int, provider: str) -> Payee | None:
        return self.payees[provider](user_id)
