"""What the pipeline asks compliance before money leaves: is this creator eligible for this payout,
with what withholding, and where does the money go (the verified payout method).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.gate import service as gate_service
from compliance.gate.rules import Eligibility
from providers.base import Payee
from settings.service import Settings


class PayoutGate(Protocol):
    async def check(
        self,
        conn: AsyncConnection,
        *,
        user_id: int,
        provider: str,
        currency: str,
        amount_minor: int,
        today: date,
    ) -> Eligibility: ...

    async def payee(
        self, conn: AsyncConnection, *, user_id: int, provider: str
    ) -> Payee | None: ...


class ComplianceGate:
    """The real gate: identity, age, tax, sanctions and payout method, from `compliance`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

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
        return await gate_service.check_payout(
            conn,
            user_id=user_id,
            provider=provider,
            currency=currency,
            amount_minor=amount_minor,
            today=today,
            settings=self.settings,
        )

    async def payee(self, conn: AsyncConnection, *, user_id: int, provider: str) -> Payee | None:
        return await gate_service.payee_for(
            conn, user_id=user_id, provider=provider, settings=self.settings
        )
