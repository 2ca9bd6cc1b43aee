"""The age gate on buying coins, as the purchase flow asks it: compliance decides from the
buyer's declared or verified date of birth and country.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from compliance.gate.service import check_coin_purchase
from kernel.clock import utc_today
from settings.service import Settings


class ComplianceAgeGate:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def may_buy(self, conn: AsyncConnection, user_id: int) -> tuple[bool, str]:
        found = await check_coin_purchase(
            conn, user_id=user_id, today=utc_today(), settings=self.settings
        )
        reasons = "; ".join(r.message for r in found.requirements)
        return bool(found.eligible), reasons
