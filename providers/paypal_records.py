"""PayPal payout batches read as reconciliation records: each item of a batch (as GET
/v1/payments/payouts/{id} pages them) becomes one `ProviderRecord`, its decimal amounts and fee
converted to minor units exactly; so does each payout PayPal's transaction search shows that no
batch of ours holds (money we have no payout for)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from providers.base import PayoutState
from providers.records import ProviderRecord, decimal_to_minor

PROVIDER = "paypal"

RECORD_STATES: Mapping[str, PayoutState] = {
    "SUCCESS": PayoutState.PAID,
    "FAILED": PayoutState.FAILED,
    "BLOCKED": PayoutState.FAILED,
    "DENIED": PayoutState.FAILED,
    "NEW": PayoutState.PENDING,
    "PENDING": PayoutState.PENDING,
    "ONHOLD": PayoutState.PENDING,
    # Unclaimed money can still be claimed (for 30 days): not settled either way yet.
    "UNCLAIMED": PayoutState.PENDING,
    "RETURNED": PayoutState.RETURNED,
    "REFUNDED": PayoutState.RETURNED,
    "REVERSED": PayoutState.RETURNED,
    "CANCELED": PayoutState.CANCELED,
}
"""An item's transaction_status in our words, as a statement reads it; any other is UNKNOWN."""

BATCH_OVERRIDES: Mapping[str, PayoutState] = {
    "DENIED": PayoutState.FAILED,
    "CANCELED": PayoutState.CANCELED,
}
"""Batch statuses that decide for every item: nothing in such a batch was paid."""


def _moment(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _money(field: object) -> tuple[int, str] | None:
    """`{"currency": "USD", "value": "12.34"}` as (1234, "USD"); None when absent. A value
    that is not a decimal string (a JSON float) or holds a fraction of a minor unit raises
    `ProviderError`."""
    if not isinstance(field, Mapping) or "value" not in field:
        return None
    currency = str(field.get("currency") or "").upper()
    value = field["value"]
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        value = str(value)
    return decimal_to_minor(PROVIDER, value, currency), currency


def records_from_batch(batch: Mapping[str, Any]) -> list[ProviderRecord]:
    """The records of one page of a batch. Our batches hold one item each, sent with
    sender_batch_id (and sender_item_id) = our payout id: that item's record carries the batch
    id as its reference, as `submit` reported it. Any other item (one we never sent) is named
    by its payout_item_id, with no payout id of ours."""
    header = batch.get("batch_header") or {}
    batch_id = str(header.get("payout_batch_id") or "")
    sender_batch_id = (header.get("sender_batch_header") or {}).get("sender_batch_id")
    batch_status = str(header.get("batch_status") or "")
    created = _moment(header.get("time_created"))
    found: list[ProviderRecord] = []
    for item in batch.get("items") or []:
        if not isinstance(item, Mapping):
            continue
        sent = item.get("payout_item") or {}
        sender_item_id = sent.get("sender_item_id")
        ours = sender_item_id == sender_batch_id or (
            sender_item_id is None and int(batch.get("total_items") or 1) == 1
        )
        money = _money(sent.get("amount"))
        if money is None:
            continue
        amount, currency = money
        fee = _money(item.get("payout_item_fee"))
        status = str(item.get("transaction_status") or batch_status)
        state = BATCH_OVERRIDES.get(batch_status) or RECORD_STATES.get(status, PayoutState.UNKNOWN)
        conversion = item.get("currency_conversion") or {}
        converted = _money(conversion.get("to_amount"))
        errors = item.get("errors")
        failure = errors.get("name") if isinstance(errors, Mapping) else None
        when = _moment(item.get("time_processed")) or created or datetime.now(UTC)
        found.append(
            ProviderRecord(
                provider=PROVIDER,
                provider_reference=batch_id if ours else str(item.get("payout_item_id")),
                payout_id=str(sender_batch_id) if ours and sender_batch_id else None,
                amount_minor=amount,
                currency=currency,
                state=state,
                raw_status=status,
                occurred_at=when,
                fee_minor=fee[0] if fee is not None else None,
                converted_amount_minor=converted[0] if converted else None,
                converted_currency=converted[1] if converted else None,
                exchange_rate=(
                    str(conversion["exchange_rate"]) if conversion.get("exchange_rate") else None
                ),
                failure_code=str(failure) if failure and state is not PayoutState.PAID else None,
                source="batch",
                raw={
                    "payout_batch_id": batch_id,
                    "batch_status": batch_status,
                    "payout_item_id": item.get("payout_item_id"),
                    "transaction_id": item.get("transaction_id"),
                    "transaction_status": item.get("transaction_status"),
                    "sender_item_id": sender_item_id,
                    "receiver": sent.get("receiver"),
                    "amount": sent.get("amount"),
                    "fee": item.get("payout_item_fee"),
                },
            )
        )
    return found


PAYOUT_EVENT_CODES = frozenset({"T0001"})
"""Transaction search's event code for a payout (MassPay) payment."""

TRANSACTION_STATES: Mapping[str, PayoutState] = {
    "S": PayoutState.PAID,
    "P": PayoutState.PENDING,
    "V": PayoutState.RETURNED,
    "D": PayoutState.FAILED,
}


def records_from_transactions(
    page: Mapping[str, Any], since: datetime, until: datetime
) -> list[ProviderRecord]:
    """The payouts (event code T0001, money out) on one page of GET /v1/reporting/transactions
    initiated in [since, until), as records with no payout id of ours, named by transaction
    id. The caller leaves out those a batch of ours already accounts for."""
    found: list[ProviderRecord] = []
    for detail in page.get("transaction_details") or []:
        info = detail.get("transaction_info") if isinstance(detail, Mapping) else None
        if not isinstance(info, Mapping):
            continue
        if info.get("transaction_event_code") not in PAYOUT_EVENT_CODES:
            continue
        when = _moment(_iso(info.get("transaction_initiation_date")))
        if when is None or not since <= when < until:
            continue
        money = _money(_value(info.get("transaction_amount")))
        if money is None:
            continue
        fee = _money(_value(info.get("fee_amount")))
        status = str(info.get("transaction_status") or "")
        found.append(
            ProviderRecord(
                provider=PROVIDER,
                provider_reference=str(info.get("transaction_id")),
                payout_id=None,
                amount_minor=abs(money[0]),
                currency=money[1],
                state=TRANSACTION_STATES.get(status, PayoutState.UNKNOWN),
                raw_status=status,
                occurred_at=when,
                fee_minor=abs(fee[0]) if fee is not None else None,
                source="transaction-search",
                raw={
                    k: info.get(k)
                    for k in (
                        "transaction_id",
                        "paypal_reference_id",
                        "transaction_event_code",
                        "transaction_status",
                        "transaction_amount",
                        "fee_amount",
                    )
                },
            )
        )
    return found


def _value(field: object) -> dict[str, Any] | None:
    """Transaction search's `{"currency_code", "value"}` as the batches' `{"currency", "value"}`."""
    if not isinstance(field, Mapping):
        return None
    return {"currency": field.get("currency_code"), "value": field.get("value")}


def _iso(raw: object) -> object:
    """`2014-07-11T04:03:52+0000` (PayPal's reporting format) as ISO 8601 with a colon."""
    if isinstance(raw, str) and len(raw) > 5 and raw[-5] in "+-" and raw[-4:].isdigit():
        return f"{raw[:-2]}:{raw[-2:]}"
    return raw
