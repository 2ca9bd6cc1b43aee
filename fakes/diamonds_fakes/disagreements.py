"""How a fake provider is told to disagree with our books, for reconciliation tests: drop a
payout from its reports, report another amount or status, or report a payout we never sent.

Every fake takes the same JSON at `POST /__fake__/disagreements` (and the same objects from
Python): `{"kind": "drop" | "amount" | "status" | "extra", "target": ..., ...}`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


class DisagreementKind(enum.StrEnum):
    DROP = "drop"
    """The payout `target` is left out of every list and statement (it was never paid)."""
    AMOUNT = "amount"
    """The payout `target` is reported with `amount` (minor units) instead of what was sent."""
    STATUS = "status"
    """The payout `target` is reported with `status` (the provider's own word, any string)."""
    EXTRA = "extra"
    """A payout of `amount` that we never sent is reported (to `target`: an account, a receiver,
    an IBAN, as the fake needs)."""


@dataclass(frozen=True)
class Disagreement:
    """One way the fake's reports differ from what happened. `target` names the payout by our
    payout id (`drop`, `amount`, `status`) or says where an `extra` payout went."""

    kind: DisagreementKind
    target: str
    amount: int | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DisagreementKind(self.kind))
        if not self.target:
            raise ValueError("a disagreement needs a target")
        if self.kind in (DisagreementKind.AMOUNT, DisagreementKind.EXTRA) and (
            isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1
        ):
            raise ValueError(f"{self.kind.value} needs a positive integer amount")
        if self.kind is DisagreementKind.STATUS and not self.status:
            raise ValueError("status needs the status to report")

    @classmethod
    def from_json(cls, data: object) -> Disagreement:
        """From `{"kind", "target", "amount"?, "status"?}`; raises ValueError naming the fault."""
        if not isinstance(data, Mapping):
            raise ValueError('a disagreement is a JSON object such as {"kind": "drop", ...}')
        unknown = sorted(set(data) - {"kind", "target", "amount", "status"})
        if unknown:
            raise ValueError(f"unknown disagreement fields: {', '.join(unknown)}")
        if data.get("kind") not in {k.value for k in DisagreementKind}:
            kinds = ", ".join(k.value for k in DisagreementKind)
            raise ValueError(f"kind must be one of {kinds}, got {data.get('kind')!r}")
        return cls(
            kind=DisagreementKind(data["kind"]),
            target=str(data.get("target") or ""),
            amount=data.get("amount"),
            status=data.get("status"),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Disagreements:
    """The disagreements a fake applies to its reports, by our payout id (a later one about the
    same payout and kind replaces an earlier one). Indexed: a fake asks once per object listed."""

    def __init__(self) -> None:
        self.items: list[Disagreement] = []
        self._dropped: set[str] = set()
        self._amounts: dict[str, int] = {}
        self._statuses: dict[str, str] = {}

    def add(self, disagreement: Disagreement) -> Disagreement:
        self.items.append(disagreement)
        target = disagreement.target
        if disagreement.kind is DisagreementKind.DROP:
            self._dropped.add(target)
        elif disagreement.kind is DisagreementKind.AMOUNT and disagreement.amount:
            self._amounts[target] = disagreement.amount
        elif disagreement.kind is DisagreementKind.STATUS and disagreement.status:
            self._statuses[target] = disagreement.status
        return disagreement

    def clear(self) -> None:
        self.items.clear()
        self._dropped.clear()
        self._amounts.clear()
        self._statuses.clear()

    def dropped(self, payout_id: str | None) -> bool:
        return payout_id is not None and payout_id in self._dropped

    def amount(self, payout_id: str | None, actual: int) -> int:
        return actual if payout_id is None else self._amounts.get(payout_id, actual)

    def status(self, payout_id: str | None, actual: str) -> str:
        return actual if payout_id is None else self._statuses.get(payout_id, actual)

    def extras(self) -> list[Disagreement]:
        return [d for d in self.items if d.kind is DisagreementKind.EXTRA]
