"""A fake PayPal Payouts v1 server for tests and development: real HTTP on 127.0.0.1 with OAuth2,
batches and items, status transitions, signed webhooks, injected faults and a JSON admin API.

The wire format follows PayPal's published OpenAPI document for Payouts (requests are validated
against it with openapi-core when it is available). See docs/providers-paypal.md.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
import secrets
import string
import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from diamonds_fakes.disagreements import Disagreement, DisagreementKind, Disagreements
from diamonds_fakes.faults import (
    ADMIN_PREFIX,
    Fault,
    FaultInjector,
    FaultKind,
    add_fault_routes,
    admin_error,
    fault_middleware,
)

if TYPE_CHECKING:
    from diamonds_fakes.runner import FakeOptions

log = logging.getLogger(__name__)

JSON = dict[str, Any]

DEFAULT_SPEC = Path(__file__).resolve().parent / "specs" / "paypal_payouts_batch_v1.json"
"""PayPal's Payouts OpenAPI document (Apache-2.0), where the development tree keeps it."""

SPEC_SERVER = "https://api-m.sandbox.paypal.com"
INFORMATION_LINK = "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors"

ITEM_STATUSES = frozenset(
    {"SUCCESS", "FAILED", "PENDING", "UNCLAIMED", "RETURNED", "ONHOLD", "BLOCKED", "REFUNDED",
     "REVERSED"}
)  # fmt: skip
BATCH_STATUSES = frozenset({"DENIED", "PENDING", "PROCESSING", "SUCCESS", "CANCELED"})

_NEXT_ITEM_STATUS: Mapping[str, frozenset[str]] = {
    "PENDING": frozenset({"SUCCESS", "FAILED", "UNCLAIMED", "ONHOLD", "BLOCKED"}),
    "ONHOLD": frozenset({"PENDING", "SUCCESS", "FAILED", "UNCLAIMED", "BLOCKED"}),
    "UNCLAIMED": frozenset({"SUCCESS", "RETURNED"}),
    "SUCCESS": frozenset({"RETURNED", "REFUNDED", "REVERSED"}),
}
"""Where an item may go next; FAILED, BLOCKED, RETURNED, REFUNDED and REVERSED are final."""

_ITEM_EVENTS: Mapping[str, str] = {
    "SUCCESS": "SUCCEEDED",
    "FAILED": "FAILED",
    "UNCLAIMED": "UNCLAIMED",
    "RETURNED": "RETURNED",
    "ONHOLD": "HELD",
    "BLOCKED": "BLOCKED",
    "REFUNDED": "REFUNDED",
}

_DEFAULT_ERRORS: Mapping[str, tuple[str, str]] = {
    "FAILED": ("RECEIVER_ACCOUNT_LOCKED", "The receiver's account is locked or inactive."),
    "UNCLAIMED": (
        "RECEIVER_UNREGISTERED",
        "The recipient for this payout does not have an account. If the recipient does not "
        "claim this payout within 30 days, the funds will be returned to your account.",
    ),
    "BLOCKED": ("RISK_DECLINE", "The payout was blocked by PayPal's risk checks."),
}

_ZERO_DECIMAL = frozenset({"HUF", "JPY", "TWD"})
_CURRENCIES = frozenset(
    {"AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
     "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD"}
)  # fmt: skip
_AMOUNT = re.compile(r"^(?P<whole>[0-9]{1,12})(?:\.(?P<fraction>[0-9]{1,2}))?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_id(length: int = 13) -> str:
    """A PayPal-looking id: upper-case letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def paypal_time(moment: datetime | None = None) -> str:
    """PayPal's timestamps: UTC, whole seconds, `Z`."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_body(name: str, message: str, details: list[JSON] | None = None, **extra: Any) -> JSON:
    """PayPal's error shape: name, message, debug_id, information_link, details."""
    body: JSON = {
        "name": name,
        "message": message,
        "debug_id": secrets.token_hex(7),
        "information_link": INFORMATION_LINK,
    }
    if details:
        body["details"] = details
    body.update(extra)
    return body


def error_response(
    status: int, body: JSON, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


# -- keys, certificate and signatures --------------------------------------------------------


@lru_cache(maxsize=1)
def _signing_key() -> rsa.RSAPrivateKey:
    """One RSA key per process: generating one costs tens of milliseconds."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_certificate(key: rsa.RSAPrivateKey, *, expired: bool = False) -> x509.Certificate:
    """A self-signed signing certificate, valid now (or expired yesterday)."""
    now = datetime.now(UTC)
    start, end = (
        (now - timedelta(days=30), now - timedelta(days=1))
        if expired
        else (
            now - timedelta(days=1),
            now + timedelta(days=365),
        )
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fake PayPal"),
            x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.fake.paypal"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )


def sign_delivery(
    key: rsa.RSAPrivateKey,
    body: bytes,
    *,
    webhook_id: str,
    cert_url: str,
    transmission_id: str | None = None,
    transmission_time: str | None = None,
) -> dict[str, str]:
    """The PAYPAL-* headers PayPal sends with a webhook: an RSA-SHA256 signature over
    `transmission_id|transmission_time|webhook_id|crc32(body)`, crc32 as unsigned decimal."""
    transmission_id = transmission_id or str(uuid.uuid4())
    transmission_time = transmission_time or paypal_time()
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "Content-Type": "application/json",
    }


# -- request validation against PayPal's OpenAPI document -------------------------------------


class _SpecRequest:
    """A request as openapi-core reads it, addressed to the document's own server."""

    def __init__(self, method: str, path: str, body: bytes) -> None:
        from openapi_core.datatypes import RequestParameters

        self.host_url = SPEC_SERVER
        self.path = path
        self.method = method.lower()
        self.body = body
        self.content_type = "application/json"
        self.parameters = RequestParameters()


class SpecValidator:
    """Validates request bodies against PayPal's OpenAPI document (openapi-core)."""

    def __init__(self, spec_path: Path) -> None:
        from openapi_core import OpenAPI
        from openapi_core.validation.request.validators import V30RequestBodyValidator

        self.spec = OpenAPI.from_file_path(str(spec_path)).spec
        self._validator = V30RequestBodyValidator(self.spec)

    def problems(self, method: str, path: str, body: bytes) -> list[JSON]:
        """PayPal-style error details for what the body gets wrong; empty when it is valid."""
        from openapi_core.validation.request.exceptions import RequestBodyValidationError

        try:
            self._validator.validate(_SpecRequest(method, path, body))
        except RequestBodyValidationError as error:
            cause = error.__cause__
            found = getattr(cause, "schema_errors", None) or [cause or error]
            return [
                {
                    "field": "/".join(str(p) for p in getattr(e, "absolute_path", [])) or "body",
                    "location": "body",
                    "issue": str(getattr(e, "message", e)),
                }
                for e in found
            ]
        return []


@lru_cache(maxsize=4)
def spec_validator(spec_path: Path) -> SpecValidator:
    """One validator per document per process: reading the document takes half a second."""
    return SpecValidator(spec_path)


# -- state ------------------------------------------------------------------------------------


@dataclass
class FakeItem:
    payout_item_id: str
    payout_batch_id: str
    sender_batch_id: str | None
    item: JSON
    """The item as the client sent it."""
    status: str = "PENDING"
    transaction_id: str | None = None
    error: JSON | None = None
    time_processed: str | None = None


@dataclass
class FakeBatch:
    payout_batch_id: str
    sender_batch_header: JSON
    status: str = "PENDING"
    time_created: str = field(default_factory=paypal_time)
    time_completed: str | None = None
    item_ids: list[str] = field(default_factory=list)

    @property
    def sender_batch_id(self) -> str | None:
        value = self.sender_batch_header.get("sender_batch_id")
        return str(value) if value else None


@dataclass
class WebhookDelivery:
    event_id: str
    event_type: str
    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> JSON:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "event": json.loads(self.body),
        }


@dataclass
class ErrorRule:
    """Answer matching API requests with a PayPal business error (4xx); nothing happens."""

    status: int = 422
    name: str = "INSUFFICIENT_FUNDS"
    message: str = "Sender does not have sufficient funds. Please add funds and retry."
    method: str | None = "POST"
    path: str | None = "/v1/payments/payouts"
    times: int | None = 1

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 499:
            raise ValueError(f"status must be a 4xx status, got {self.status}")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or null for no limit")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass
class FakePayPalSettings:
    client_id: str = "fake-paypal-client-id"
    client_secret: str = "fake-paypal-client-secret"  # noqa: S105 - a fake's well-known secret
    webhook_id: str = "WH-FAKE-PAYPAL-0001"
    webhook_url: str | None = None
    """Where signed webhooks go (e.g. http://127.0.0.1:8000/webhooks/paypal); None sends none."""
    host: str = "127.0.0.1"
    port: int = 0
    validate_requests: bool | None = None
    """Validate POST bodies against PayPal's OpenAPI document with openapi-core: True requires
    it, False skips it, None (the default) validates when openapi-core and the document are
    there."""
    openapi_spec: Path = DEFAULT_SPEC
    auto_advance_seconds: float | None = None
    """Move each new batch one step every that many seconds: PENDING -> PROCESSING, then its
    item to `auto_outcome`; None leaves transitions to the admin API."""
    auto_outcome: str = "SUCCESS"
    outcomes: dict[str, str] = field(default_factory=dict)
    """Auto-advance outcome by receiver email, overriding `auto_outcome`."""
    token_ttl_seconds: int = 32_400
    expired_certificate: bool = False
    """Serve a signing certificate that expired yesterday."""
    webhook_attempts: int = 3
    webhook_concurrency: int = 1
    """Deliveries in flight at once; 1 keeps them in order (PayPal itself does not promise to)."""
    kept_deliveries: int = 10_000
    """The most recent deliveries kept for inspection."""
    item_fee_bps: int = 0
    """Each item's `payout_item_fee`, in basis points of its amount (rounded up to a minor
    unit); 0 by default."""
    seed: int | None = None


class FakePayPal:
    """The fake server. `async with FakePayPal(settings) as fake:` starts it on 127.0.0.1;
    `fake.url` is the API base to give the PayPal provider."""

    def __init__(self, settings: FakePayPalSettings | None = None) -> None:
        self.settings = settings or FakePayPalSettings()
        if self.settings.auto_outcome not in ITEM_STATUSES:
            raise ValueError(
                f"auto_outcome must be an item status, got {self.settings.auto_outcome}"
            )
        self.faults = FaultInjector(self.settings.seed)
        self.error_rules: list[ErrorRule] = []
        self.disagreements = Disagreements()
        self.batches: dict[str, FakeBatch] = {}
        self.items: dict[str, FakeItem] = {}
        self.by_sender_batch_id: dict[str, str] = {}
        self.deliveries: list[WebhookDelivery] = []
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every API request served, for tests to count calls."""
        self._tokens: dict[str, float] = {}
        self._key = _signing_key()
        self._cert = make_certificate(self._key, expired=self.settings.expired_certificate)
        self._cert_name = f"CERT-{secrets.token_hex(4)}-{secrets.token_hex(4)}-fake"
        self._validator: SpecValidator | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._outbox: asyncio.Queue[WebhookDelivery] | None = None
        self._senders: list[asyncio.Task[None]] = []
        self._delivered = asyncio.Event()
        self._finished = 0
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake PayPal server is not started")
        host = self.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a URL to print
        return f"http://{shown}:{self.port}"

    @property
    def cert_url(self) -> str:
        return f"{self.url}/v1/notifications/certs/{self._cert_name}"

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        """Listen on `host:port` (the settings' by default; port 0 picks a free one); returns the
        API base URL."""
        if host is not None:
            self.settings.host = host
        if port is not None:
            self.settings.port = port
        self._validator = await asyncio.to_thread(self._load_validator)
        app = web.Application(
            middlewares=[
                self._record,
                fault_middleware(self.faults, self._fault_answer),
                self._error_rules,
            ]
        )
        self._routes(app)
        add_fault_routes(app, self.faults)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._outbox = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._senders = [
            asyncio.create_task(self._send_webhooks())
            for _ in range(max(1, self.settings.webhook_concurrency))
        ]
        log.info("fake PayPal listening on %s", self.url)
        return self.url

    def _load_validator(self) -> SpecValidator | None:
        wanted = self.settings.validate_requests
        if wanted is False:
            return None
        try:
            return spec_validator(self.settings.openapi_spec)
        except (ImportError, OSError) as error:
            if wanted:
                raise RuntimeError(
                    f"cannot validate requests against {self.settings.openapi_spec}: {error}"
                ) from error
            log.info(
                "fake PayPal: not validating requests against the OpenAPI document (%s)", error
            )
            return None

    def environment(self) -> dict[str, str]:
        """The variables that point the Diamonds service (and `PayPalConfig.from_env`) here."""
        return {
            "DIAMONDS_PAYPAL_API_BASE": self.url,
            "DIAMONDS_PAYPAL_CLIENT_ID": self.settings.client_id,
            "DIAMONDS_PAYPAL_CLIENT_SECRET": self.settings.client_secret,
            "DIAMONDS_PAYPAL_WEBHOOK_ID": self.settings.webhook_id,
            "DIAMONDS_PAYPAL_CERT_HOSTS": f"http://{urlsplit(self.url).hostname}",
        }

    async def stop(self) -> None:
        self.faults.release()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in self._senders:
            task.cancel()
        for task in self._senders:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._senders = []
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakePayPal:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def reset(self) -> None:
        """Forget every batch, token, fault, error rule and delivery."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.batches.clear()
        self.items.clear()
        self.by_sender_batch_id.clear()
        self.deliveries.clear()
        self._finished = 0
        self.requests.clear()
        self._tokens.clear()
        self.faults.clear()
        self.error_rules.clear()
        self.disagreements.clear()

    # -- control (also reachable through the admin API) ----------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def add_disagreement(self, disagreement: Disagreement) -> Disagreement:
        """Make GET /v1/payments/payouts/{id} disagree with what happened. `target` is our payout
        id (the batch's sender_batch_id): `drop` leaves its item out, `amount` (minor units) and
        `status` restate it, `extra` adds an item of `amount` to its batch that we never sent (to
        a receiver of PayPal's, with no sender_item_id of ours), paid."""
        if disagreement.kind is DisagreementKind.EXTRA:
            batch = self.batch_of(disagreement.target)
            if batch is None:
                raise KeyError(f"no batch with sender_batch_id {disagreement.target!r}")
            first = self.items[batch.item_ids[0]]
            currency = str(first.item["amount"]["currency"])
            assert disagreement.amount is not None
            item = FakeItem(
                payout_item_id=new_id(),
                payout_batch_id=batch.payout_batch_id,
                sender_batch_id=batch.sender_batch_id,
                item={
                    "recipient_type": "EMAIL",
                    "amount": {
                        "value": _minor_money(disagreement.amount, currency),
                        "currency": currency,
                    },
                    "receiver": "stranger@example.com",
                    "note": "not sent by Diamonds",
                },
                status="SUCCESS",
                transaction_id=new_id(17),
                time_processed=paypal_time(),
            )
            self.items[item.payout_item_id] = item
            batch.item_ids.append(item.payout_item_id)
        return self.disagreements.add(disagreement)

    def add_error(self, rule: ErrorRule) -> ErrorRule:
        self.error_rules.append(rule)
        return rule

    def batch_of(self, sender_batch_id: str) -> FakeBatch | None:
        batch_id = self.by_sender_batch_id.get(sender_batch_id)
        return self.batches.get(batch_id) if batch_id else None

    def item_of(self, sender_batch_id: str) -> FakeItem:
        batch = self.batch_of(sender_batch_id)
        if batch is None or not batch.item_ids:
            raise KeyError(f"no batch with sender_batch_id {sender_batch_id!r}")
        return self.items[batch.item_ids[0]]

    def set_item_status(
        self, payout_item_id: str, status: str, *, error: str | None = None, message: str = ""
    ) -> FakeItem:
        """Move an item on (PENDING -> SUCCESS, SUCCESS -> RETURNED, ...), as PayPal would, and
        send its webhook. Raises ValueError for a move PayPal never makes."""
        item = self.items.get(payout_item_id)
        if item is None:
            raise KeyError(f"no payout item {payout_item_id!r}")
        if status not in _NEXT_ITEM_STATUS.get(item.status, frozenset()):
            raise ValueError(f"an item cannot go from {item.status} to {status}")
        self._move_item(item, status, error=error, message=message)
        return item

    def set_payout_status(
        self, sender_batch_id: str, status: str, *, error: str | None = None, message: str = ""
    ) -> FakeItem:
        """`set_item_status` for the (first) item of the batch sent under `sender_batch_id`."""
        return self.set_item_status(
            self.item_of(sender_batch_id).payout_item_id, status, error=error, message=message
        )

    def set_batch_status(self, payout_batch_id: str, status: str) -> FakeBatch:
        batch = self.batches.get(payout_batch_id)
        if batch is None:
            raise KeyError(f"no payout batch {payout_batch_id!r}")
        allowed = {"PENDING": {"PROCESSING", "DENIED", "CANCELED"}, "PROCESSING": {"SUCCESS"}}
        if status not in allowed.get(batch.status, set()):
            raise ValueError(f"a batch cannot go from {batch.status} to {status}")
        self._move_batch(batch, status)
        return batch

    def sign(
        self,
        body: bytes,
        *,
        webhook_id: str | None = None,
        transmission_time: str | None = None,
        cert_url: str | None = None,
    ) -> dict[str, str]:
        """Headers for `body` signed as PayPal signs, by default for this server's webhook id."""
        return sign_delivery(
            self._key,
            body,
            webhook_id=webhook_id or self.settings.webhook_id,
            cert_url=cert_url or self.cert_url,
            transmission_time=transmission_time,
        )

    def event_for_item(self, item: FakeItem, event_type: str | None = None) -> JSON:
        """The webhook event PayPal sends for an item's current status."""
        suffix = event_type or _ITEM_EVENTS.get(item.status, item.status)
        return self._event(f"PAYMENT.PAYOUTS-ITEM.{suffix}", "payouts_item", self._item_json(item))

    async def wait_for_deliveries(self, count: int, within: float = 5.0) -> list[WebhookDelivery]:
        """Wait until `count` webhooks have been delivered (or given up on), `within` seconds."""
        async with asyncio.timeout(within):
            while self._finished < count:
                self._delivered.clear()
                await self._delivered.wait()
        return list(self.deliveries)

    # -- middlewares ---------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            self.requests.append((request.method, request.path))
        response: web.StreamResponse = await handler(request)
        return response

    @web.middleware
    async def _error_rules(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            for rule in self.error_rules:
                if rule.matches(request.method, request.path):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times == 0:
                            self.error_rules.remove(rule)
                    return error_response(rule.status, error_body(rule.name, rule.message))
        response: web.StreamResponse = await handler(request)
        return response

    @staticmethod
    def _fault_answer(fault: Fault) -> web.StreamResponse:
        if fault.kind is FaultKind.RATE_LIMIT:
            return error_response(
                429,
                error_body(
                    "RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."
                ),
                headers={"Retry-After": str(fault.retry_after)},
            )
        return error_response(
            fault.status, error_body("INTERNAL_SERVER_ERROR", "An internal server error occurred.")
        )

    # -- the PayPal API ------------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/v1/oauth2/token", self._token)
        for path in ("/v1/payments/payouts", "/v1/payments/payouts/"):
            r.add_post(path, self._create_batch)
        r.add_get("/v1/payments/payouts/{payout_batch_id}", self._get_batch)
        r.add_get("/v1/payments/payouts-item/{payout_item_id}", self._get_item)
        r.add_get("/v1/reporting/transactions", self._search_transactions)
        r.add_post("/v1/payments/payouts-item/{payout_item_id}/cancel", self._cancel_item)
        r.add_get("/v1/notifications/certs/{name}", self._certificate)
        a = ADMIN_PREFIX
        r.add_get(f"{a}/state", self._admin_state)
        r.add_post(f"{a}/reset", self._admin_reset)
        r.add_post(f"{a}/config", self._admin_config)
        r.add_post(f"{a}/items/{{payout_item_id}}", self._admin_item)
        r.add_post(f"{a}/payouts/{{sender_batch_id}}", self._admin_payout)
        r.add_post(f"{a}/batches/{{payout_batch_id}}", self._admin_batch)
        r.add_post(f"{a}/errors", self._admin_add_error)
        r.add_delete(f"{a}/errors", self._admin_clear_errors)
        r.add_get(f"{a}/webhooks", self._admin_webhooks)
        r.add_get(f"{a}/disagreements", self._admin_disagreements)
        r.add_post(f"{a}/disagreements", self._admin_add_disagreement)
        r.add_delete(f"{a}/disagreements", self._admin_clear_disagreements)
        r.add_post(f"{a}/webhooks/sign", self._admin_sign)

    async def _token(self, request: web.Request) -> web.Response:
        if not self._basic_auth_ok(request.headers.get("Authorization", "")):
            return error_response(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return error_response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Grant Type is NULL or not supported",
                },
            )
        token = "A21AA" + secrets.token_urlsafe(48)
        self._tokens[token] = time.monotonic() + self.settings.token_ttl_seconds
        return web.json_response(
            {
                "scope": "https://uri.paypal.com/services/payments/payouts",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-FAKE0000000000000",
                "expires_in": self.settings.token_ttl_seconds,
                "nonce": f"{paypal_time()}{secrets.token_hex(8)}",
            }
        )

    def _basic_auth_ok(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        client_id, _, secret = decoded.partition(":")
        return secrets.compare_digest(client_id, self.settings.client_id) and (
            secrets.compare_digest(secret, self.settings.client_secret)
        )

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is not None and expires > time.monotonic():
            return None
        return error_response(
            401,
            {
                "name": "AUTHENTICATION_FAILURE",
                "message": "Authentication failed due to invalid authentication credentials or "
                "a missing Authorization header.",
                "links": [
                    {
                        "href": "https://developer.paypal.com/docs/api/overview/#error",
                        "rel": "information_link",
                    }
                ],
            },
        )

    async def _create_batch(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            return error_response(
                400, error_body("MALFORMED_REQUEST", "Incoming JSON request does not map to API")
            )
        problems = (
            self._validator.problems("POST", "/v1/payments/payouts", raw) if self._validator else []
        )
        problems = problems or _business_problems(body)
        if problems:
            return error_response(
                400, error_body("VALIDATION_ERROR", "Invalid request - see details", problems)
            )
        header: JSON = dict(body["sender_batch_header"])
        sender_batch_id = header.get("sender_batch_id")
        if sender_batch_id and sender_batch_id in self.by_sender_batch_id:
            original = self.by_sender_batch_id[sender_batch_id]
            return error_response(
                400,
                error_body(
                    "USER_BUSINESS_ERROR",
                    "User business error.",
                    [
                        {
                            "field": "SENDER_BATCH_ID",
                            "location": "body",
                            "issue": "Batch with given sender_batch_id already exists",
                            "value": sender_batch_id,
                        }
                    ],
                    links=[self._batch_link(original)],
                ),
            )
        batch = FakeBatch(payout_batch_id=new_id(), sender_batch_header=header)
        for sent in body["items"]:
            item = FakeItem(
                payout_item_id=new_id(),
                payout_batch_id=batch.payout_batch_id,
                sender_batch_id=batch.sender_batch_id,
                item={"recipient_type": header.get("recipient_type", "EMAIL"), **sent},
            )
            self.items[item.payout_item_id] = item
            batch.item_ids.append(item.payout_item_id)
        self.batches[batch.payout_batch_id] = batch
        if batch.sender_batch_id:
            self.by_sender_batch_id[batch.sender_batch_id] = batch.payout_batch_id
        self._schedule_auto_advance(batch)
        return web.json_response(
            {
                "batch_header": {
                    "payout_batch_id": batch.payout_batch_id,
                    "batch_status": batch.status,
                    "sender_batch_header": header,
                },
                "links": [self._batch_link(batch.payout_batch_id)],
            },
            status=201,
        )

    async def _get_batch(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        batch = self.batches.get(request.match_info["payout_batch_id"])
        if batch is None:
            return _not_found()
        try:
            page = _query_int(request, "page", 1, 1, 1000)
            page_size = _query_int(request, "page_size", 1000, 1, 1000)
        except ValueError as error:
            return error_response(
                400,
                error_body(
                    "VALIDATION_ERROR",
                    "Invalid request - see details",
                    [{"field": str(error), "location": "query", "issue": "Invalid value"}],
                ),
            )
        total_required = request.query.get("total_required", "false").lower() == "true"
        return web.json_response(
            self._batch_page(batch, page, page_size, total_required=total_required)
        )

    def _batch_page(
        self, batch: FakeBatch, page: int, page_size: int, *, total_required: bool
    ) -> JSON:
        """A batch as GET /v1/payments/payouts/{id}?page=&page_size=&total_required= shows it:
        the header, one page of items (after the disagreements), `total_items` and
        `total_pages` when asked, and `next`/`previous` links while there are pages."""
        whole = self._batch_json(batch, reported=True)
        items = whole["items"]
        pages = max(1, -(-len(items) // page_size))
        whole["items"] = items[(page - 1) * page_size : page * page_size]
        if total_required:
            whole["total_items"] = len(items)
            whole["total_pages"] = pages
        base = f"{self.url}/v1/payments/payouts/{batch.payout_batch_id}"
        for rel, number in (("next", page + 1), ("previous", page - 1)):
            if 1 <= number <= pages:
                whole["links"].append(
                    {
                        "href": f"{base}?page={number}&page_size={page_size}"
                        f"&total_required={str(total_required).lower()}",
                        "rel": rel,
                        "method": "GET",
                    }
                )
        return whole

    async def _search_transactions(self, request: web.Request) -> web.Response:
        """Transaction search (GET /v1/reporting/transactions): the payout items that moved
        money (they have a transaction id), processed from `start_date` to `end_date` (at most
        31 days apart), as `T0001` (MassPay) transactions with negative amounts and fees, after
        the disagreements; `page` and `page_size` (1 to 500, default 100)."""
        if (denied := self._unauthorized(request)) is not None:
            return denied
        try:
            start = datetime.fromisoformat(request.query["start_date"])
            end = datetime.fromisoformat(request.query["end_date"])
            page = _query_int(request, "page", 1, 1, 10_000)
            page_size = _query_int(request, "page_size", 100, 1, 500)
        except (KeyError, ValueError) as error:
            return error_response(
                400,
                error_body(
                    "INVALID_REQUEST",
                    "Request is not well-formed, syntactically incorrect, or violates schema.",
                    [{"field": str(error), "location": "query", "issue": "INVALID_PARAMETER"}],
                ),
            )
        if start.tzinfo is None or end.tzinfo is None or not start < end:
            return error_response(400, error_body("INVALID_REQUEST", "Invalid date range."))
        if end - start > timedelta(days=31):
            return error_response(
                400, error_body("INVALID_REQUEST", "Date range is greater than 31 days")
            )
        found = []
        for item in self.items.values():
            moment = _paypal_moment(item.time_processed)
            if item.transaction_id is None or moment is None or not start <= moment <= end:
                continue
            if self._dropped(item):
                continue
            view = self._restated(item, self._item_json(item))
            found.append(_transaction(view, moment))
        pages = max(1, -(-len(found) // page_size))
        return web.json_response(
            {
                "transaction_details": found[(page - 1) * page_size : page * page_size],
                "account_number": "FAKE0ACCOUNT0",
                "start_date": paypal_time(start),
                "end_date": paypal_time(end),
                "last_refreshed_datetime": paypal_time(),
                "page": page,
                "total_items": len(found),
                "total_pages": pages,
                "links": [],
            }
        )

    async def _get_item(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        item = self.items.get(request.match_info["payout_item_id"])
        if item is None:
            return _not_found()
        return web.json_response(self._item_json(item))

    async def _cancel_item(self, request: web.Request) -> web.Response:
        if (denied := self._unauthorized(request)) is not None:
            return denied
        item = self.items.get(request.match_info["payout_item_id"])
        if item is None:
            return _not_found()
        if item.status != "UNCLAIMED":
            return error_response(
                400,
                error_body(
                    "ITEM_INCORRECT_STATUS",
                    f"Only UNCLAIMED items can be canceled; this one is {item.status}.",
                ),
            )
        self._move_item(item, "RETURNED", event="CANCELED")
        return web.json_response(self._item_json(item))

    async def _certificate(self, request: web.Request) -> web.Response:
        if request.match_info["name"] != self._cert_name:
            return _not_found()
        pem = self._cert.public_bytes(serialization.Encoding.PEM)
        return web.Response(body=pem, content_type="application/x-pem-file")

    # -- the admin API -------------------------------------------------------------------------

    async def _admin_state(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "url": self.url,
                "webhook_id": self.settings.webhook_id,
                "webhook_url": self.settings.webhook_url,
                "cert_url": self.cert_url,
                "auto_advance_seconds": self.settings.auto_advance_seconds,
                "batches": [self._batch_json(b) for b in self.batches.values()],
                "deliveries": len(self.deliveries),
            }
        )

    async def _admin_reset(self, _request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"reset": True})

    async def _admin_config(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if not isinstance(data, dict):
            return admin_error("expected a JSON object")
        known = {"webhook_url", "auto_advance_seconds", "auto_outcome", "outcomes"}
        if unknown := sorted(set(data) - known):
            return admin_error(f"unknown settings: {', '.join(unknown)}")
        outcome = data.get("auto_outcome", self.settings.auto_outcome)
        outcomes = data.get("outcomes", self.settings.outcomes)
        statuses = [outcome, *outcomes.values()] if isinstance(outcomes, dict) else [None]
        if any(s not in ITEM_STATUSES for s in statuses):
            return admin_error(f"outcomes must be item statuses: {sorted(ITEM_STATUSES)}")
        delay = data.get("auto_advance_seconds", self.settings.auto_advance_seconds)
        if delay is not None and (not isinstance(delay, int | float) or not 0 < delay <= 3600):
            return admin_error("auto_advance_seconds must be null or more than 0, up to 3600")
        self.settings.webhook_url = data.get("webhook_url", self.settings.webhook_url)
        self.settings.auto_advance_seconds = delay
        self.settings.auto_outcome = outcome
        self.settings.outcomes = dict(outcomes)
        return await self._admin_state(request)

    async def _admin_item(self, request: web.Request) -> web.Response:
        return await self._admin_move(request, request.match_info["payout_item_id"], by_item=True)

    async def _admin_payout(self, request: web.Request) -> web.Response:
        return await self._admin_move(request, request.match_info["sender_batch_id"], by_item=False)

    async def _admin_move(self, request: web.Request, key: str, *, by_item: bool) -> web.Response:
        data = await _admin_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            return admin_error('expected {"status": "SUCCESS", "error": "...", "message": "..."}')
        try:
            move = self.set_item_status if by_item else self.set_payout_status
            item = move(
                key, data["status"], error=data.get("error"), message=str(data.get("message", ""))
            )
        except KeyError as error:
            return admin_error(str(error), status=404)
        except ValueError as error:
            return admin_error(str(error), status=409)
        return web.json_response(self._item_json(item))

    async def _admin_batch(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            return admin_error('expected {"status": "PROCESSING"}')
        try:
            batch = self.set_batch_status(request.match_info["payout_batch_id"], data["status"])
        except KeyError as error:
            return admin_error(str(error), status=404)
        except ValueError as error:
            return admin_error(str(error), status=409)
        return web.json_response(self._batch_json(batch))

    async def _admin_add_error(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if not isinstance(data, dict):
            return admin_error('expected {"status": 422, "name": "INSUFFICIENT_FUNDS", ...}')
        try:
            rule = self.add_error(ErrorRule(**data))
        except (TypeError, ValueError) as error:
            return admin_error(str(error))
        return web.json_response(asdict(rule), status=201)

    async def _admin_clear_errors(self, _request: web.Request) -> web.Response:
        self.error_rules.clear()
        return web.json_response({"errors": []})

    async def _admin_webhooks(self, _request: web.Request) -> web.Response:
        return web.json_response({"deliveries": [d.to_json() for d in self.deliveries]})

    async def _admin_sign(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if not isinstance(data, dict) or not isinstance(data.get("event"), dict):
            return admin_error('expected {"event": {...}, "webhook_id"?, "transmission_time"?}')
        body = json.dumps(data["event"]).encode()
        headers = self.sign(
            body,
            webhook_id=data.get("webhook_id"),
            transmission_time=data.get("transmission_time"),
        )
        return web.json_response({"headers": headers, "body": body.decode()})

    # -- transitions and webhooks --------------------------------------------------------------

    def _move_item(
        self,
        item: FakeItem,
        status: str,
        *,
        error: str | None = None,
        message: str = "",
        event: str | None = None,
    ) -> None:
        item.status = status
        item.time_processed = paypal_time()
        if status == "SUCCESS":
            item.error = None  # a claimed UNCLAIMED item is simply paid
            item.transaction_id = item.transaction_id or new_id(17)
        default = _DEFAULT_ERRORS.get(status)
        if error or default:
            name, text = (error, message) if error else default or ("", "")
            item.error = error_body(name, text or name)
        batch = self.batches[item.payout_batch_id]
        if batch.status == "PENDING":
            self._move_batch(batch, "PROCESSING")
        suffix = event or _ITEM_EVENTS.get(status)
        if suffix:
            self._emit(self.event_for_item(item, suffix))
        settled = all(self.items[i].status not in ("PENDING", "ONHOLD") for i in batch.item_ids)
        if batch.status == "PROCESSING" and settled:
            self._move_batch(batch, "SUCCESS")

    def _move_batch(self, batch: FakeBatch, status: str) -> None:
        batch.status = status
        if status in ("SUCCESS", "DENIED", "CANCELED"):
            batch.time_completed = paypal_time()
        if status != "PENDING":
            resource = {k: v for k, v in self._batch_json(batch).items() if k != "items"}
            self._emit(self._event(f"PAYMENT.PAYOUTSBATCH.{status}", "payouts", resource))

    def _schedule_auto_advance(self, batch: FakeBatch) -> None:
        delay = self.settings.auto_advance_seconds
        if delay is None:
            return
        loop = asyncio.get_running_loop()

        def processing() -> None:
            if batch.status == "PENDING":
                self._move_batch(batch, "PROCESSING")

        def settle() -> None:
            for item_id in batch.item_ids:
                item = self.items[item_id]
                receiver = str(item.item.get("receiver", ""))
                outcome = self.settings.outcomes.get(receiver, self.settings.auto_outcome)
                if outcome in _NEXT_ITEM_STATUS.get(item.status, frozenset()):
                    self._move_item(item, outcome)

        self._timers.append(loop.call_later(delay, processing))
        self._timers.append(loop.call_later(2 * delay, settle))
        if len(self._timers) > 1000:
            self._timers = [t for t in self._timers if not t.cancelled() and t.when() > loop.time()]

    def _event(self, event_type: str, resource_type: str, resource: JSON) -> JSON:
        event_id = "WH-" + new_id(17)
        return {
            "id": event_id,
            "event_version": "1.0",
            "create_time": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "resource_type": resource_type,
            "event_type": event_type,
            "summary": f"{resource_type} {event_type.rsplit('.', 1)[-1].lower()}",
            "resource": resource,
            "links": [
                {
                    "href": f"{self.url}/v1/notifications/webhooks-events/{event_id}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }

    def _emit(self, event: JSON) -> None:
        url = self.settings.webhook_url
        if not url or self._outbox is None:
            return
        body = json.dumps(event).encode()
        delivery = WebhookDelivery(
            event_id=event["id"],
            event_type=event["event_type"],
            url=url,
            body=body,
            headers=self.sign(body),
        )
        self.deliveries.append(delivery)
        if len(self.deliveries) > 2 * self.settings.kept_deliveries:
            del self.deliveries[: -self.settings.kept_deliveries]
        self._outbox.put_nowait(delivery)

    async def _send_webhooks(self) -> None:
        """Deliver queued webhooks, retrying each a few times on failure."""
        assert self._outbox is not None
        while True:
            delivery = await self._outbox.get()
            for attempt in range(1, self.settings.webhook_attempts + 1):
                delivery.attempts = attempt
                try:
                    assert self._session is not None
                    async with self._session.post(
                        delivery.url, data=delivery.body, headers=delivery.headers
                    ) as response:
                        delivery.status = response.status
                        delivery.error = None
                        if response.status < 300:
                            break
                except (aiohttp.ClientError, TimeoutError) as error:
                    delivery.error = repr(error)
                if attempt < self.settings.webhook_attempts:
                    await asyncio.sleep(0.05 * 2**attempt)
            self._finished += 1
            self._delivered.set()

    # -- JSON views ----------------------------------------------------------------------------

    def _batch_link(self, payout_batch_id: str) -> JSON:
        return {
            "href": f"{self.url}/v1/payments/payouts/{payout_batch_id}",
            "rel": "self",
            "method": "GET",
            "encType": "application/json",
        }

    def _batch_json(self, batch: FakeBatch, *, reported: bool = False) -> JSON:
        """The batch; `reported` applies the disagreements (what GET answers)."""
        items = [self.items[i] for i in batch.item_ids]
        views = [self._item_json(i) for i in items]
        if reported:
            views = [
                self._restated(i, v)
                for i, v in zip(items, views, strict=True)
                if not self._dropped(i)
            ]
        currency = str(items[0].item["amount"]["currency"]) if items else "USD"
        total = sum((Decimal(str(v["payout_item"]["amount"]["value"])) for v in views), Decimal(0))
        fees = sum((Decimal(str(v["payout_item_fee"]["value"])) for v in views), Decimal(0))
        header: JSON = {
            "payout_batch_id": batch.payout_batch_id,
            "batch_status": batch.status,
            "time_created": batch.time_created,
            "sender_batch_header": batch.sender_batch_header,
            "funding_source": "BALANCE",
            "amount": {"currency": currency, "value": _money(total, currency)},
            "fees": {"currency": currency, "value": _money(fees, currency)},
        }
        if batch.time_completed:
            header["time_completed"] = batch.time_completed
        return {
            "batch_header": header,
            "items": [{k: v for k, v in view.items() if k != "sender_batch_id"} for view in views],
            "links": [self._batch_link(batch.payout_batch_id)],
        }

    def _item_json(self, item: FakeItem) -> JSON:
        currency = str(item.item["amount"]["currency"])
        value = Decimal(str(item.item["amount"]["value"]))
        exponent = 0 if currency in _ZERO_DECIMAL else 2
        fee_minor = -(-int(value.scaleb(exponent)) * self.settings.item_fee_bps // 10_000)
        view: JSON = {
            "payout_item_id": item.payout_item_id,
            "transaction_status": item.status,
            "payout_item_fee": {"currency": currency, "value": _minor_money(fee_minor, currency)},
            "payout_batch_id": item.payout_batch_id,
            "payout_item": item.item,
            "links": [
                {
                    "href": f"{self.url}/v1/payments/payouts-item/{item.payout_item_id}",
                    "rel": "item",
                    "method": "GET",
                }
            ],
        }
        if item.sender_batch_id:
            view["sender_batch_id"] = item.sender_batch_id
        if item.transaction_id:
            view["transaction_id"] = item.transaction_id
        if item.time_processed:
            view["time_processed"] = item.time_processed
        if item.error:
            view["errors"] = item.error
        return view

    def _payout_id_of(self, item: FakeItem) -> str | None:
        """Our payout id for an item: its sender_item_id, else the batch's sender_batch_id for
        the batch's first item (the one the client sent)."""
        sender_item_id = item.item.get("sender_item_id")
        if sender_item_id:
            return str(sender_item_id)
        first = self.batches[item.payout_batch_id].item_ids[0] == item.payout_item_id
        return item.sender_batch_id if first else None

    def _dropped(self, item: FakeItem) -> bool:
        return self.disagreements.dropped(self._payout_id_of(item))

    def _restated(self, item: FakeItem, view: JSON) -> JSON:
        """An item with the amount and status disagreements on our payout applied."""
        payout_id = self._payout_id_of(item)
        if payout_id is None:
            return view
        amount = view["payout_item"]["amount"]
        currency = str(amount["currency"])
        exponent = 0 if currency in _ZERO_DECIMAL else 2
        sent = int(Decimal(str(amount["value"])).scaleb(exponent))
        reported = self.disagreements.amount(payout_id, sent)
        status = self.disagreements.status(payout_id, view["transaction_status"])
        if reported == sent and status == view["transaction_status"]:
            return view
        restated = {**amount, "value": _minor_money(reported, currency)}
        return {
            **view,
            "transaction_status": status,
            "payout_item": {**view["payout_item"], "amount": restated},
        }

    async def _admin_disagreements(self, _request: web.Request) -> web.Response:
        return web.json_response({"disagreements": [d.to_json() for d in self.disagreements.items]})

    async def _admin_add_disagreement(self, request: web.Request) -> web.Response:
        try:
            added = self.add_disagreement(Disagreement.from_json(await _admin_json(request)))
        except KeyError as error:
            return admin_error(str(error), status=404)
        except ValueError as error:
            return admin_error(str(error))
        return web.json_response(added.to_json(), status=201)

    async def _admin_clear_disagreements(self, _request: web.Request) -> web.Response:
        self.disagreements.clear()
        return web.json_response({"disagreements": []})


_TRANSACTION_STATUS = {"SUCCESS": "S", "RETURNED": "V", "REFUNDED": "V", "REVERSED": "V"}


def _paypal_moment(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


def _transaction(view: JSON, moment: datetime) -> JSON:
    """A payout item as transaction search shows it: money out is negative."""
    amount = view["payout_item"]["amount"]
    fee = view["payout_item_fee"]
    status = _TRANSACTION_STATUS.get(view["transaction_status"], "P")
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {
        "transaction_info": {
            "paypal_account_id": "FAKESENDER000",
            "transaction_id": view["transaction_id"],
            "paypal_reference_id": view["payout_batch_id"],
            "paypal_reference_id_type": "PAP",
            "transaction_event_code": "T0001",
            "transaction_initiation_date": stamp,
            "transaction_updated_date": stamp,
            "transaction_amount": {
                "currency_code": amount["currency"],
                "value": f"-{amount['value']}",
            },
            "fee_amount": {"currency_code": fee["currency"], "value": f"-{fee['value']}"},
            "transaction_status": status,
        },
        "payer_info": {"account_id": "FAKESENDER000"},
        "payer_item": {"receiver": view["payout_item"].get("receiver")},
    }


def _minor_money(minor: int, currency: str) -> str:
    """Minor units as PayPal's decimal string (1234 USD is "12.34", 500 JPY is "500")."""
    exponent = 0 if currency in _ZERO_DECIMAL else 2
    return _money(Decimal(minor).scaleb(-exponent), currency)


def _query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(name)
    return int(raw)


def _money(value: Decimal, currency: str) -> str:
    return str(value.quantize(Decimal(1) if currency in _ZERO_DECIMAL else Decimal("0.01")))


def _not_found() -> web.Response:
    return error_response(
        404, error_body("INVALID_RESOURCE_ID", "The requested resource ID was not found")
    )


async def _admin_json(request: web.Request) -> object:
    try:
        return await request.json()
    except ValueError:
        return None


def _business_problems(body: object) -> list[JSON]:
    """What PayPal refuses beyond the schema (and, without openapi-core, the schema's basics)."""
    if not isinstance(body, dict) or not isinstance(body.get("sender_batch_header"), dict):
        return [{"field": "sender_batch_header", "location": "body", "issue": "Required field"}]
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= 15_000:
        return [{"field": "items", "location": "body", "issue": "1 to 15000 items required"}]
    problems: list[JSON] = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        amount = item.get("amount") if isinstance(item, dict) else None
        if not isinstance(amount, dict):
            problems.append({"field": f"{where}.amount", "location": "body", "issue": "Required"})
            continue
        currency = amount.get("currency")
        match = _AMOUNT.match(str(amount.get("value", "")))
        if currency not in _CURRENCIES:
            issue = "Currency code is invalid or not supported"
            problems.append(
                {"field": f"{where}.amount.currency", "location": "body", "issue": issue}
            )
        elif match is None or Decimal(str(amount["value"])) <= 0:
            issue = "Amount value must be a positive decimal with up to 2 decimal places"
            problems.append({"field": f"{where}.amount.value", "location": "body", "issue": issue})
        elif currency in _ZERO_DECIMAL and match.group("fraction") is not None:
            issue = f"Currency {currency} does not support decimals"
            problems.append({"field": f"{where}.amount.value", "location": "body", "issue": issue})
        recipient_type = item.get("recipient_type") or body["sender_batch_header"].get(
            "recipient_type", "EMAIL"
        )
        receiver = str(item.get("receiver", ""))
        if str(recipient_type).upper() == "EMAIL" and not _EMAIL.match(receiver):
            issue = "Receiver is invalid or does not match with type"
            problems.append({"field": f"{where}.receiver", "location": "body", "issue": issue})
    return problems


def build_for_runner(options: FakeOptions) -> FakePayPal:
    """The fake as `diamonds-fakes` runs it."""
    return FakePayPal(
        FakePayPalSettings(
            webhook_url=options.webhook_url,
            auto_advance_seconds=options.advance_seconds,
            seed=options.fault_seed,
            webhook_concurrency=4,
        )
    )
