"""Time as the service keeps it: UTC, timezone-aware. SQLite hands back naive timestamps (written
in UTC); `as_utc` makes them comparable with PostgreSQL's aware ones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_today() -> date:
    """Today as the service counts days (payout caps, compliance): the UTC calendar day."""
    return utcnow().date()


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
