"""What compliance's services work with: the database and the settings, in one small object that
the shell and the GraphQL context build. Compliance asks nothing of the economy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.database import Database
from settings.service import Settings


@dataclass(frozen=True)
class Compliance:
    db: Database
    settings: Settings
