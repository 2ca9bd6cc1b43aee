"""Time as the service keeps it: UTC, timezone-aware. SQLite hands back naive timestamps (written
in UTC); `as_utc` makes them comparable with PostgreSQL's aware ones.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
