"""The compliance gate as the simulation scripts it: a creator passes unless the seed has blocked
them, and is paid to a PayPal email of their own. (The compliance rules have tests of their own.)
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.gate.rules import Eligibility, Requirement
from providers.base import Payee

BLOCKED = Requirement("SANCTIONS_REVIEW", "the simulation put this creator under review")


class SimGate:
    """`blocked` holds the user ids the gate refuses."""

    def __init__(self) -> None:
        self.blocked: set[int] = set()

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
        return Payee(f"Creator {user_id}", "US", {"email": f"creator{user_id}@example.com"})
