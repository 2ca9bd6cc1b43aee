"""Stripe API objects as the fake Stripe server returns them: the same fields as Stripe's published
fixtures (`fixtures3.json` in Stripe's OpenAPI repository, MIT License), with the fake's values.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """A Stripe-looking id: `po_` followed by 24 letters and digits."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def stripe_list(url: str, data: Sequence[JSON], has_more: bool = False) -> JSON:
    return {"object": "list", "data": list(data), "has_more": has_more, "url": url}


def error_body(type_: str, message: str, code: str | None = None, param: str | None = None) -> JSON:
    """Stripe's error answer: `{"error": {"type", "code", "message", "param", ...}}`."""
    error: JSON = {"type": type_, "message": message}
    if code is not None:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param is not None:
        error["param"] = param
    return {"error": error}


def transfer(
    *,
    id_: str,
    amount: int,
    currency: str,
    destination: str,
    created: int,
    description: str | None,
    metadata: Mapping[str, str],
    transfer_group: str | None,
    reversals: Sequence[JSON] = (),
) -> JSON:
    amount_reversed = sum(int(r["amount"]) for r in reversals)
    return {
        "amount": amount,
        "amount_reversed": amount_reversed,
        "balance_transaction": new_id("txn"),
        "created": created,
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": new_id("py"),
        "id": id_,
        "livemode": False,
        "metadata": dict(metadata),
        "object": "transfer",
        "reversals": stripe_list(f"/v1/transfers/{id_}/reversals", reversals),
        "reversed": amount_reversed >= amount,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": transfer_group,
    }


def balance_transaction(
    *,
    id_: str,
    amount: int,
    fee: int,
    currency: str,
    created: int,
    available_on: int,
    source: str,
    type_: str,
    description: str | None,
) -> JSON:
    """A balance transaction: `amount` signed (negative for money out), `fee` kept by Stripe,
    `net` = amount - fee, as in Stripe's fixtures."""
    fee_details = (
        [{"amount": fee, "application": None, "currency": currency, "description": "Stripe "
          "processing fees", "type": "stripe_fee"}]
        if fee
        else []
    )  # fmt: skip
    return {
        "amount": amount,
        "available_on": available_on,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "id": id_,
        "net": amount - fee,
        "object": "balance_transaction",
        "reporting_category": type_,
        "source": source,
        "status": "available",
        "type": type_,
        "balance_type": "payments",
    }


def transfer_reversal(
    *, transfer_id: str, amount: int, currency: str, created: int, metadata: Mapping[str, str]
) -> JSON:
    return {
        "amount": amount,
        "balance_transaction": new_id("txn"),
        "created": created,
        "currency": currency,
        "destination_payment_refund": new_id("pyr"),
        "id": new_id("trr"),
        "metadata": dict(metadata),
        "object": "transfer_reversal",
        "source_refund": None,
        "transfer": transfer_id,
    }


def payout(
    *,
    id_: str,
    amount: int,
    currency: str,
    destination: str,
    created: int,
    arrival_date: int,
    description: str | None,
    metadata: Mapping[str, str],
    statement_descriptor: str | None,
    method: str,
) -> JSON:
    return {
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival_date,
        "automatic": False,
        "balance_transaction": new_id("txn"),
        "created": created,
        "currency": currency,
        "description": description,
        "destination": destination,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "id": id_,
        "livemode": False,
        "metadata": dict(metadata),
        "method": method,
        "object": "payout",
        "original_payout": None,
        "reconciliation_status": "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": statement_descriptor,
        "status": "pending",
        "type": "bank_account",
        "trace_id": {"status": "pending", "value": None},
        "payout_method": None,
    }


def _requirements(past_due: Sequence[str]) -> JSON:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(past_due),
        "disabled_reason": "requirements.past_due" if past_due else None,
        "errors": [],
        "eventually_due": list(past_due),
        "past_due": list(past_due),
        "pending_verification": [],
    }


def account(
    *,
    id_: str,
    country: str,
    email: str | None,
    created: int,
    default_currency: str,
    external_account: str,
    payouts_enabled: bool,
    past_due: Sequence[str],
    metadata: Mapping[str, str],
    type_: str,
) -> JSON:
    return {
        "business_profile": {
            "annual_revenue": {"amount": None, "currency": None, "fiscal_year_end": None},
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
            "minority_owned_business_designation": None,
        },
        "business_type": "individual",
        "capabilities": {"card_payments": "inactive", "transfers": "active"},
        "charges_enabled": False,
        "controller": {"type": "application"},
        "country": country,
        "created": created,
        "default_currency": default_currency,
        "details_submitted": True,
        "email": email,
        "external_accounts": stripe_list(
            f"/v1/accounts/{id_}/external_accounts",
            [
                bank_account(
                    id_=external_account, account_id=id_, country=country, currency=default_currency
                )
            ],
        ),
        "future_requirements": _requirements(()),
        "id": id_,
        "metadata": dict(metadata),
        "object": "account",
        "payouts_enabled": payouts_enabled,
        "requirements": _requirements(past_due),
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": True, "cvc_failure": True},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {
                "statement_descriptor": None,
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "manual"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": created, "ip": "127.0.0.1", "user_agent": None},
        "type": type_,
    }


_TEST_ROUTING = {"US": "110000000", "CA": "11000-000", "GB": "108800", "AU": "110000"}
"""Stripe's test routing numbers (sort codes, BSBs) by country; elsewhere an IBAN needs none."""


def bank_account(*, id_: str, account_id: str, country: str, currency: str) -> JSON:
    """A connected account's bank account (its payouts' destination), in test mode's shape:
    Stripe's test bank, account number ending 6789."""
    return {
        "account": account_id,
        "account_holder_name": None,
        "account_holder_type": "individual",
        "account_type": None,
        "bank_name": "STRIPE TEST BANK",
        "country": country,
        "currency": currency,
        "customer": None,
        "default_for_currency": True,
        "fingerprint": new_id("x")[2:18],
        "id": id_,
        "last4": "6789",
        "metadata": {},
        "object": "bank_account",
        "routing_number": _TEST_ROUTING.get(country),
        "status": "new",
    }


VERIFIED_OUTPUT_FIELDS = (
    "email",
    "first_name",
    "id_number",
    "id_number_type",
    "last_name",
    "phone",
    "sex",
    "unparsed_place_of_birth",
    "unparsed_sex",
)
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def verified_outputs(given: Mapping[str, Any]) -> JSON:
    """A verified session's `verified_outputs`: what `given` names, null elsewhere. `dob` is
    `{"day", "month", "year"}` (integers), `address` has Stripe's address fields. Raises
    `ValueError` for a field Stripe does not have or a malformed value."""
    unknown = set(given) - {*VERIFIED_OUTPUT_FIELDS, "address", "dob"}
    if unknown:
        raise ValueError(f"verified outputs have no {', '.join(sorted(unknown))}")
    outputs: JSON = {name: None for name in VERIFIED_OUTPUT_FIELDS}
    for name in VERIFIED_OUTPUT_FIELDS:
        value = given.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"verified_outputs.{name} must be a string")
        outputs[name] = value
    address = given.get("address")
    if address is None:
        outputs["address"] = None
    elif not isinstance(address, Mapping) or set(address) - set(ADDRESS_FIELDS):
        raise ValueError(f"verified_outputs.address has only {', '.join(ADDRESS_FIELDS)}")
    else:
        outputs["address"] = {name: address.get(name) for name in ADDRESS_FIELDS}
    dob = given.get("dob")
    if dob is None:
        outputs["dob"] = None
    elif not isinstance(dob, Mapping) or set(dob) != {"day", "month", "year"}:
        raise ValueError("verified_outputs.dob is {day, month, year}")
    elif not all(isinstance(dob[k], int) and not isinstance(dob[k], bool) for k in dob):
        raise ValueError("verified_outputs.dob's day, month and year are whole numbers")
    else:
        outputs["dob"] = {"day": dob["day"], "month": dob["month"], "year": dob["year"]}
    return outputs


def balance(available: Mapping[str, int], pending: Mapping[str, int]) -> JSON:
    currencies = sorted(set(available) | set(pending)) or ["usd"]
    return {
        "available": [
            {"amount": available.get(c, 0), "currency": c, "source_types": {"card": 0}}
            for c in currencies
        ],
        "connect_reserved": [{"amount": 0, "currency": c} for c in currencies],
        "livemode": False,
        "object": "balance",
        "pending": [
            {"amount": pending.get(c, 0), "currency": c, "source_types": {"card": 0}}
            for c in currencies
        ],
    }


def event(
    *,
    type_: str,
    obj: JSON,
    created: int,
    account_id: str | None,
    previous_attributes: Mapping[str, Any] | None,
    request_id: str | None,
    idempotency_key: str | None,
    api_version: str | None,
) -> JSON:
    """An event; `account` is present for a connected account's events (Connect webhooks) and
    `data.previous_attributes` for `*.updated` events, as Stripe sends them."""
    data: JSON = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = dict(previous_attributes)
    body: JSON = {
        "api_version": api_version,
        "created": created,
        "data": data,
        "id": new_id("evt"),
        "livemode": False,
        "object": "event",
        "pending_webhooks": 1,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type_,
    }
    if account_id is not None:
        body["account"] = account_id
    return body


def verification_session(
    *,
    id_: str,
    type_: str,
    created: int,
    client_reference_id: str | None,
    metadata: Mapping[str, str],
    require_matching_selfie: bool,
) -> JSON:
    return {
        "client_reference_id": client_reference_id,
        "client_secret": f"{id_}_secret_{new_id('x')[2:]}",
        "created": created,
        "id": id_,
        "last_error": None,
        "last_verification_report": None,
        "livemode": False,
        "metadata": dict(metadata),
        "object": "identity.verification_session",
        "options": {"document": {"require_matching_selfie": require_matching_selfie}},
        "redaction": None,
        "status": "requires_input",
        "type": type_,
        "url": f"https://verify.stripe.com/start/test_{id_}",
        "related_customer": None,
        "related_customer_account": None,
    }


def payment_intent(
    *,
    id_: str,
    amount: int,
    currency: str,
    created: int,
    description: str | None,
    metadata: Mapping[str, str],
    customer: str | None,
    receipt_email: str | None,
) -> JSON:
    return {
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"enabled": True},
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{id_}_secret_{new_id('x')[2:]}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "id": id_,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": dict(metadata),
        "next_action": None,
        "object": "payment_intent",
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
        "source": None,
        "excluded_payment_method_types": None,
        "customer_account": None,
        "managed_payments": None,
    }
