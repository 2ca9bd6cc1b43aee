"""The economy as one object: the database, the ledger, the settings, the platform's accounts
and the user directory that every operation needs. One per process, built by `Economy.start`.
"""

from __future__ import annotations

from dataclasses import dataclass

from diamonds.config import Settings
from economy.platform import PlatformAccounts, open_platform_accounts
from economy.users import UserDirectory
from ledger import Database, Ledger


@dataclass
class Economy:
    settings: Settings
    db: Database
    ledger: Ledger
    platform: PlatformAccounts
    users: UserDirectory

    @classmethod
    async def start(cls, settings: Settings, db: Database | None = None) -> Economy:
        """Connect (the schema must be migrated) and open the platform's accounts."""
        database = db or Database(settings.database_url)
        async with database.write() as conn:
            platform = await open_platform_accounts(conn)
        return cls(
            settings=settings,
            db=database,
            ledger=Ledger(),
            platform=platform,
            users=UserDirectory(database, settings.diamond_wallet_shards),
        )

    async def close(self) -> None:
        await self.db.dispose()
