"""The payouts list's filters as the URL carries them (status, provider, creator, created from and
to, diamonds from and to, the sort, the page cursor), turned into the `payouts` query's variables
and back into links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

PAGE_SIZE = 25
PAYOUT_STATUSES = (
    "REQUESTED",
    "AWAITING_APPROVAL",
    "APPROVED",
    "ON_HOLD",
    "SUBMITTED",
    "UNKNOWN",
    "PAID",
    "FAILED",
    "RETURNED",
    "CANCELED",
    "REJECTED",
)
"""The API's `PayoutStatus` values (tests/test_console_operations.py compares them)."""
PAYOUT_SORTS = (
    ("NEWEST", "Newest first"),
    ("OLDEST", "Oldest first"),
    ("LARGEST", "Largest first"),
    ("SMALLEST", "Smallest first"),
)
"""The API's `PayoutSort` values, with their labels."""


class BadFilter(ValueError):
    """A filter in the URL that cannot be used; the message names it."""


@dataclass(frozen=True)
class PayoutFilters:
    status: str = ""
    provider: str = ""
    creator: str = ""
    created_from: str = ""
    """A date, YYYY-MM-DD: created on or after its start (UTC)."""
    created_to: str = ""
    """A date, YYYY-MM-DD: created on or before it (UTC), the whole day included."""
    min_diamonds: str = ""
    max_diamonds: str = ""
    sort: str = ""
    after: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> PayoutFilters:
        fields = {name: query.get(name, "").strip() for name in cls.__dataclass_fields__}
        return cls(**fields)

    def variables(self) -> dict[str, object]:
        """The `PayoutList` operation's variables; raises `BadFilter` for a bad value."""
        found: dict[str, object] = {"first": PAGE_SIZE, **self.filter_variables()}
        if self.after:
            found["after"] = self.after
        return found

    def filter_variables(self) -> dict[str, object]:
        """The filters and sort alone (what `PayoutExport` takes); raises `BadFilter`."""
        if self.status and self.status not in PAYOUT_STATUSES:
            raise BadFilter(f"status: {self.status!r} is not a payout status")
        if self.sort and self.sort not in dict(PAYOUT_SORTS):
            raise BadFilter(f"sort: {self.sort!r} is not a way to sort payouts")
        found: dict[str, object] = {}
        if self.sort:
            found["sort"] = self.sort
        if self.min_diamonds:
            found["minDiamonds"] = _diamonds("diamonds from", self.min_diamonds)
        if self.max_diamonds:
            found["maxDiamonds"] = _diamonds("diamonds to", self.max_diamonds)
        if self.status:
            found["status"] = self.status
        if self.provider:
            found["provider"] = self.provider
        if self.creator:
            found["creator"] = self.creator
        if self.created_from:
            found["createdAfter"] = f"{_day('created from', self.created_from)}T00:00:00+00:00"
        if self.created_to:
            next_day = _day("created to", self.created_to) + timedelta(days=1)
            found["createdBefore"] = f"{next_day}T00:00:00+00:00"
        return found

    def query_string(self, **changes: str) -> str:
        """These filters with `changes`, as a URL query (empty ones left out)."""
        values = {**asdict(self), **changes}
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def active(self) -> bool:
        return any(v for k, v in asdict(self).items() if k != "after")


def _day(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None


def _diamonds(name: str, text: str) -> int:
    if not text.isdigit():
        raise BadFilter(f"{name}: {text!r} is not a whole number of diamonds")
    return int(text)
