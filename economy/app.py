"""The economy as one object: the database, the ledger, the settings, the platform's accounts
and the user directory that every operation needs. One per process, built by `Economy.start`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from economy.events import EventBus
from economy.gift_desk import GiftDesk
from economy.platform import PlatformAccounts, open_platform_accounts
from economy.users import UserDirectory
from ledger import Database, Ledger
from settings.service import Settings


@dataclass
class Economy:
    settings: Settings
    db: Database
    ledger: Ledger
    platform: PlatformAccounts
    users: UserDirectory
    events: EventBus = field(default_factory=EventBus)
    """Live events (gifts, wallet and payout changes), published after their commit."""
    gift_desk: GiftDesk = field(init=False)
    """Books concurrent gifts together (`economy.gift_desk`); opened with the economy, closed
    with it."""

    def __post_init__(self) -> None:
        self.gift_desk = GiftDesk(self)

    @classmethod
    async def start(cls, settings: Settings, db: Database | None = None) -> Economy:
        """Connect (the schema must be migrated) and open the platform's accounts."""
        database = db or Database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        async with database.write() as conn:
            platform = await open_platform_accounts(conn)
        events = EventBus(
            queue_size=settings.live_event_buffer,
            redis_url=settings.redis_url,
            redis_channel=settings.redis_channel,
        )
        await events.start()
        return cls(
            settings=settings,
            db=database,
            ledger=Ledger(),
            platform=platform,
            users=UserDirectory(database, settings.diamond_wallet_shards),
            events=events,
        )

    async def close(self) -> None:
        await self.gift_desk.close()
        await self.events.close()
        await self.db.dispose()
