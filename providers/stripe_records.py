"""Stripe's objects read as reconciliation records: a Transfer to a connected account and the
Payout made from it (with its balance transaction, for the fee and any conversion), as the plain
JSON stripe-python's `to_dict()` gives, become one `ProviderRecord`, keyed by the payout's id as
`submit` reported it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from providers.base import PayoutState
from providers.records import ProviderRecord

SLUG = "stripe"

PAYOUT_STATES: Mapping[str, PayoutState] = {
    "pending": PayoutState.PENDING,
    "in_transit": PayoutState.PENDING,
    "paid": PayoutState.PAID,
    "failed": PayoutState.FAILED,
    "canceled": PayoutState.CANCELED,
}
"""Stripe's payout statuses in our words; any other is UNKNOWN (and reported as it is)."""

TRANSFER_ONLY = "transfer_only"
"""raw_status of a transfer with no payout from it: the money sits in the connected account."""
TRANSFER_REVERSED = "transfer_reversed"
"""raw_status of a transfer reversed in full with no payout from it: nothing left the platform."""


Json = Mapping[str, Any]


def _metadata(obj: Json, key: str) -> str | None:
    metadata = obj.get("metadata")
    value = metadata.get(key) if metadata is not None else None
    return value if isinstance(value, str) and value else None


def _when(unix: int) -> datetime:
    return datetime.fromtimestamp(int(unix), UTC)


def _balance_transaction(obj: Json) -> Json | None:
    """The object's balance transaction when it was expanded (a string id is not)."""
    found = obj.get("balance_transaction")
    return found if isinstance(found, Mapping) else None


def _raw(obj: Json, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: obj.get(k) for k in keys if not isinstance(obj.get(k), Mapping)}


_PAYOUT_KEYS = ("id", "amount", "currency", "status", "created", "arrival_date", "method",
                "failure_code", "reconciliation_status", "destination")  # fmt: skip
_TRANSFER_KEYS = ("id", "amount", "amount_reversed", "currency", "destination", "created",
                  "transfer_group")  # fmt: skip


def payout_record(payout: Json, transfer: Json | None, account: str) -> ProviderRecord:
    """A payout on a connected account (and the transfer it was made from, when known)."""
    status = str(payout["status"])
    state = PAYOUT_STATES.get(status, PayoutState.UNKNOWN)
    currency = str(payout["currency"]).upper()
    booked = _balance_transaction(payout)
    fee = int(booked["fee"]) if booked is not None else None
    converted_amount: int | None = None
    converted_currency = rate = None
    if booked is not None and str(booked["currency"]).upper() != currency:
        converted_amount = abs(int(booked["amount"]))
        converted_currency = str(booked["currency"]).upper()
        found_rate = booked.get("exchange_rate")
        rate = None if found_rate is None else str(Decimal(str(found_rate)))
    payout_id = _metadata(payout, "payout_id")
    if payout_id is None and transfer is not None:
        payout_id = transfer.get("transfer_group") or _metadata(transfer, "payout_id")
    settled = payout["arrival_date"] if state is PayoutState.PAID else payout["created"]
    raw: dict[str, Any] = {"account": account, "payout": _raw(payout, _PAYOUT_KEYS)}
    if transfer is not None:
        raw["transfer"] = _raw(transfer, _TRANSFER_KEYS)
    if booked is not None:
        raw["balance_transaction"] = _raw(booked, ("id", "amount", "fee", "net", "currency"))
    return ProviderRecord(
        provider=SLUG,
        provider_reference=str(payout["id"]),
        payout_id=payout_id,
        amount_minor=int(payout["amount"]),
        currency=currency,
        state=state,
        raw_status=status,
        occurred_at=_when(settled),
        fee_minor=fee,
        converted_amount_minor=converted_amount,
        converted_currency=converted_currency,
        exchange_rate=rate,
        failure_code=payout.get("failure_code"),
        source="payout" if transfer is None else "transfer+payout",
        raw=raw,
        created_at=_when((transfer or payout)["created"]),
    )


def transfer_record(transfer: Json) -> ProviderRecord:
    """A transfer with no payout from it: the money reached the connected account and went no
    further (PENDING), or was reversed in full (CANCELED)."""
    reversed_in_full = int(transfer["amount_reversed"]) >= int(transfer["amount"])
    booked = _balance_transaction(transfer)
    return ProviderRecord(
        provider=SLUG,
        provider_reference=str(transfer["id"]),
        payout_id=transfer.get("transfer_group") or _metadata(transfer, "payout_id"),
        amount_minor=int(transfer["amount"]),
        currency=str(transfer["currency"]).upper(),
        state=PayoutState.CANCELED if reversed_in_full else PayoutState.PENDING,
        raw_status=TRANSFER_REVERSED if reversed_in_full else TRANSFER_ONLY,
        occurred_at=_when(transfer["created"]),
        created_at=_when(transfer["created"]),
        fee_minor=int(booked["fee"]) if booked is not None else None,
        source="transfer",
        raw={"transfer": _raw(transfer, _TRANSFER_KEYS)},
    )
