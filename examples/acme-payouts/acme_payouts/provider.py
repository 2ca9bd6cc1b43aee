"""Acme: an example payout provider for Diamonds, from a package of its own. It pays to an Acme
wallet, described by the payee fields it declares, through Acme's API (`api.AcmeApi`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from acme_payouts.api import SIGNATURE_HEADER, AcmeApi
from providers.base import (
    Capability,
    PayeeField,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
    StatusUpdate,
)
from providers.config import ProviderEnv
from providers.errors import (
    InvalidFieldValue,
    PayoutNotFound,
    PermanentProviderError,
    ProviderConfigError,
    TransientProviderError,
    UnappliableWebhook,
    UnknownOutcome,
    WebhookVerificationError,
)
from providers.records import ProviderRecord

SLUG = "acme"
STATES = {
    "processing": PayoutState.PENDING,
    "paid": PayoutState.PAID,
    "failed": PayoutState.FAILED,
    "returned": PayoutState.RETURNED,
}


def wallet_number(raw: str) -> str:
    """An Acme wallet number: 8 to 12 digits (spaces allowed) whose last digit is a Luhn check
    digit. The message never repeats the number."""
    digits = raw.replace(" ", "")
    if not digits.isdigit() or not 8 <= len(digits) <= 12:
        raise InvalidFieldValue("an Acme wallet number is 8 to 12 digits")
    total = 0
    for index, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    if total % 10:
        raise InvalidFieldValue("this wallet number's check digit is wrong")
    return digits


class AcmeProvider(PayoutProvider):
    """Pays EUR and USD to Acme wallets. Submits are idempotent by the instruction's key;
    lookups find a payment by our payout id; webhooks are HMAC-signed."""

    slug: ClassVar[str] = SLUG
    currencies: ClassVar[frozenset[str]] = frozenset({"EUR", "USD"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LOOKUP, Capability.WEBHOOKS, Capability.RECONCILE}
    )
    idempotency_window: ClassVar[timedelta | None] = timedelta(days=7)
    payee_fields: ClassVar[Sequence[PayeeField]] = (
        PayeeField(
            "wallet",
            "Acme wallet number",
            secret=True,
            check=wallet_number,
            help="8 to 12 digits, on the Acme app's home screen",
        ),
        PayeeField(
            "email",
            "Email for payment receipts",
            pattern=r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}",
            help="name@example.com",
            max_length=254,
        ),
        PayeeField("nickname", "Wallet nickname", required=False, max_length=40),
    )
    required_env: ClassVar[Sequence[str]] = (
        "DIAMONDS_ACME_API_KEY",
        "DIAMONDS_ACME_WEBHOOK_SECRET",
    )

    def __init__(self, api: AcmeApi, api_key: str, webhook_secret: str) -> None:
        self.api = api
        self.api_key = api_key
        self.webhook_secret = webhook_secret

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AcmeProvider:
        """What the registry calls, with `DIAMONDS_ACME_API_KEY` (`acme_...`) and
        `DIAMONDS_ACME_WEBHOOK_SECRET`. A real provider opens its HTTP client here."""
        read = ProviderEnv(SLUG, env)
        key = read.required("API_KEY", expect="an Acme API key (acme_...)", prefixes=("acme_",))
        secret = read.required("WEBHOOK_SECRET", expect="the webhook signing secret")
        read.check()
        return cls(AcmeApi(key, secret), key, secret)

    @classmethod
    def validate_payee(cls, fields: Mapping[str, str]) -> dict[str, str]:
        """The declared checks, then the email lower-cased."""
        values = super().validate_payee(fields)
        values["email"] = values["email"].lower()
        return values

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        wallet = instruction.payee.get("wallet")
        if wallet is None:
            raise PermanentProviderError(SLUG, "no_wallet", "Acme pays to an Acme wallet")
        if instruction.currency not in self.currencies or instruction.amount_minor <= 0:
            raise PermanentProviderError(SLUG, "invalid_amount", "amount or currency refused")
        body = {
            "payout_id": instruction.payout_id,
            "amount": instruction.amount_minor,
            "currency": instruction.currency,
            "wallet": wallet,
            "receipt_to": instruction.payee.get("email"),
        }
        try:
            payment = await self.api.create_payment(self.api_key, instruction.idempotency_key, body)
        except PermissionError as exc:
            raise ProviderConfigError(SLUG, str(exc)) from exc
        except ConnectionRefusedError as exc:  # nothing was sent: safe to retry
            raise TransientProviderError(SLUG, str(exc), retry_after=1.0) from exc
        except (TimeoutError, ConnectionResetError) as exc:  # sent, answer lost: look it up
            raise UnknownOutcome(SLUG, str(exc)) from exc
        return self._result(payment)

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        try:
            payment = await self.api.find_payment(self.api_key, payout_id)
        except PermissionError as exc:
            raise ProviderConfigError(SLUG, str(exc)) from exc
        if payment is None:
            raise PayoutNotFound(SLUG, f"no payment for payout {payout_id}")
        return self._result(payment)

    async def settled_records(
        self, since: datetime, until: datetime, *, references: Sequence[str] = ()
    ) -> AsyncIterator[ProviderRecord]:
        """Acme's payments created in the period, page by page. Acme lists by date, so
        `references` is not needed; its amounts are integer minor units already (a provider
        whose API sends decimal strings converts them with `providers.records.decimal_to_minor`)."""
        del references
        start, end = math.ceil(since.timestamp()), math.ceil(until.timestamp())
        cursor: int | None = 0
        while cursor is not None:
            try:
                page, cursor = await self.api.list_payments(self.api_key, start, end, cursor)
            except PermissionError as exc:
                raise ProviderConfigError(SLUG, str(exc)) from exc
            for payment in page:
                yield ProviderRecord(
                    provider=SLUG,
                    provider_reference=payment["id"],
                    payout_id=payment["payout_id"],
                    amount_minor=int(payment["amount"]),
                    currency=payment["currency"],
                    state=STATES.get(payment["status"], PayoutState.UNKNOWN),
                    raw_status=payment["status"],
                    occurred_at=datetime.fromtimestamp(payment["created"], UTC),
                    fee_minor=int(payment["fee"]),
                    failure_code=payment["failure"],
                    source="payments",
                    raw={k: payment[k] for k in ("id", "status", "amount", "currency", "created")},
                )

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        lowered = {name.lower(): value for name, value in headers.items()}
        stamp, _, signature = lowered.get(SIGNATURE_HEADER.lower(), "").partition(":")
        # ASCII digits only: "²" is a digit to str.isdigit, but int() refuses it.
        if not (stamp.isascii() and stamp.isdigit()) or abs(time.time() - int(stamp)) > 300:
            raise WebhookVerificationError(SLUG, "missing or stale signature timestamp")
        expected = hmac.new(
            self.webhook_secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
        ).digest()
        # As bytes: compare_digest raises TypeError for a str with non-ASCII characters.
        if not hmac.compare_digest(expected.hex().encode(), signature.encode("utf-8", "replace")):
            raise WebhookVerificationError(SLUG, "the signature does not match the body")
        # Signed by Acme from here on: a body we cannot read is recorded as unappliable (Acme
        # would redeliver the same body), and the pipeline checks the update's fields itself.
        try:
            event = json.loads(body)
        except ValueError:
            raise UnappliableWebhook.of_body(SLUG, body, "the body is not JSON") from None
        try:
            payment = event["payment"]
            return [
                StatusUpdate(
                    event_id=str(event["id"]),
                    state=STATES.get(payment["status"], PayoutState.UNKNOWN),
                    occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
                    payout_id=payment["payout_id"],
                    provider_reference=payment["id"],
                    raw_type=event["type"],
                    failure_code=payment["failure"],
                )
            ]
        except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
            raise UnappliableWebhook.of_body(
                SLUG,
                body,
                f"not an Acme event: {exc!r}",
                event.get("id") if isinstance(event, dict) else None,
            ) from None

    @staticmethod
    def _result(payment: dict[str, Any]) -> PayoutResult:
        return PayoutResult(
            payout_id=payment["payout_id"],
            state=STATES.get(payment["status"], PayoutState.UNKNOWN),
            provider_reference=payment["id"],
            raw_status=payment["status"],
            failure_code=payment["failure"],
        )
