"""The PayPal payout provider: one Payouts v1 batch per payout through `paypalrestsdk`, run in a
bounded thread pool with every call timed out, PayPal's statuses mapped to ours, webhooks verified.

Our payout id is the batch's `sender_batch_id` (and the item's `sender_item_id`), so PayPal itself
refuses to pay the same payout twice within 30 days; a re-run meets that refusal, follows its link
to the original batch and reports that batch's state.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import re
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar, TypeVar

import paypalrestsdk
import requests
import urllib3.exceptions
from paypalrestsdk import exceptions as sdk_errors

from kernel.bounded import BoundedCache
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
    PermanentProviderError,
    ProviderConfigError,
    ProviderError,
    TransientProviderError,
    UnappliableWebhook,
    UnknownOutcome,
    WebhookVerificationError,
)
from providers.pacing import TokenBucket
from providers.paypal_records import records_from_batch, records_from_transactions
from providers.paypal_signature import PRODUCTION_CERT_HOSTS, WebhookVerifier
from providers.records import ProviderRecord

log = logging.getLogger(__name__)

T = TypeVar("T")

PROVIDER = "paypal"
SANDBOX_API_BASE = "https://api-m.sandbox.paypal.com"
LIVE_API_BASE = "https://api-m.paypal.com"

SENDER_BATCH_ID_WINDOW_SECONDS = 29 * 24 * 3600
"""PayPal refuses a reused sender_batch_id for 30 days; we re-submit inside that, with a margin."""

MAX_REMEMBERED = 10_000

# fmt: off
_CURRENCIES: dict[str, tuple[int, int]] = {
    # code: (ISO 4217 minor-unit exponent = our minor units, decimals PayPal accepts)
    "AUD": (2, 2), "BRL": (2, 2), "CAD": (2, 2), "CHF": (2, 2), "CNY": (2, 2), "CZK": (2, 2),
    "DKK": (2, 2), "EUR": (2, 2), "GBP": (2, 2), "HKD": (2, 2), "HUF": (2, 0), "ILS": (2, 2),
    "JPY": (0, 0), "MXN": (2, 2), "MYR": (2, 2), "NOK": (2, 2), "NZD": (2, 2), "PHP": (2, 2),
    "PLN": (2, 2), "SEK": (2, 2), "SGD": (2, 2), "THB": (2, 2), "TWD": (2, 0), "USD": (2, 2),
}
# fmt: on

BATCH_STATES: Mapping[str, PayoutState] = {
    "DENIED": PayoutState.FAILED,
    "PENDING": PayoutState.PENDING,
    "PROCESSING": PayoutState.PENDING,
    # The batch is processed; whether the money arrived is the item's status.
    "SUCCESS": PayoutState.PENDING,
    "CANCELED": PayoutState.CANCELED,
}

ITEM_STATES: Mapping[str, PayoutState] = {
    "SUCCESS": PayoutState.PAID,
    "FAILED": PayoutState.FAILED,
    "BLOCKED": PayoutState.FAILED,
    "DENIED": PayoutState.FAILED,
    "NEW": PayoutState.PENDING,
    "PENDING": PayoutState.PENDING,
    "ONHOLD": PayoutState.PENDING,
    # Not claimed within 30 days the money comes back; cancel() hurries that along.
    "UNCLAIMED": PayoutState.RETURNED,
    "RETURNED": PayoutState.RETURNED,
    "REFUNDED": PayoutState.RETURNED,
    "REVERSED": PayoutState.RETURNED,
    "CANCELED": PayoutState.CANCELED,
}

ITEM_EVENT_STATES: Mapping[str, PayoutState] = {
    "SUCCEEDED": PayoutState.PAID,
    "FAILED": PayoutState.FAILED,
    "BLOCKED": PayoutState.FAILED,
    "DENIED": PayoutState.FAILED,
    "HELD": PayoutState.PENDING,
    # Unclaimed money can still be claimed for 30 days: not settled until a lookup has taken
    # it back (cancel) or PayPal returns it; the pipeline must not give the diamonds back yet.
    "UNCLAIMED": PayoutState.PENDING,
    "RETURNED": PayoutState.RETURNED,
    "REFUNDED": PayoutState.RETURNED,
    "CANCELED": PayoutState.CANCELED,
}

SEARCH_UNAVAILABLE = frozenset(
    {"NOT_AUTHORIZED", "PERMISSION_DENIED", "INVALID_RESOURCE_ID", "RESOURCE_NOT_FOUND",
     "HTTP_403", "HTTP_404"}
)  # fmt: skip
"""Answers that say this account cannot use transaction search (no reporting permission)."""

_ENDED_BADLY = frozenset({PayoutState.FAILED, PayoutState.RETURNED, PayoutState.CANCELED})
_BATCH_LINK = re.compile(r"/v1/payments/payouts/([A-Za-z0-9_-]{1,64})(?:[/?#]|$)")
_REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ITEM_EVENT = "PAYMENT.PAYOUTS-ITEM."
_BATCH_EVENT = "PAYMENT.PAYOUTSBATCH."


def format_amount(amount_minor: int, currency: str) -> str:
    """Integer minor units as PayPal's decimal string, exactly: 1234 USD is "12.34", 500 JPY is
    "500". Raises `PermanentProviderError` for a currency PayPal does not pay out in, an amount
    that is not positive, or fractions a currency cannot carry at PayPal (HUF, TWD)."""
    code = currency.upper()
    if code not in _CURRENCIES:
        raise PermanentProviderError(
            PROVIDER, "CURRENCY_NOT_SUPPORTED", f"PayPal does not pay out in {currency!r}"
        )
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise PermanentProviderError(
            PROVIDER, "INVALID_AMOUNT", f"amount must be a positive integer, got {amount_minor!r}"
        )
    exponent, decimals = _CURRENCIES[code]
    whole, fraction = divmod(amount_minor, 10**exponent)
    dropped = exponent - decimals
    if fraction % 10**dropped:
        raise PermanentProviderError(
            PROVIDER,
            "INVALID_AMOUNT",
            f"PayPal pays {code} in whole units only; {amount_minor} minor units is not one",
        )
    if decimals == 0:
        return str(whole)
    return f"{whole}.{fraction // 10**dropped:0{decimals}d}"


@dataclass(frozen=True)
class PayPalConfig:
    """What the PayPal provider needs. `api_base` is PayPal (sandbox by default) or the fake
    PayPal server; `cert_hosts` are where webhook signing certificates may come from."""

    client_id: str
    client_secret: str = field(repr=False)
    api_base: str = SANDBOX_API_BASE
    webhook_id: str | None = None
    cert_hosts: tuple[str, ...] = PRODUCTION_CERT_HOSTS
    """`host` or `*.domain`, https only; an `http://` prefix also allows plain http (local fake)."""
    timeout_seconds: float = 20.0
    """Bound on each HTTP exchange; a payout call that runs past it is an unknown outcome."""
    threads: int = 4
    """Size of the thread pool the synchronous SDK runs in."""
    webhook_tolerance_seconds: int = 300
    """How far a webhook's PAYPAL-TRANSMISSION-TIME may be from now."""
    requests_per_second: float = 0.0
    """Requests started per second at most (PayPal publishes no fixed limit); 0 for no bound.
    The threads bound how many are in flight."""

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ProviderConfigError(PROVIDER, "client id and client secret are required")
        if not self.timeout_seconds > 0 or not 1 <= self.threads <= 256:
            raise ProviderConfigError(PROVIDER, "timeout must be positive and threads 1 to 256")
        if not self.requests_per_second >= 0:
            raise ProviderConfigError(PROVIDER, "requests_per_second must not be negative")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PayPalConfig:
        """From `DIAMONDS_PAYPAL_CLIENT_ID` and `DIAMONDS_PAYPAL_CLIENT_SECRET` (required),
        `DIAMONDS_PAYPAL_API_BASE`, `DIAMONDS_PAYPAL_WEBHOOK_ID`, `DIAMONDS_PAYPAL_CERT_HOSTS`
        (comma-separated), `DIAMONDS_PAYPAL_TIMEOUT_SECONDS`, `DIAMONDS_PAYPAL_THREADS`,
        `DIAMONDS_PAYPAL_WEBHOOK_TOLERANCE_SECONDS` and `DIAMONDS_PAYPAL_REQUESTS_PER_SECOND`."""
        read = ProviderEnv(PROVIDER, env)
        client_id = read.required("CLIENT_ID", expect="the REST app's client id")
        client_secret = read.required("CLIENT_SECRET", expect="the REST app's client secret")
        api_base = read.url("API_BASE", SANDBOX_API_BASE)
        webhook_id = read.optional("WEBHOOK_ID", expect="the webhook's id from the developer app")
        hosts_raw = read.optional("CERT_HOSTS", expect="comma-separated hosts")
        cert_hosts = PRODUCTION_CERT_HOSTS
        if hosts_raw is not None:
            cert_hosts = tuple(h.strip() for h in hosts_raw.split(",") if h.strip())
            if not cert_hosts or any(not _cert_host_ok(h) for h in cert_hosts):
                read.problems.append(
                    f"{read.name('CERT_HOSTS')}={hosts_raw!r}: expected hosts such as "
                    "*.paypal.com (prefix one with http:// to allow plain http)"
                )
                cert_hosts = PRODUCTION_CERT_HOSTS
        timeout = read.number("TIMEOUT_SECONDS", 20.0, 0.05, 600.0)
        threads = read.integer("THREADS", 4, 1, 256)
        tolerance = read.integer("WEBHOOK_TOLERANCE_SECONDS", 300, 1, 86_400)
        per_second = read.number("REQUESTS_PER_SECOND", 0.0, 0.0, 10_000.0)
        read.check()
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            api_base=api_base,
            webhook_id=webhook_id,
            cert_hosts=cert_hosts,
            timeout_seconds=timeout,
            threads=threads,
            webhook_tolerance_seconds=tolerance,
            requests_per_second=per_second,
        )


def _cert_host_ok(entry: str) -> bool:
    scheme, sep, host = entry.lower().rpartition("://")
    return bool(host) and "/" not in host and (not sep or scheme in ("http", "https"))


class _TimedApi(paypalrestsdk.Api):  # type: ignore[misc]
    """paypalrestsdk's Api with a timeout on every HTTP exchange: it passes its keyword arguments
    through to `requests.request`, but never sets `timeout` itself."""

    def __init__(self, *, timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self._timeout = timeout
        self._calls = threading.local()

    def http_call(self, url: str, method: str, **kwargs: Any) -> Any:
        """The SDK's exchange (it calls `requests.request`, a new session and a new connection
        each time), on one `requests.Session` per pool thread, so connections are kept alive."""
        kwargs.setdefault("timeout", self._timeout)
        session: requests.Session | None = getattr(self._calls, "session", None)
        if session is None:
            session = self._calls.session = requests.Session()
        response = session.request(method, url, proxies=self.proxies, **kwargs)
        return self.handle_response(response, response.content.decode("utf-8"))

    def request(self, *args: Any, **kwargs: Any) -> Any:
        # On a 401 the SDK drops its token and calls request() again, with no limit: a PayPal
        # that keeps refusing fresh tokens would keep a pool thread busy for thousands of calls.
        depth = getattr(self._calls, "depth", 0)
        if depth >= 2:
            raise _TokenRefused("PayPal refused a freshly issued access token")
        self._calls.depth = depth + 1
        try:
            return super().request(*args, **kwargs)
        finally:
            self._calls.depth = depth


class _TokenRefused(Exception):
    """PayPal answered 401 to a request made with a token it had just issued."""


def _json_object(text: object) -> dict[str, Any]:
    try:
        data = json.loads(text) if isinstance(text, str | bytes) else text
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or error.get("error_description") or "no message")
    issues = [
        f"{d.get('field', '')}: {d.get('issue', '')}".strip(": ")
        for d in error.get("details") or []
        if isinstance(d, Mapping)
    ]
    return f"{message} ({'; '.join(issues)})" if issues else message


def _permanent(error: Mapping[str, Any], status: int | None = None) -> PermanentProviderError:
    name = str(error.get("name") or error.get("error") or f"HTTP_{status or 400}")
    return PermanentProviderError(PROVIDER, name, _error_text(error))


def _sent_before_failing(error: requests.RequestException) -> bool:
    """Did the connection fail before any of the request could be sent?"""
    if isinstance(error, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _moves_money(error: requests.RequestException) -> bool:
    """Was the failed exchange one that can create or change a payout (not a read, not the
    token)? When we cannot tell, assume it was."""
    request = error.request
    if request is None:
        return True
    return request.method != "GET" and "/v1/oauth2/token" not in str(request.url)


def _classify(error: BaseException, *, effectful: bool, what: str) -> ProviderError:
    """Our typed error for what the SDK or requests raised. `effectful` says whether the call
    could have created or changed a payout, which turns a lost answer into an unknown outcome."""
    if isinstance(error, sdk_errors.UnauthorizedAccess | _TokenRefused):
        return ProviderConfigError(PROVIDER, f"PayPal refused the client credentials ({what})")
    if isinstance(error, sdk_errors.ConnectionError) and hasattr(error.response, "status_code"):
        status = int(error.response.status_code)
        body = _json_object(error.content)
        if status == 429 or status >= 500:
            return TransientProviderError(
                PROVIDER,
                f"{what}: HTTP {status} {body.get('name', '')}".rstrip(),
                retry_after=_retry_after(error.response.headers),
            )
        if 400 <= status < 500:
            return _permanent(body, status)
        message = f"{what}: unexpected HTTP {status}"
        return (
            UnknownOutcome(PROVIDER, message)
            if effectful
            else TransientProviderError(PROVIDER, message)
        )
    if isinstance(error, requests.RequestException):
        if _sent_before_failing(error) or not (effectful and _moves_money(error)):
            return TransientProviderError(PROVIDER, f"{what}: {error!r}")
        return UnknownOutcome(PROVIDER, f"{what}: no answer ({type(error).__name__})")
    if isinstance(error, ValueError):  # a 2xx whose body is not JSON
        message = f"{what}: unreadable answer ({error})"
        return (
            UnknownOutcome(PROVIDER, message)
            if effectful
            else TransientProviderError(PROVIDER, message)
        )
    return (
        UnknownOutcome(PROVIDER, f"{what}: {error!r}")
        if effectful
        else TransientProviderError(PROVIDER, f"{what}: {error!r}")
    )


def batch_body(instruction: PayoutInstruction) -> dict[str, Any]:
    """The Payouts v1 request for one instruction: one batch, one item, ids = our payout id."""
    email = instruction.payee.email
    if not email or "@" not in email:
        raise PermanentProviderError(
            PROVIDER, "PAYEE_EMAIL_MISSING", "a PayPal payout needs the payee's PayPal email"
        )
    if not 1 <= len(instruction.payout_id) <= 256:
        raise PermanentProviderError(
            PROVIDER, "INVALID_PAYOUT_ID", "the payout id must be 1 to 256 characters"
        )
    item: dict[str, Any] = {
        "recipient_type": "EMAIL",
        "amount": {
            "value": format_amount(instruction.amount_minor, instruction.currency),
            "currency": instruction.currency.upper(),
        },
        "receiver": email,
        "note": instruction.description[:4000] or "Diamonds payout",
    }
    if len(instruction.payout_id) <= 63:
        item["sender_item_id"] = instruction.payout_id
    return {
        "sender_batch_header": {
            "sender_batch_id": instruction.payout_id,
            "recipient_type": "EMAIL",
            "email_subject": "You have a payout",
        },
        "items": [item],
    }


def duplicate_batch_id(error: Mapping[str, Any]) -> str | None:
    """The original batch's id when PayPal refused a reused sender_batch_id (its error carries a
    link to that batch), else None."""
    links: list[Any] = list(error.get("links") or [])
    for detail in error.get("details") or []:
        if isinstance(detail, Mapping):
            links.extend(detail.get("link") or detail.get("links") or [])
    for link in links:
        href = link.get("href", "") if isinstance(link, Mapping) else ""
        found = _BATCH_LINK.search(str(href))
        if found:
            return found.group(1)
    return None


def is_duplicate(error: Mapping[str, Any]) -> bool:
    """Does this error say the sender_batch_id was used before?"""
    for detail in error.get("details") or []:
        if not isinstance(detail, Mapping):
            continue
        text = f"{detail.get('field', '')} {detail.get('issue', '')}".lower()
        if "sender_batch_id" in text and ("exist" in text or "duplicate" in text):
            return True
    return str(error.get("name", "")).upper() in {"DUPLICATE_REQUEST_ID", "DUPLICATE_BATCH"}


def _failure(state: PayoutState, raw: str | None, errors: object) -> tuple[str | None, str | None]:
    if state not in _ENDED_BADLY:
        return None, None
    details = errors if isinstance(errors, Mapping) else {}
    return str(details.get("name") or raw or "") or None, details.get("message")


def result_from_batch(payout_id: str, batch: Mapping[str, Any]) -> PayoutResult:
    """Our view of a PayPal batch (as GET /v1/payments/payouts/{id} or the create call return
    it): the item's status decides, unless the batch as a whole was denied or canceled."""
    header = batch.get("batch_header") or {}
    sender_batch_id = (header.get("sender_batch_header") or {}).get("sender_batch_id")
    if sender_batch_id is not None and sender_batch_id != payout_id:
        raise PermanentProviderError(
            PROVIDER,
            "BATCH_MISMATCH",
            f"batch {header.get('payout_batch_id')} belongs to {sender_batch_id!r}, "
            f"not payout {payout_id!r}",
        )
    batch_status = header.get("batch_status")
    items = [i for i in batch.get("items") or [] if isinstance(i, Mapping)]
    item = items[0] if items else {}
    item_status = item.get("transaction_status")
    if batch_status in ("DENIED", "CANCELED") or not item_status:
        raw = batch_status
        state = BATCH_STATES.get(str(batch_status), PayoutState.UNKNOWN)
    else:
        raw = item_status
        state = ITEM_STATES.get(str(item_status), PayoutState.UNKNOWN)
    code, message = _failure(state, raw, item.get("errors"))
    return PayoutResult(
        payout_id=payout_id,
        state=state,
        provider_reference=header.get("payout_batch_id"),
        raw_status=raw,
        failure_code=code,
        failure_message=message,
    )


def _moment(raw: object, fallback: datetime) -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        return fallback
    return moment if moment.tzinfo else moment.replace(tzinfo=fallback.tzinfo)


def updates_from_event(event: Mapping[str, Any], sent_at: datetime) -> list[StatusUpdate]:
    """The status update a verified PayPal webhook event carries; none for event types that are
    not about payouts."""
    event_id = event.get("id")
    event_type = str(event.get("event_type") or "")
    resource = event.get("resource")
    if not event_id or not isinstance(resource, Mapping):
        raise WebhookVerificationError(PROVIDER, "event without an id or a resource")
    occurred_at = _moment(event.get("create_time"), sent_at)
    if event_type.startswith(_ITEM_EVENT):
        suffix = event_type.removeprefix(_ITEM_EVENT)
        state = ITEM_EVENT_STATES.get(suffix)
        if state is None:
            return []
        detail = resource.get("payout_item") or {}
        payout_id = resource.get("sender_batch_id") or detail.get("sender_item_id")
        code, message = _failure(state, resource.get("transaction_status"), resource.get("errors"))
        return [
            StatusUpdate(
                event_id=str(event_id),
                state=state,
                occurred_at=occurred_at,
                payout_id=payout_id,
                provider_reference=resource.get("payout_batch_id"),
                raw_type=event_type,
                failure_code=code or (suffix if state in _ENDED_BADLY else None),
                failure_message=message,
            )
        ]
    if event_type.startswith(_BATCH_EVENT):
        header = resource.get("batch_header") or {}
        payout_id = (header.get("sender_batch_header") or {}).get("sender_batch_id")
        if not payout_id or event_type.removeprefix(_BATCH_EVENT) not in BATCH_STATES:
            return []
        result = result_from_batch(str(payout_id), resource)
        return [
            StatusUpdate(
                event_id=str(event_id),
                state=result.state,
                occurred_at=occurred_at,
                payout_id=result.payout_id,
                provider_reference=result.provider_reference,
                raw_type=event_type,
                failure_code=result.failure_code,
                failure_message=result.failure_message,
            )
        ]
    return []


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}$")


def paypal_email(raw: str) -> str:
    """The PayPal account's email address, lower-cased, or `InvalidFieldValue`."""
    if len(raw) > 254 or not _EMAIL.match(raw):
        raise InvalidFieldValue("this is not an email address", "INVALID_EMAIL")
    return raw.lower()


class PayPalProvider(PayoutProvider):
    """Payouts through PayPal. Every SDK call runs in the provider's own thread pool
    (`config.threads`), each HTTP exchange bounded by `config.timeout_seconds` and each call by
    twice that plus a second; a call waiting for a free thread longer than the timeout is a
    transient error (nothing was sent)."""

    slug: ClassVar[str] = PROVIDER
    currencies: ClassVar[frozenset[str]] = frozenset(_CURRENCIES)
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.LOOKUP, Capability.CANCEL, Capability.WEBHOOKS, Capability.RECONCILE}
    )
    idempotency_window: ClassVar[timedelta | None] = timedelta(days=30)
    """PayPal refuses a reused sender_batch_id for 30 days; after that it would pay again."""
    payee_fields: ClassVar[Sequence[PayeeField]] = (
        PayeeField("email", "PayPal email address", check=paypal_email, max_length=254),
    )
    required_env: ClassVar[Sequence[str]] = (
        "DIAMONDS_PAYPAL_CLIENT_ID",
        "DIAMONDS_PAYPAL_CLIENT_SECRET",
    )

    def __init__(self, config: PayPalConfig) -> None:
        self.config = config
        # mode only picks a default endpoint (we always give one) and whether the SDK logs whole
        # requests, bearer token included, at DEBUG: "live" keeps credentials out of the logs.
        self._api = _TimedApi(
            timeout=config.timeout_seconds,
            mode="live",
            client_id=config.client_id,
            client_secret=config.client_secret,
            endpoint=config.api_base,
            token_endpoint=config.api_base,
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.threads, thread_name_prefix="paypal"
        )
        self._slots = asyncio.Semaphore(config.threads)
        self._bucket = (
            TokenBucket(config.requests_per_second) if config.requests_per_second else None
        )
        self._deadline = config.timeout_seconds * 2 + 1.0
        self._verifier = WebhookVerifier(
            webhook_id=config.webhook_id,
            cert_hosts=config.cert_hosts,
            tolerance_seconds=config.webhook_tolerance_seconds,
            timeout_seconds=config.timeout_seconds,
        )
        self._unsettled: BoundedCache[str, tuple[PayoutInstruction, float]] = BoundedCache(
            MAX_REMEMBERED
        )
        """Instructions sent without learning their batch id (timeouts, dropped connections)."""
        self._batch_ids: BoundedCache[str, str] = BoundedCache(MAX_REMEMBERED)
        """Batch ids learned, by payout id, so a lookup without one still finds the batch."""
        self._closed = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PayPalProvider:
        return cls(PayPalConfig.from_env(env))

    # -- the verbs -------------------------------------------------------------------------

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        body = batch_body(instruction)
        self._remember(instruction)
        try:
            result = await self._create(instruction, body)
        except (PermanentProviderError, ProviderConfigError):
            self._unsettled.pop(instruction.payout_id)
            raise
        # Anything else (transient, unknown, cancelled) leaves it for lookup() to re-submit.
        self._unsettled.pop(instruction.payout_id)
        if result.provider_reference:
            self._batch_ids.put(instruction.payout_id, result.provider_reference)
        log.info(
            "paypal payout %s: batch %s is %s (%s)",
            instruction.payout_id,
            result.provider_reference,
            result.state,
            result.raw_status,
        )
        return result

    async def lookup(
        self, payout_id: str, provider_reference: str | None, *, reclaim: bool = True
    ) -> PayoutResult:
        """By batch id when we have it. An UNCLAIMED item is canceled first (`reclaim`), so that
        its money is back before we report it RETURNED: it cannot be both claimed and refunded.
        Without a batch id: PayPal offers no search by sender_batch_id;
        what it offers is refusing a reused one with a link to the original batch. So an
        instruction this provider sent without learning its batch id is re-submitted (it cannot
        pay twice): the answer is the original batch, or the batch created now if the first
        attempt never arrived. Otherwise the answer is UNKNOWN: re-submit the instruction."""
        provider_reference = provider_reference or self._batch_ids.get(payout_id)
        if provider_reference:
            batch = await self._fetch_batch(provider_reference)
            result = result_from_batch(payout_id, batch)
            if reclaim and result.raw_status == "UNCLAIMED":
                return await self._reclaim(payout_id, provider_reference, result)
            return result
        remembered = self._unsettled.get(payout_id)
        if remembered is not None:
            instruction, first_sent = remembered
            if time.monotonic() - first_sent < SENDER_BATCH_ID_WINDOW_SECONDS:
                try:
                    return await self.submit(instruction)
                except UnknownOutcome as error:
                    raise TransientProviderError(PROVIDER, str(error)) from error
        # Nothing to ask PayPal about, but bad credentials should still surface as such.
        await self._run(self._api.get_access_token, effectful=False, what="get a token")
        return PayoutResult(
            payout_id=payout_id,
            state=PayoutState.UNKNOWN,
            failure_message=(
                "PayPal cannot look a batch up by sender_batch_id: submit the same instruction "
                "again (safe for 30 days) to learn the batch it created"
            ),
        )

    async def cancel(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        """Cancel the payout's item; PayPal allows it only while the item is UNCLAIMED, and
        returns the money (the item becomes RETURNED)."""
        if not provider_reference:
            raise PermanentProviderError(
                PROVIDER, "BATCH_ID_REQUIRED", "look the payout up first: cancel needs its batch id"
            )
        batch = await self._fetch_batch(provider_reference)
        result_from_batch(payout_id, batch)  # refuses a batch that is not this payout's
        item_ids = [i.get("payout_item_id") for i in batch.get("items") or []]
        if not item_ids or not item_ids[0] or not _REFERENCE.match(str(item_ids[0])):
            raise PermanentProviderError(PROVIDER, "NO_ITEM", "the batch has no item to cancel")
        answer = await self._run(
            partial(self._cancel_item, str(item_ids[0])), effectful=True, what="cancel"
        )
        if "error" in answer:
            raise _permanent(answer["error"])
        return await self.lookup(payout_id, provider_reference, reclaim=False)

    async def _reclaim(
        self, payout_id: str, provider_reference: str, unclaimed: PayoutResult
    ) -> PayoutResult:
        """Take an unclaimed payment back. If the receiver claimed it meanwhile, say what it is
        now; if PayPal will not cancel it yet, it is still pending."""
        try:
            return await self.cancel(payout_id, provider_reference)
        except PermanentProviderError:
            now = await self.lookup(payout_id, provider_reference, reclaim=False)
            if now.raw_status == "UNCLAIMED":
                return replace(unclaimed, state=PayoutState.PENDING)
            return now

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """Verify the delivery's signature, then read its event. A verified body that is not an
        event we can read raises `UnappliableWebhook` (PayPal signed it: asking again would
        bring the same body)."""
        sent_at = await self._verifier.verify(headers, body)
        try:
            event = json.loads(body)
        except ValueError:
            raise UnappliableWebhook.of_body(PROVIDER, body, "the body is not JSON") from None
        if not isinstance(event, Mapping):
            raise UnappliableWebhook.of_body(PROVIDER, body, "the body is not a JSON object")
        try:
            return updates_from_event(event, sent_at)
        except (AttributeError, TypeError, ValueError, WebhookVerificationError) as exc:
            raise UnappliableWebhook.of_body(
                PROVIDER, body, f"not a PayPal event: {exc}", event.get("id")
            ) from None

    RECORDS_PAGE_SIZE: ClassVar[int] = 1000
    """Items per page when reading a batch (PayPal's largest page)."""

    async def settled_records(
        self, since: datetime, until: datetime, *, references: Sequence[str] = ()
    ) -> AsyncIterator[ProviderRecord]:
        """Every item of the batches named by `references` (the payout_batch_ids our payouts of
        the period recorded), read with GET /v1/payments/payouts/{id}?page=&page_size=
        &total_required=true, page after page. PayPal's Payouts API lists no batches by date, so
        the caller names them; each batch is read whole, whatever its dates (`since` and `until`
        only bound the period the caller chose them for). A batch PayPal does not know
        (`INVALID_RESOURCE_ID`) gives no record: to the caller, that payout is missing.

        Then transaction search (GET /v1/reporting/transactions, 31 days a request, 500 a
        page) for payouts initiated in the period that none of those batches holds: money that
        left without a payout of ours. An account without the reporting permission (403, 404)
        skips this part, with a warning."""
        if since.tzinfo is None or until.tzinfo is None or not since < until:
            raise ValueError("the period needs time-zone-aware bounds, since before until")
        seen: set[str] = set()
        async for record in self._batch_records(references):
            transaction = record.raw.get("transaction_id")
            if isinstance(transaction, str):
                seen.add(transaction)
            yield record
        async for record in self._searched_records(since, until):
            if record.provider_reference not in seen:
                yield record

    SEARCH_WINDOW: ClassVar[timedelta] = timedelta(days=31)
    SEARCH_PAGE_SIZE: ClassVar[int] = 500

    async def _searched_records(
        self, since: datetime, until: datetime
    ) -> AsyncIterator[ProviderRecord]:
        start = since
        while start < until:
            end = min(until, start + self.SEARCH_WINDOW)
            page = 1
            while True:
                query = urllib.parse.urlencode(
                    {
                        "start_date": start.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "end_date": end.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "fields": "transaction_info",
                        "page_size": self.SEARCH_PAGE_SIZE,
                        "page": page,
                    }
                )
                try:
                    answer = await self._run(
                        partial(self._get_path, f"v1/reporting/transactions?{query}"),
                        effectful=False,
                        what=f"search transactions p{page}",
                    )
                    if "error" in answer:
                        raise _permanent(answer["error"])
                except PermanentProviderError as error:
                    if error.code in SEARCH_UNAVAILABLE:
                        log.warning("paypal: transaction search is not available: %s", error)
                        return
                    raise
                found = answer["body"]
                for record in records_from_transactions(found, since, until):
                    yield record
                if page >= int(found.get("total_pages") or 1):
                    break
                page += 1
            start = end

    async def _batch_records(self, references: Sequence[str]) -> AsyncIterator[ProviderRecord]:
        for batch_id in dict.fromkeys(references):
            page = 1
            while True:
                try:
                    batch = await self._fetch_batch_page(batch_id, page)
                except PermanentProviderError as error:
                    if error.code == "INVALID_RESOURCE_ID":
                        log.warning("paypal: batch %s is not known to PayPal", batch_id)
                        break
                    raise
                for record in records_from_batch(batch):
                    yield record
                if page >= int(batch.get("total_pages") or 1):
                    break
                page += 1

    async def _fetch_batch_page(self, batch_id: str, page: int) -> dict[str, Any]:
        if not _REFERENCE.match(batch_id):
            raise PermanentProviderError(
                PROVIDER, "INVALID_REFERENCE", f"{batch_id!r} is not a PayPal batch id"
            )
        path = (
            f"v1/payments/payouts/{batch_id}?page={page}&page_size={self.RECORDS_PAGE_SIZE}"
            "&total_required=true"
        )
        answer = await self._run(
            partial(self._get_path, path), effectful=False, what=f"get batch {batch_id} p{page}"
        )
        if "error" in answer:
            raise _permanent(answer["error"])
        found: dict[str, Any] = answer["body"]
        return found

    async def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        await self._verifier.close()

    # -- the calls -------------------------------------------------------------------------

    async def _create(self, instruction: PayoutInstruction, body: dict[str, Any]) -> PayoutResult:
        answer = await self._run(
            partial(self._post_batch, body, instruction.idempotency_key),
            effectful=True,
            what=f"create batch for payout {instruction.payout_id}",
        )
        if "created" in answer:
            created = answer["created"]
            return result_from_batch(
                instruction.payout_id, {"batch_header": created.get("batch_header") or {}}
            )
        error = answer["error"]
        batch_id = duplicate_batch_id(error)
        if batch_id is None:
            if is_duplicate(error):
                raise UnknownOutcome(
                    PROVIDER,
                    f"PayPal says payout {instruction.payout_id} was sent before but gave no "
                    "link to its batch",
                )
            raise _permanent(error)
        log.info("paypal payout %s was sent before: batch %s", instruction.payout_id, batch_id)
        batch = await self._fetch_batch(batch_id)
        self._warn_if_different(instruction, body, batch)
        return result_from_batch(instruction.payout_id, batch)

    async def _fetch_batch(self, batch_id: str) -> dict[str, Any]:
        if not _REFERENCE.match(batch_id):
            raise PermanentProviderError(
                PROVIDER, "INVALID_REFERENCE", f"{batch_id!r} is not a PayPal batch id"
            )
        answer = await self._run(
            partial(self._get_batch, batch_id), effectful=False, what=f"get batch {batch_id}"
        )
        if "error" in answer:
            raise _permanent(answer["error"])
        batch: dict[str, Any] = answer["batch"]
        return batch

    async def _run(self, call: Callable[[], T], *, effectful: bool, what: str) -> T:
        """Run one SDK call in the pool, bounded in time, with its failures typed."""
        if self._closed:
            raise ProviderConfigError(PROVIDER, "the provider is closed")
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                await self._slots.acquire()
                if self._bucket is not None:
                    try:
                        await self._bucket.take()
                    except BaseException:
                        self._slots.release()
                        raise
        except TimeoutError:
            raise TransientProviderError(
                PROVIDER, f"all {self.config.threads} PayPal threads are busy; {what} not sent"
            ) from None
        loop = asyncio.get_running_loop()
        try:
            future = self._executor.submit(call)
        except RuntimeError:
            self._slots.release()
            raise ProviderConfigError(PROVIDER, "the provider is closed") from None
        # The slot is freed when the thread is done, not when we stop waiting for it.
        future.add_done_callback(lambda _: _call_soon(loop, self._slots.release))
        try:
            async with asyncio.timeout(self._deadline):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            message = f"{what}: no answer within {self._deadline:.1f}s"
            if effectful:
                raise UnknownOutcome(PROVIDER, message) from None
            raise TransientProviderError(PROVIDER, message) from None
        except ProviderError:
            raise
        except Exception as error:
            raise _classify(error, effectful=effectful, what=what) from error

    def _post_batch(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        payout = paypalrestsdk.Payout(body, api=self._api)
        payout.request_id = request_id  # sent as PayPal-Request-Id
        if payout.create():
            return {"created": payout.to_dict()}
        return {"error": _json_object(payout.error)}

    # Payout.find and PayoutItem.cancel build their URLs with util.join_url, which on Python 3.7+
    # repeats the id after the class path's trailing slash (`/payouts/ID/ID`); the SDK's Api
    # verbs with a path we build ourselves are the same calls, correctly addressed.

    def _get_batch(self, batch_id: str) -> dict[str, Any]:
        answer = self._api.get(f"v1/payments/payouts/{batch_id}")
        if isinstance(answer, Mapping) and "error" in answer:
            return {"error": _json_object(answer["error"])}
        return {"batch": dict(answer)}

    def _get_path(self, path: str) -> dict[str, Any]:
        """GET a path of ours: `{"body": ...}`, or `{"error": ...}`."""
        answer = self._api.get(path)
        if isinstance(answer, Mapping) and "error" in answer:
            return {"error": _json_object(answer["error"])}
        return {"body": dict(answer)}

    def _cancel_item(self, item_id: str) -> dict[str, Any]:
        answer = self._api.post(f"v1/payments/payouts-item/{item_id}/cancel", {})
        if isinstance(answer, Mapping) and "error" in answer:
            return {"error": _json_object(answer["error"])}
        return {"item": dict(answer)}

    # -- bookkeeping -----------------------------------------------------------------------

    def _remember(self, instruction: PayoutInstruction) -> None:
        """Keep an instruction until PayPal's answer about it is known; its first sending time
        bounds how long re-submitting it stays safe."""
        earlier = self._unsettled.get(instruction.payout_id)
        first_sent = time.monotonic() if earlier is None else earlier[1]
        self._unsettled.put(instruction.payout_id, (instruction, first_sent))

    @staticmethod
    def _warn_if_different(
        instruction: PayoutInstruction, body: Mapping[str, Any], batch: Mapping[str, Any]
    ) -> None:
        items = batch.get("items") or []
        if not items:
            return
        sent = body["items"][0]
        found = items[0].get("payout_item") or {}
        if found.get("amount") != sent["amount"] or found.get("receiver") != sent["receiver"]:
            log.error(
                "paypal payout %s: the batch PayPal holds under this id has a different amount "
                "or receiver than the instruction; reporting the batch PayPal holds",
                instruction.payout_id,
            )


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for the slot any more
        loop.call_soon_threadsafe(callback)
