"""A stand-in for Acme's HTTP API, in memory: payments kept by idempotency key (the same key twice
is one payment), answers that can be lost on purpose, and HMAC-signed webhook deliveries.

A real provider makes these calls over HTTP (aiohttp, httpx); everything else in `provider.py`
stays as it is. Tests and the guide's walk-through settle payments with `settle` and
`webhook_for`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

SIGNATURE_HEADER = "Acme-Signature"
WEBHOOK_KEYS = ("id", "payout_id", "status", "failure", "amount", "currency")
"""What a webhook tells about a payment (never the account number)."""


class AcmeApi:
    """Acme's side. `lose_next_answer` (an exception class) makes the next payment go through
    and its answer get lost; `busy` refuses requests before anything happens."""

    def __init__(self, api_key: str, webhook_secret: str) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.payments: dict[str, dict[str, Any]] = {}
        self.lose_next_answer: type[Exception] | None = None
        self.busy = False

    def _authorize(self, api_key: str) -> None:
        if not hmac.compare_digest(api_key, self.api_key):
            raise PermissionError("401: invalid API key")

    async def create_payment(self, api_key: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v1/payments with `Idempotency-Key: key`."""
        self._authorize(api_key)
        if self.busy:
            raise ConnectionRefusedError("503: try again")
        payment = self.payments.setdefault(
            key,
            {
                "id": f"acp_{uuid.uuid4().hex[:12]}",
                "status": "processing",
                "failure": None,
                "created": int(time.time()),
                "fee": 0,
                **body,
            },
        )
        if self.lose_next_answer is not None:  # acted on it, then the answer got lost
            lost, self.lose_next_answer = self.lose_next_answer, None
            raise lost("the answer never arrived")
        return dict(payment)

    async def find_payment(self, api_key: str, payout_id: str) -> dict[str, Any] | None:
        """GET /v1/payments?payout_id=..."""
        self._authorize(api_key)
        for payment in self.payments.values():
            if payment["payout_id"] == payout_id:
                return dict(payment)
        return None

    async def list_payments(
        self, api_key: str, created_gte: int, created_lt: int, cursor: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int | None]:
        """GET /v1/payments?created_gte=&created_lt=&cursor=&limit=: one page of payments,
        oldest first, and the cursor of the next page (None on the last)."""
        self._authorize(api_key)
        found = [
            dict(p) for p in self.payments.values() if created_gte <= p["created"] < created_lt
        ]
        page = found[cursor : cursor + limit]
        return page, cursor + limit if cursor + limit < len(found) else None

    # --- Acme's test side ------------------------------------------------------------------------

    def payment(self, reference: str) -> dict[str, Any]:
        return next(p for p in self.payments.values() if p["id"] == reference)

    def settle(self, reference: str, status: str, failure: str | None = None) -> dict[str, Any]:
        """Move a payment to `paid`, `failed` (with a failure code) or `returned`."""
        payment = self.payment(reference)
        payment["status"] = status
        payment["failure"] = failure if status == "failed" else None
        return dict(payment)

    def webhook_for(
        self, reference: str, *, secret: str | None = None, age_seconds: int = 0
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body Acme POSTs to `/webhooks/acme` about a payment's status now."""
        payment = {k: v for k, v in self.payment(reference).items() if k in WEBHOOK_KEYS}
        stamp = int(time.time()) - age_seconds
        event = {
            "id": f"evt_{uuid.uuid4().hex[:12]}",
            "type": f"payment.{payment['status']}",
            "created": stamp,
            "payment": payment,
        }
        body = json.dumps(event).encode()
        key = (secret or self.webhook_secret).encode()
        signature = hmac.new(key, str(stamp).encode() + b"." + body, hashlib.sha256).hexdigest()
        return {SIGNATURE_HEADER: f"{stamp}:{signature}", "Content-Type": "application/json"}, body
