"""A fake Stripe server for tests and local runs: real HTTP on 127.0.0.1 speaking Stripe's wire
format (form bodies, Bearer keys, Stripe-Account, Idempotency-Key), with payout state, signed
webhooks and fault injection, driven through a JSON admin API under `/__fake__`.

It keeps everything in memory. What it serves: connected accounts, balances, transfers and their
reversals, payouts (pending -> in_transit -> paid, or failed, or canceled; paid can still turn
failed), events, payment intents (coin purchases) and identity verification sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import operator
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from diamonds_fakes import stripe_objects as objects
from diamonds_fakes import stripe_params
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
from diamonds_fakes.runner import FakeOptions
from diamonds_fakes.stripe_objects import JSON, error_body, new_id, stripe_list
from diamonds_fakes.stripe_shapes import shape_errors

log = logging.getLogger(__name__)

DEFAULT_SECRET_KEY = "sk_test_fake_diamonds_0123456789"  # noqa: S105 - the fake's own test key
DEFAULT_WEBHOOK_SECRET = "whsec_fake_diamonds_0123456789"  # noqa: S105
DEFAULT_PLATFORM_BALANCE = 10**12
"""Minor units of every currency the platform starts with."""
API_VERSION = "2025-01-27.acacia"
"""The version answered when the client names none (Stripe answers the one it is sent)."""
_API_VERSION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[a-z]+)?")
PLATFORM = "platform"
MAX_IDEMPOTENCY_KEY = 255
MAX_AMOUNT = 99_999_999

PAYOUT_FAILURE_MESSAGES = {
    "account_closed": "The bank account has been closed.",
    "account_frozen": "The bank account has been frozen.",
    "bank_account_restricted": "The bank account has restrictions on payouts.",
    "could_not_process": "The bank could not process this payout.",
    "insufficient_funds": "Your Stripe account has insufficient funds to cover the payout.",
    "invalid_account_number": "The routing number seems correct, but the account number is "
    "invalid.",
    "invalid_currency": "The bank was unable to process this payout because of its currency.",
    "no_account": "The bank account details on file are probably incorrect.",
    "declined": "The bank has declined this transfer.",
}
"""Stripe's payout failure codes and their messages."""

PAYOUT_STEPS = {"pending": "in_transit", "in_transit": "paid"}
PAYOUT_FINAL = frozenset({"failed", "canceled"})
VERIFICATION_STATUSES = frozenset({"requires_input", "processing", "verified", "canceled"})


class StripeApiError(Exception):
    """An error answer in Stripe's shape. `saved` errors are kept for their idempotency key, as
    Stripe keeps the result of a request that began executing; validation errors are not."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(type_, message, code, param)
        self.saved = saved


def _missing(kind: str, id_: str) -> StripeApiError:
    return StripeApiError(
        404, f"No such {kind}: '{id_}'", code="resource_missing", param="id", saved=True
    )


def _mask(key: str) -> str:
    return key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"


# --- form and query decoding ---------------------------------------------------------------------

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def decode_params(pairs: Iterable[tuple[str, str]]) -> JSON:
    """Stripe's form encoding to nested data: `metadata[k]=v` gives `{"metadata": {"k": "v"}}`;
    `expand[]=a` and `expand[0]=a` give lists."""
    result: JSON = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        path = [head, *(_BRACKETS.findall("[" + rest) if rest else [])]
        node = result
        for part in path[:-1]:
            key = part or str(len(node))
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1] or str(len(node))] = value
    listed = _listify(result)
    assert isinstance(listed, dict)
    return listed


def _listify(node: Any) -> Any:
    """Turn every dict whose keys are all indexes (`0`, `1`, ...) into a list, in index order."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def _fingerprint(method: str, path: str, params: JSON) -> str:
    return json.dumps([method, path, params], sort_keys=True)


# --- parameter readers ---------------------------------------------------------------------------


def _param_str(params: JSON, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise StripeApiError(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    if not isinstance(value, str):
        raise StripeApiError(
            400, f"Invalid {name}: must be a string", code="parameter_invalid", param=name
        )
    return value


def _required_str(params: JSON, name: str) -> str:
    value = _param_str(params, name, required=True)
    if value is None:  # _param_str raised already; this keeps the type narrow
        raise StripeApiError(400, f"Missing required param: {name}.", param=name)
    return value


def _param_amount(params: JSON, name: str = "amount") -> int | None:
    raw = _param_str(params, name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise StripeApiError(
            400, "Invalid integer: " + raw, code="parameter_invalid_integer", param=name
        )
    amount = int(raw)
    if amount < 1:
        raise StripeApiError(400, "Amount must be at least 1", code="amount_too_small", param=name)
    if amount > MAX_AMOUNT:
        raise StripeApiError(
            400, f"Amount must be no more than {MAX_AMOUNT}", code="amount_too_large", param=name
        )
    return amount


def _required_amount(params: JSON) -> int:
    _required_str(params, "amount")
    amount = _param_amount(params)
    assert amount is not None
    return amount


def _param_currency(params: JSON, name: str = "currency") -> str | None:
    """The currency, lower case (`stripe_params` has refused any Stripe does not take)."""
    raw = _param_str(params, name)
    return None if raw is None else raw.lower()


def _required_currency(params: JSON) -> str:
    _required_str(params, "currency")
    currency = _param_currency(params)
    assert currency is not None
    return currency


def _param_metadata(params: JSON) -> dict[str, str]:
    raw = params.get("metadata", {})
    if raw == "":
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise StripeApiError(
            400,
            "Invalid metadata: must be a hash of strings",
            code="parameter_invalid",
            param="metadata",
        )
    if len(raw) > 50:
        raise StripeApiError(400, "Metadata may have at most 50 keys", param="metadata")
    return dict(raw)


# --- state ---------------------------------------------------------------------------------------


@dataclass
class Account:
    """A Stripe account held by the fake: the platform or a connected account."""

    id: str
    body: JSON
    available: dict[str, int] = field(default_factory=dict)
    default_balance: int = 0
    """The balance of a currency this account has not touched yet."""
    payout_failure_code: str | None = None
    """Every payout on this account fails with this code when it advances on its own."""
    fail_after_paid: bool = False
    """Every payout on this account turns failed after it is paid (advancing on its own)."""
    payout_fee_bps: int = 0
    """The fee on each payout from this account, in basis points of its amount (rounded up),
    booked on the payout's balance transaction; 0 like Stripe's standard payouts."""


@dataclass
class IdempotentResult:
    fingerprint: str
    status: int
    body: bytes
    request_id: str
    finished: bool = False


@dataclass
class Delivery:
    """One webhook delivery attempt series."""

    event_id: str
    event_type: str
    url: str
    status: int | None = None
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> JSON:
        return {
            "event": self.event_id,
            "type": self.event_type,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True)
class LoggedRequest:
    """An API request as the fake saw it (for tests: which keys and accounts were sent)."""

    method: str
    path: str
    idempotency_key: str | None
    stripe_account: str | None


Handler = Callable[[web.Request, JSON], Awaitable[tuple[int, JSON]]]

REQUEST_ID = web.RequestKey("request_id", str)
SAVED = web.ResponseKey("saved", bool)
"""Whether an answer is kept for its Idempotency-Key."""


class FakeStripe:
    """The fake Stripe server. Use it as `async with FakeStripe() as fake:` (which listens on an
    ephemeral port of 127.0.0.1; `fake.url` is the API base), or `await fake.start(host, port)`.

    `webhook_urls` receive every event, signed with `webhook_secret`. With
    `auto_advance_seconds`, each payout takes one step (pending -> in_transit -> paid) every that
    many seconds; without it, payouts move only when told (`advance_payout`, or the admin API).
    """

    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_urls: Sequence[str] = (),
        auto_advance_seconds: float | None = None,
        platform_balance: int = DEFAULT_PLATFORM_BALANCE,
        fault_seed: int | None = None,
        webhook_concurrency: int = 4,
    ) -> None:
        if auto_advance_seconds is not None and not (
            math.isfinite(auto_advance_seconds) and auto_advance_seconds > 0
        ):
            raise ValueError(f"auto_advance_seconds must be positive, got {auto_advance_seconds}")
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.webhook_urls: list[str] = list(webhook_urls)
        self.auto_advance_seconds = auto_advance_seconds
        self.faults = FaultInjector(fault_seed)
        self.platform = Account(PLATFORM, {}, default_balance=platform_balance)
        self.accounts: dict[str, Account] = {}
        self.transfers: dict[str, JSON] = {}
        self.payouts: dict[str, JSON] = {}
        self.balance_transactions: dict[str, JSON] = {}
        self.balance_accounts: dict[str, str] = {}
        """The account (or PLATFORM) each balance transaction belongs to."""
        self.disagreements = Disagreements()
        self.clock_offset_seconds = 0
        """Added to the real time for every `created`: tests move the fake's clock with it."""
        self.payout_accounts: dict[str, str] = {}
        self.account_payouts: dict[str, list[str]] = {}
        """The payout ids of each account (or PLATFORM), oldest first: lists read only these."""
        self.events: list[JSON] = []
        self.payment_intents: dict[str, JSON] = {}
        self.verification_sessions: dict[str, JSON] = {}
        self.verified_outputs: dict[str, JSON] = {}
        """Each verified session's `verified_outputs`, shown only when a request expands it."""
        self.shape_violations: list[str] = []
        """Every answer or event that left Stripe's published shape (answered as a 500)."""
        self.deliveries: list[Delivery] = []
        self.requests = 0
        self.request_log: deque[LoggedRequest] = deque(maxlen=100_000)
        self._idempotency: dict[tuple[str, str], IdempotentResult] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._webhook_concurrency = webhook_concurrency
        self._queue: asyncio.Queue[tuple[JSON, Delivery]] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.app = self._make_app()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host:port` (0 picks a free port); returns the API base URL."""
        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._workers = [
            asyncio.create_task(self._deliver_forever()) for _ in range(self._webhook_concurrency)
        ]
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a URL to print
        self.url = f"http://{shown}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        self.faults.release()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def environment(self) -> dict[str, str]:
        """The variables that point the Diamonds service (and `StripeConfig.from_env`) here."""
        return {
            "DIAMONDS_STRIPE_API_BASE": self.url,
            "DIAMONDS_STRIPE_API_KEY": self.secret_key,
            "DIAMONDS_STRIPE_WEBHOOK_SECRET": self.webhook_secret,
        }

    async def __aenter__(self) -> FakeStripe:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- Python control (the admin API calls these too) ------------------------------------------

    def create_account(
        self,
        *,
        country: str = "US",
        currency: str = "usd",
        email: str | None = None,
        payouts_enabled: bool = True,
        past_due: Sequence[str] = (),
        balance: int = 0,
        payout_failure_code: str | None = None,
        fail_after_paid: bool = False,
        metadata: Mapping[str, str] | None = None,
        type_: str = "express",
        payout_fee_bps: int = 0,
    ) -> str:
        """A connected account able to receive transfers; returns its `acct_...` id."""
        if payout_failure_code is not None and payout_failure_code not in PAYOUT_FAILURE_MESSAGES:
            raise ValueError(f"unknown payout failure code {payout_failure_code!r}")
        id_ = new_id("acct")
        currency = currency.lower()
        body = objects.account(
            id_=id_,
            country=country.upper(),
            email=email,
            created=self.now(),
            default_currency=currency,
            external_account=new_id("ba"),
            payouts_enabled=payouts_enabled,
            past_due=past_due,
            metadata=metadata or {},
            type_=type_,
        )
        self.accounts[id_] = Account(
            id_,
            body,
            {currency: balance},
            payout_failure_code=payout_failure_code,
            fail_after_paid=fail_after_paid,
            payout_fee_bps=payout_fee_bps,
        )
        return id_

    def update_account(
        self,
        account_id: str,
        *,
        payouts_enabled: bool | None = None,
        past_due: Sequence[str] | None = None,
        payout_failure_code: str | None = None,
        fail_after_paid: bool | None = None,
        clear_failure: bool = False,
    ) -> JSON:
        acct = self._account(account_id)
        if payouts_enabled is not None:
            acct.body["payouts_enabled"] = payouts_enabled
        if past_due is not None:
            acct.body["requirements"] = objects._requirements(past_due)
        if payout_failure_code is not None:
            if payout_failure_code not in PAYOUT_FAILURE_MESSAGES:
                raise ValueError(f"unknown payout failure code {payout_failure_code!r}")
            acct.payout_failure_code = payout_failure_code
        if clear_failure:
            acct.payout_failure_code = None
        if fail_after_paid is not None:
            acct.fail_after_paid = fail_after_paid
        return acct.body

    def balance_of(self, account_id: str | None, currency: str = "usd") -> int:
        """Available balance of a connected account (None: the platform)."""
        acct = self.platform if account_id is None else self._account(account_id)
        return acct.available.get(currency.lower(), acct.default_balance)

    def payouts_with(self, key: str, value: str) -> list[JSON]:
        """Every payout whose metadata has `key` = `value` (e.g. our payout id)."""
        return [p for p in self.payouts.values() if p["metadata"].get(key) == value]

    def transfers_with(self, transfer_group: str) -> list[JSON]:
        return [t for t in self.transfers.values() if t["transfer_group"] == transfer_group]

    def events_about(self, object_id: str, type_: str | None = None) -> list[JSON]:
        """Events whose object is `object_id`, oldest first, optionally of one type."""
        return [
            e
            for e in self.events
            if e["data"]["object"].get("id") == object_id and (type_ is None or e["type"] == type_)
        ]

    def add_fault(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def advance_payout(
        self, payout_id: str, status: str | None = None, failure_code: str | None = None
    ) -> JSON:
        """Move a payout on: to `status` if given, else one step (pending -> in_transit -> paid,
        failing instead when its account says so). Emits the events Stripe would."""
        payout = self.payouts.get(payout_id)
        if payout is None:
            raise KeyError(f"no payout {payout_id}")
        acct = self._account_or_platform(self.payout_accounts[payout_id])
        current = payout["status"]
        if status is None:
            if (current == "paid" and acct.fail_after_paid) or (
                current == "in_transit" and acct.payout_failure_code is not None
            ):
                status = "failed"
            else:
                status = PAYOUT_STEPS.get(current, current)
        if status == current:
            return payout
        allowed = {
            "pending": {"in_transit", "paid", "failed", "canceled"},
            "in_transit": {"paid", "failed"},
            "paid": {"failed"},
        }.get(current, set())
        if status not in allowed:
            raise ValueError(f"payout {payout_id} cannot go from {current} to {status}")
        previous: JSON = {"status": current}
        payout["status"] = status
        if status == "failed":
            code = failure_code or acct.payout_failure_code or "account_closed"
            if code not in PAYOUT_FAILURE_MESSAGES:
                raise ValueError(f"unknown payout failure code {code!r}")
            previous.update(failure_code=None, failure_message=None)
            payout["failure_code"] = code
            payout["failure_message"] = PAYOUT_FAILURE_MESSAGES[code]
            payout["failure_balance_transaction"] = new_id("txn")
            self._book(
                acct.id,
                payout["failure_balance_transaction"],
                "payout_failure",
                payout,
                payout["amount"],
                0,
            )
            self._credit(acct, payout["currency"], payout["amount"])
        if status == "canceled":
            self._credit(acct, payout["currency"], payout["amount"])
        if status == "paid":
            payout["reconciliation_status"] = "completed"
            payout["trace_id"] = {"status": "supported", "value": new_id("trace")[6:]}
        account_id = None if acct is self.platform else acct.id
        self._emit("payout.updated", payout, account_id, previous_attributes=previous)
        if status in ("paid", "failed", "canceled"):
            self._emit(f"payout.{status}", payout, account_id)
        self._schedule(payout_id)
        return payout

    def succeed_payment_intent(self, intent_id: str) -> JSON:
        intent = self._payment_intent(intent_id)
        if intent["status"] == "succeeded":
            raise ValueError(f"payment intent {intent_id} has already succeeded")
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            latest_charge=new_id("ch"),
            payment_method=new_id("pm"),
            last_payment_error=None,
        )
        self._credit(self.platform, intent["currency"], intent["amount"])
        self._emit("payment_intent.succeeded", intent, None)
        return intent

    def fail_payment_intent(self, intent_id: str, code: str = "card_declined") -> JSON:
        intent = self._payment_intent(intent_id)
        if intent["status"] == "succeeded":
            raise ValueError(f"payment intent {intent_id} has already succeeded")
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "type": "card_error",
                "code": code,
                "message": "Your card was declined.",
            },
        )
        self._emit("payment_intent.payment_failed", intent, None)
        return intent

    def set_verification_status(
        self,
        session_id: str,
        status: str,
        error_code: str | None = None,
        verified_outputs: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Move an identity verification session to `status` (`verified`, `requires_input` with
        an error code, `processing`, `canceled`) and emit its event. A verified session keeps
        `verified_outputs` (what the document showed: `first_name`, `last_name`, `dob` as
        `{day, month, year}`, `address`, ...; see `objects.verified_outputs`), which requests
        see with `expand[]=verified_outputs` (and `verified_outputs.dob` for the date of birth)."""
        session = self.verification_sessions.get(session_id)
        if session is None:
            raise KeyError(f"no verification session {session_id}")
        if status not in VERIFICATION_STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(VERIFICATION_STATUSES))}")
        if session["status"] in ("verified", "canceled"):
            raise ValueError(f"verification session {session_id} is already {session['status']}")
        if verified_outputs is not None and status != "verified":
            raise ValueError("only a verified session has verified outputs")
        outputs = None if status != "verified" else objects.verified_outputs(verified_outputs or {})
        session["status"] = status
        if outputs is not None:
            self.verified_outputs[session_id] = outputs
        if status == "verified":
            session["last_verification_report"] = new_id("vr")
            session["last_error"] = None
        elif status == "requires_input":
            code = error_code or "document_unverified_other"
            session["last_error"] = {"code": code, "reason": "The document could not be verified."}
        self._emit(f"identity.verification_session.{status}", session, None)
        return session

    def sign(self, body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
        """A `Stripe-Signature` header for `body`: `t=<unix time>,v1=<hex HMAC-SHA256 of
        "<t>.<body>" keyed with the endpoint secret>`."""
        t = int(time.time()) if timestamp is None else timestamp
        key = (secret or self.webhook_secret).encode()
        digest = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={t},v1={digest}"

    def webhook_delivery(
        self, event: JSON, *, secret: str | None = None, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body the fake would POST for `event`."""
        body = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": self.sign(body, secret=secret, timestamp=timestamp),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return headers, body

    async def wait_for_deliveries(self) -> None:
        """Return once every queued webhook delivery has been attempted."""
        if self._queue is not None:
            await self._queue.join()

    def resend(self, event_id: str) -> JSON:
        """Deliver an event again to every webhook URL (Stripe's "resend")."""
        for event in self.events:
            if event["id"] == event_id:
                self._enqueue(event)
                return event
        raise KeyError(f"no event {event_id}")

    def now(self) -> int:
        """The fake's clock, in Unix seconds: the real time plus `clock_offset_seconds`."""
        return int(time.time()) + self.clock_offset_seconds

    def pay_out(
        self,
        account_id: str,
        amount: int,
        currency: str,
        payout_id: str,
        *,
        metadata: Mapping[str, str] | None = None,
        status: str = "paid",
    ) -> JSON:
        """Seed what `StripeProvider.submit` and the settlement after it leave, without HTTP: a
        transfer to `account_id` (`transfer_group` = our `payout_id`) and the payout made from
        it on that account (`metadata.payout_id`, `metadata.transfer`), moved on to `status`
        (`pending`, `in_transit` or `paid`) with the events Stripe sends. Returns the payout;
        for benchmarks that need thousands of them."""
        acct = self._account(account_id)
        currency = currency.lower()
        described = f"Payout {payout_id}"
        tagged = {**dict(metadata or {}), "payout_id": payout_id}
        transfer = self._make_transfer(
            amount,
            currency,
            account_id,
            description=described,
            metadata=tagged,
            transfer_group=payout_id,
        )
        payout = self._make_payout(
            acct,
            amount,
            currency,
            description=described,
            metadata={**tagged, "transfer": transfer["id"]},
        )
        for step in ("in_transit", "paid"):
            if payout["status"] == status:
                break
            self.advance_payout(payout["id"], step)
        return payout

    def add_disagreement(self, disagreement: Disagreement) -> Disagreement:
        """Make the lists disagree with what happened. `drop`, `amount` and `status` name our
        payout id (a transfer's `transfer_group`, a payout's `metadata.payout_id`); `extra`
        makes a paid payout of `amount` on the connected account `target` that we never asked
        for (no metadata), now."""
        if disagreement.kind is DisagreementKind.EXTRA:
            acct = self._account(disagreement.target)
            assert disagreement.amount is not None
            currency = acct.body["default_currency"]
            id_ = new_id("po")
            created = self.now()
            payout = objects.payout(
                id_=id_,
                amount=disagreement.amount,
                currency=currency,
                destination=acct.body["external_accounts"]["data"][0]["id"],
                created=created,
                arrival_date=created,
                description="STRIPE PAYOUT",
                metadata={},
                statement_descriptor=None,
                method="standard",
            )
            payout.update(status="paid", reconciliation_status="completed")
            self.payouts[id_] = payout
            self.payout_accounts[id_] = acct.id
            self.account_payouts.setdefault(acct.id, []).append(id_)
            self._book(
                acct.id, payout["balance_transaction"], "payout", payout, -disagreement.amount, 0
            )
        return self.disagreements.add(disagreement)

    def payout_view(self, payout: JSON) -> JSON | None:
        """A payout as the lists show it, after the disagreements (None: dropped)."""
        payout_id = payout["metadata"].get("payout_id")
        if self.disagreements.dropped(payout_id):
            return None
        amount = self.disagreements.amount(payout_id, payout["amount"])
        status = self.disagreements.status(payout_id, payout["status"])
        if amount == payout["amount"] and status == payout["status"]:
            return payout
        return {**payout, "amount": amount, "status": status}

    def _book(
        self, account_id: str, id_: str, type_: str, source: JSON, amount: int, fee: int
    ) -> JSON:
        """A balance transaction on `account_id` (PLATFORM or acct_...): `amount` is signed (a
        payout is negative), `fee` is what Stripe kept on top, `net` = amount - fee."""
        created = int(source["created"])
        booked = objects.balance_transaction(
            id_=id_,
            amount=amount,
            fee=fee,
            currency=source["currency"],
            created=created,
            available_on=int(source.get("arrival_date") or created),
            source=source["id"],
            type_=type_,
            description=source.get("description"),
        )
        self.balance_transactions[id_] = booked
        self.balance_accounts[id_] = account_id
        return booked

    def _expand(self, body: JSON, paths: Sequence[str]) -> JSON:
        """`body` with the `expand[]` paths (already checked as expandable there) filled in: an
        id becomes the object it names, `data.x` expands `x` in each item of a list, and a
        session gains its `verified_outputs`. A copy: never the stored objects."""
        if not paths:
            return body
        copy: JSON = json.loads(json.dumps(body))
        items = copy["data"] if copy.get("object") == "list" else [copy]
        for path in paths:
            field_ = path.removeprefix("data.") if copy.get("object") == "list" else path
            for item in items:
                if field_.startswith("verified_outputs"):
                    item["verified_outputs"] = self._outputs_shown(item["id"], paths)
                elif isinstance(ref := item.get(field_), str):
                    item[field_] = self._object_named(ref) or ref
        return copy

    def _outputs_shown(self, session_id: str, paths: Sequence[str]) -> JSON | None:
        """A session's verified outputs as a request expanding `paths` sees them: the date of
        birth only with `verified_outputs.dob`, as Stripe keeps it out of the plain expansion."""
        outputs = self.verified_outputs.get(session_id)
        if outputs is None:
            return None
        shown = dict(outputs)
        if "verified_outputs.dob" not in paths:
            shown["dob"] = None
        return shown

    def _object_named(self, ref: str) -> JSON | None:
        if ref.startswith("txn_"):
            return self.balance_transactions.get(ref)
        if ref.startswith("tr_"):
            return self.transfers.get(ref)
        acct = self.accounts.get(ref)
        return None if acct is None else acct.body

    # --- internals -------------------------------------------------------------------------------

    def _account(self, account_id: str) -> Account:
        acct = self.accounts.get(account_id)
        if acct is None:
            raise KeyError(f"no account {account_id}")
        return acct

    def _account_or_platform(self, account_id: str) -> Account:
        return self.platform if account_id == PLATFORM else self._account(account_id)

    def _payment_intent(self, intent_id: str) -> JSON:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise KeyError(f"no payment intent {intent_id}")
        return intent

    @staticmethod
    def _credit(acct: Account, currency: str, amount: int) -> None:
        acct.available[currency] = acct.available.get(currency, acct.default_balance) + amount

    @staticmethod
    def _debit(acct: Account, currency: str, amount: int) -> None:
        have = acct.available.get(currency, acct.default_balance)
        if have < amount:
            raise StripeApiError(
                400,
                "You have insufficient funds in your Stripe account for this transfer. Your "
                f"{currency.upper()} balance is {have}.",
                code="balance_insufficient",
                saved=True,
            )
        acct.available[currency] = have - amount

    def _emit(
        self,
        type_: str,
        obj: JSON,
        account_id: str | None,
        *,
        previous_attributes: JSON | None = None,
        request: web.Request | None = None,
    ) -> JSON:
        event = objects.event(
            type_=type_,
            obj=json.loads(json.dumps(obj)),
            created=self.now(),
            account_id=account_id,
            previous_attributes=previous_attributes,
            request_id=None if request is None else request.get(REQUEST_ID),
            idempotency_key=None if request is None else request.headers.get("Idempotency-Key"),
            api_version=API_VERSION,
        )
        self._off_shape(f"the event {type_}", event)
        self.events.append(event)
        self._enqueue(event)
        return event

    def _enqueue(self, event: JSON) -> None:
        if self._queue is None:
            return
        for url in self.webhook_urls:
            delivery = Delivery(event["id"], event["type"], url)
            self.deliveries.append(delivery)
            self._queue.put_nowait((event, delivery))

    async def _deliver_forever(self) -> None:
        assert self._queue is not None
        while True:
            event, delivery = await self._queue.get()
            try:
                await self._deliver(event, delivery)
            except Exception as exc:  # a webhook receiver's failure must not stop the fake
                delivery.error = f"{type(exc).__name__}: {exc}"
            finally:
                self._queue.task_done()

    async def _deliver(self, event: JSON, delivery: Delivery, attempts: int = 3) -> None:
        """POST `event` to one URL, retrying a failed delivery a few times with short pauses
        (Stripe retries for days; the fake keeps tests short)."""
        assert self._session is not None
        for attempt in range(1, attempts + 1):
            headers, body = self.webhook_delivery(event)
            delivery.attempts = attempt
            try:
                async with self._session.post(delivery.url, data=body, headers=headers) as resp:
                    await resp.read()
                    delivery.status = resp.status
                    delivery.error = None
                    if 200 <= resp.status < 300:
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                delivery.error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.05 * 2**attempt)

    def _schedule(self, payout_id: str) -> None:
        """With a clock, take the payout's next step later."""
        if self.auto_advance_seconds is None:
            return
        payout = self.payouts[payout_id]
        acct = self._account_or_platform(self.payout_accounts[payout_id])
        if payout["status"] in PAYOUT_FINAL or (
            payout["status"] == "paid" and not acct.fail_after_paid
        ):
            self._timers.pop(payout_id, None)
            return
        loop = asyncio.get_running_loop()
        self._timers[payout_id] = loop.call_later(
            self.auto_advance_seconds, self._auto_step, payout_id
        )

    def _auto_step(self, payout_id: str) -> None:
        self._timers.pop(payout_id, None)
        try:
            self.advance_payout(payout_id)
        except ValueError:
            log.exception("fake stripe: payout %s could not advance", payout_id)

    # --- the HTTP application --------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[
                self._log_middleware,
                self._headers_middleware,
                fault_middleware(self.faults, _render_fault),
                self._stripe_middleware,
            ]
        )
        api: list[tuple[str, str, Handler]] = [
            ("POST", "/v1/accounts", self._create_account),
            ("GET", "/v1/accounts/{id}", self._get_account),
            ("GET", "/v1/balance", self._get_balance),
            ("POST", "/v1/transfers", self._create_transfer),
            ("GET", "/v1/transfers", self._list_transfers),
            ("GET", "/v1/transfers/{id}", self._get_transfer),
            ("POST", "/v1/transfers/{id}/reversals", self._create_reversal),
            ("GET", "/v1/transfers/{id}/reversals", self._list_reversals),
            ("POST", "/v1/payouts", self._create_payout),
            ("GET", "/v1/payouts", self._list_payouts),
            ("GET", "/v1/payouts/{id}", self._get_payout),
            ("POST", "/v1/payouts/{id}/cancel", self._cancel_payout),
            ("GET", "/v1/balance_transactions", self._list_balance_transactions),
            ("GET", "/v1/balance_transactions/{id}", self._get_balance_transaction),
            ("GET", "/v1/events", self._list_events),
            ("GET", "/v1/events/{id}", self._get_event),
            ("POST", "/v1/payment_intents", self._create_payment_intent),
            ("GET", "/v1/payment_intents/{id}", self._get_payment_intent),
            ("POST", "/v1/identity/verification_sessions", self._create_verification),
            ("GET", "/v1/identity/verification_sessions/{id}", self._get_verification),
            ("POST", "/v1/identity/verification_sessions/{id}/cancel", self._cancel_verification),
        ]
        for method, path, handler in api:
            endpoint = stripe_params.ENDPOINTS[(method, path)]
            app.router.add_route(method, path, self._wrap(handler, endpoint))
        app.router.add_route("*", "/v1/{tail:.*}", self._wrap(self._unknown_route, None))
        add_fault_routes(app, self.faults)
        admin = [
            ("GET", "/state", self._admin_state),
            ("POST", "/accounts", self._admin_create_account),
            ("POST", "/accounts/{id}", self._admin_update_account),
            ("POST", "/payouts/{id}/advance", self._admin_advance_payout),
            ("POST", "/payment_intents/{id}/succeed", self._admin_succeed_intent),
            ("POST", "/payment_intents/{id}/fail", self._admin_fail_intent),
            ("POST", "/identity/verification_sessions/{id}", self._admin_verification),
            ("GET", "/webhooks", self._admin_webhooks),
            ("POST", "/webhooks", self._admin_add_webhook),
            ("DELETE", "/webhooks", self._admin_clear_webhooks),
            ("POST", "/events/{id}/resend", self._admin_resend),
            ("POST", "/clock", self._admin_clock),
            ("GET", "/disagreements", self._admin_disagreements),
            ("POST", "/disagreements", self._admin_add_disagreement),
            ("DELETE", "/disagreements", self._admin_clear_disagreements),
        ]
        for method, path, admin_handler in admin:
            app.router.add_route(method, ADMIN_PREFIX + path, admin_handler)
        return app

    @web.middleware
    async def _log_middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Count and log every API request, faulted ones included."""
        if not request.path.startswith(ADMIN_PREFIX):
            self.requests += 1
            self.request_log.append(
                LoggedRequest(
                    request.method,
                    request.path,
                    request.headers.get("Idempotency-Key"),
                    request.headers.get("Stripe-Account"),
                )
            )
        return await handler(request)

    @web.middleware
    async def _headers_middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Every API answer, an injected fault's included, carries its `Request-Id` and the
        `Stripe-Version` it speaks: the one the client sent, else the fake's default."""
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        request_id = new_id("req")
        request[REQUEST_ID] = request_id
        version = request.headers.get("Stripe-Version")
        headers = {"Request-Id": request_id, "Stripe-Version": version or API_VERSION}
        if version is not None and not _API_VERSION.fullmatch(version):
            error = StripeApiError(
                400,
                f"Invalid Stripe API version: {version}. See https://docs.stripe.com/upgrades "
                "for the versions.",
            )
            return _json(400, error.body, {**headers, "Stripe-Version": API_VERSION}, saved=False)
        return _with_headers(await handler(request), headers)

    @web.middleware
    async def _stripe_middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Auth and Idempotency-Key semantics for the API (not the admin routes)."""
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        request_id = request[REQUEST_ID]
        headers: dict[str, str] = {}
        refusal = self._authenticate(request)
        if refusal is not None:
            return _json(refusal.status, refusal.body, headers)
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or key is None:
            return _with_headers(await handler(request), headers)
        if len(key) > MAX_IDEMPOTENCY_KEY:
            error = StripeApiError(
                400,
                f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters long.",
                type_="idempotency_error",
            )
            return _json(400, error.body, headers)
        scope = (request.headers.get("Stripe-Account") or PLATFORM, key)
        params = decode_params(parse_qsl(await request.text(), keep_blank_values=True))
        fingerprint = _fingerprint(request.method, request.path, params)
        seen = self._idempotency.get(scope)
        if seen is not None:
            if not seen.finished:
                error = StripeApiError(
                    409,
                    "There is currently another in-progress request using this Stripe token "
                    "(probably meaning you clicked twice), and the API could not complete the "
                    "request. Please try again later.",
                    type_="idempotency_error",
                    code="idempotency_key_in_use",
                )
                return _json(409, error.body, headers)
            if seen.fingerprint != fingerprint:
                error = StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request.",
                    type_="idempotency_error",
                )
                return _json(400, error.body, headers)
            replay = web.Response(
                status=seen.status, body=seen.body, content_type="application/json"
            )
            return _with_headers(
                replay,
                {**headers, "Idempotent-Replayed": "true", "Original-Request": seen.request_id},
            )
        record = IdempotentResult(fingerprint, 0, b"", request_id)
        self._idempotency[scope] = record
        try:
            response = await handler(request)
        except BaseException:
            del self._idempotency[scope]
            raise
        if isinstance(response, web.Response) and response.get(SAVED, True):
            record.status = response.status
            record.body = bytes(response.body) if isinstance(response.body, bytes) else b""
            record.finished = True
        else:
            del self._idempotency[scope]
        return _with_headers(response, {**headers, "Idempotency-Key": key})

    def _authenticate(self, request: web.Request) -> StripeApiError | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() == "basic":
            import base64
            import binascii

            try:
                credential = base64.b64decode(credential).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                credential = ""
        elif scheme.lower() != "bearer":
            credential = ""
        if not credential:
            return StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if not hmac.compare_digest(credential.encode(), self.secret_key.encode()):
            return StripeApiError(401, f"Invalid API Key provided: {_mask(credential)}")
        account = request.headers.get("Stripe-Account")
        if account is not None and account not in self.accounts:
            return StripeApiError(
                403,
                f"The provided key '{_mask(credential)}' does not have access to account "
                f"'{account}' (or that account does not exist). Application access may have "
                "been revoked.",
                type_="invalid_request_error",
                code="account_invalid",
            )
        return None

    def _wrap(
        self, handler: Handler, endpoint: stripe_params.Endpoint | None
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The route for `handler`: the request's parameters decoded and checked against
        `endpoint` (what Stripe takes there), `expand[]` applied to the answer, and the answer
        checked against Stripe's published shape (a 500 naming the difference if it leaves it)."""

        async def route(request: web.Request) -> web.StreamResponse:
            if request.method == "POST":
                raw = await request.text()
                if raw and request.content_type != "application/x-www-form-urlencoded":
                    error = StripeApiError(
                        400, "Invalid request: expected a form-encoded (x-www-form-urlencoded) body"
                    )
                    return _json(400, error.body, saved=False)
                pairs = parse_qsl(raw, keep_blank_values=True)
            else:
                pairs = list(request.query.items())
            try:
                params = decode_params(pairs)
                expand: list[str] = []
                if endpoint is not None:
                    try:
                        expand = stripe_params.check(endpoint, params)
                    except stripe_params.ParamError as exc:
                        raise StripeApiError(
                            400, exc.message, code=exc.code, param=exc.param
                        ) from None
                status, body = await handler(request, params)
                body = self._expand(body, expand)
            except StripeApiError as exc:
                return _json(exc.status, exc.body, saved=exc.saved)
            except (ValueError, IndexError) as exc:
                error = StripeApiError(400, f"Invalid request: {exc}")
                return _json(400, error.body, saved=False)
            refusal = self._off_shape(f"{request.method} {request.path}", body)
            if refusal is not None:
                return _json(500, refusal.body, saved=False)
            return _json(status, body)

        return route

    def _off_shape(self, what: str, body: JSON) -> StripeApiError | None:
        """A 500 for an answer (or event) that leaves Stripe's published shape, recorded in
        `shape_violations` so a test can fail on it; None when the shape holds."""
        errors = shape_errors(body)
        if not errors:
            return None
        message = f"the fake's answer to {what} leaves Stripe's published shape: " + "; ".join(
            errors
        )
        log.error("fake stripe: %s", message)
        self.shape_violations.append(message)
        return StripeApiError(500, message, type_="api_error")

    def _scope(self, request: web.Request) -> Account:
        account = request.headers.get("Stripe-Account")
        return self.platform if account is None else self.accounts[account]

    # --- API handlers ----------------------------------------------------------------------------

    async def _unknown_route(self, request: web.Request, _params: JSON) -> tuple[int, JSON]:
        raise StripeApiError(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/.",
        )

    async def _create_account(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        if request.headers.get("Stripe-Account"):
            raise StripeApiError(400, "Connected accounts cannot create accounts.")
        country = _param_str(params, "country") or "US"
        currency = _param_currency(params, "default_currency") or "usd"
        id_ = self.create_account(
            country=country,
            currency=currency,
            email=_param_str(params, "email"),
            metadata=_param_metadata(params),
            type_=_param_str(params, "type") or "express",
        )
        return 200, self.accounts[id_].body

    async def _get_account(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        acct = self.accounts.get(request.match_info["id"])
        if acct is None:
            raise _missing("account", request.match_info["id"])
        return 200, acct.body

    async def _get_balance(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        return 200, objects.balance(self._scope(request).available, {})

    async def _create_transfer(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        if request.headers.get("Stripe-Account"):
            raise StripeApiError(400, "Transfers are made from the platform account.")
        amount = _required_amount(params)
        currency = _required_currency(params)
        destination = _required_str(params, "destination")
        metadata = _param_metadata(params)
        if destination not in self.accounts:
            raise StripeApiError(
                400,
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
                saved=True,
            )
        transfer = self._make_transfer(
            amount,
            currency,
            destination,
            description=_param_str(params, "description"),
            metadata=metadata,
            transfer_group=_param_str(params, "transfer_group"),
            request=request,
        )
        return 200, transfer

    def _make_transfer(
        self,
        amount: int,
        currency: str,
        destination: str,
        *,
        description: str | None,
        metadata: Mapping[str, str],
        transfer_group: str | None,
        request: web.Request | None = None,
    ) -> JSON:
        """A transfer from the platform to `destination`, booked and announced (checked)."""
        self._debit(self.platform, currency, amount)
        self._credit(self.accounts[destination], currency, amount)
        id_ = new_id("tr")
        transfer = objects.transfer(
            id_=id_,
            amount=amount,
            currency=currency,
            destination=destination,
            created=self.now(),
            description=description,
            metadata=metadata,
            transfer_group=transfer_group,
        )
        self.transfers[id_] = transfer
        self._book(PLATFORM, transfer["balance_transaction"], "transfer", transfer, -amount, 0)
        self._emit("transfer.created", transfer, None, request=request)
        return transfer

    async def _get_transfer(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        transfer = self.transfers.get(request.match_info["id"])
        if transfer is None:
            raise _missing("transfer", request.match_info["id"])
        return 200, transfer

    async def _list_transfers(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        found = [
            t
            for t in self.transfers.values()
            if params.get("destination") in (None, t["destination"])
            and params.get("transfer_group") in (None, t["transfer_group"])
        ]
        shown = [t for t in found if not self.disagreements.dropped(t["transfer_group"])]
        return 200, _page("/v1/transfers", shown, params)

    async def _create_reversal(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        transfer = self.transfers.get(request.match_info["id"])
        if transfer is None:
            raise _missing("transfer", request.match_info["id"])
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = _param_amount(params) or remaining
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Transfer {transfer['id']} has already been fully reversed.",
                code="transfer_already_reversed",
                saved=True,
            )
        if amount > remaining:
            raise StripeApiError(
                400,
                f"Amount {amount} is more than the {remaining} left to reverse.",
                code="amount_too_large",
                param="amount",
                saved=True,
            )
        destination = self.accounts[transfer["destination"]]
        self._debit(destination, transfer["currency"], amount)
        self._credit(self.platform, transfer["currency"], amount)
        reversal = objects.transfer_reversal(
            transfer_id=transfer["id"],
            amount=amount,
            currency=transfer["currency"],
            created=self.now(),
            metadata=_param_metadata(params),
        )
        reversals = transfer["reversals"]["data"]
        reversals.insert(0, reversal)
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
        self._emit("transfer.reversed", transfer, None, request=request)
        return 200, reversal

    async def _list_reversals(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        transfer = self.transfers.get(request.match_info["id"])
        if transfer is None:
            raise _missing("transfer", request.match_info["id"])
        path = f"/v1/transfers/{transfer['id']}/reversals"
        return 200, _page(path, list(transfer["reversals"]["data"]), params, newest_first=False)

    async def _create_payout(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        acct = self._scope(request)
        amount = _required_amount(params)
        currency = _required_currency(params)
        metadata = _param_metadata(params)
        method = _param_str(params, "method") or "standard"
        if method not in ("standard", "instant"):
            raise StripeApiError(400, f"Invalid method: {method}", param="method")
        if acct is not self.platform:
            body = acct.body
            if not body["payouts_enabled"] or body["requirements"]["past_due"]:
                raise StripeApiError(
                    400,
                    "Payouts are not enabled for this account: "
                    + (", ".join(body["requirements"]["past_due"]) or "payouts are disabled"),
                    code="payouts_not_allowed",
                    saved=True,
                )
        payout = self._make_payout(
            acct,
            amount,
            currency,
            description=_param_str(params, "description"),
            metadata=metadata,
            statement_descriptor=_param_str(params, "statement_descriptor"),
            method=method,
            request=request,
        )
        return 200, payout

    def _make_payout(
        self,
        acct: Account,
        amount: int,
        currency: str,
        *,
        description: str | None,
        metadata: Mapping[str, str],
        statement_descriptor: str | None = None,
        method: str = "standard",
        request: web.Request | None = None,
    ) -> JSON:
        """A pending payout from `acct`'s balance to its bank, booked and announced."""
        if acct is self.platform:
            destination = "ba_platform_bank_account"
        else:
            destination = acct.body["external_accounts"]["data"][0]["id"]
        self._debit(acct, currency, amount)
        id_ = new_id("po")
        created = self.now()
        payout = objects.payout(
            id_=id_,
            amount=amount,
            currency=currency,
            destination=destination,
            created=created,
            arrival_date=created + 2 * 86_400,
            description=description,
            metadata=metadata,
            statement_descriptor=statement_descriptor,
            method=method,
        )
        self.payouts[id_] = payout
        self.payout_accounts[id_] = acct.id
        self.account_payouts.setdefault(acct.id, []).append(id_)
        fee = -(-amount * acct.payout_fee_bps // 10_000)
        self._book(acct.id, payout["balance_transaction"], "payout", payout, -amount, fee)
        account_id = None if acct is self.platform else acct.id
        self._emit("payout.created", payout, account_id, request=request)
        self._schedule(id_)
        return payout

    def _payout_in_scope(self, request: web.Request) -> JSON:
        id_ = request.match_info["id"]
        payout = self.payouts.get(id_)
        if payout is None or self.payout_accounts[id_] != self._scope(request).id:
            raise _missing("payout", id_)
        return payout

    async def _get_payout(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        return 200, self._payout_in_scope(request)

    async def _list_balance_transactions(
        self, request: web.Request, params: JSON
    ) -> tuple[int, JSON]:
        scope = self._scope(request).id
        type_ = params.get("type")
        source = params.get("source")
        found = [
            t
            for t in self.balance_transactions.values()
            if self.balance_accounts[t["id"]] == scope
            and type_ in (None, t["type"])
            and source in (None, t["source"])
        ]
        return 200, _page("/v1/balance_transactions", found, params)

    async def _get_balance_transaction(
        self, request: web.Request, params: JSON
    ) -> tuple[int, JSON]:
        id_ = request.match_info["id"]
        found = self.balance_transactions.get(id_)
        if found is None or self.balance_accounts[id_] != self._scope(request).id:
            raise _missing("balance_transaction", id_)
        return 200, found

    async def _list_payouts(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        scope = self._scope(request).id
        status = params.get("status")
        views = [self.payout_view(self.payouts[i]) for i in self.account_payouts.get(scope, [])]
        found = [p for p in views if p is not None and status in (None, p["status"])]
        return 200, _page("/v1/payouts", found, params)

    async def _cancel_payout(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        payout = self._payout_in_scope(request)
        if payout["status"] != "pending":
            raise StripeApiError(
                400,
                f"Payouts can only be canceled while they are pending; this one is "
                f"{payout['status']}.",
                code="payout_not_cancelable",
                saved=True,
            )
        return 200, self.advance_payout(payout["id"], "canceled")

    async def _list_events(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        type_ = params.get("type")
        found = [e for e in self.events if type_ in (None, e["type"])]
        return 200, _page("/v1/events", found, params)

    async def _get_event(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        for event in self.events:
            if event["id"] == request.match_info["id"]:
                return 200, event
        raise _missing("event", request.match_info["id"])

    async def _create_payment_intent(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        amount = _required_amount(params)
        currency = _required_currency(params)
        id_ = new_id("pi")
        intent = objects.payment_intent(
            id_=id_,
            amount=amount,
            currency=currency,
            created=self.now(),
            description=_param_str(params, "description"),
            metadata=_param_metadata(params),
            customer=_param_str(params, "customer"),
            receipt_email=_param_str(params, "receipt_email"),
        )
        self.payment_intents[id_] = intent
        self._emit("payment_intent.created", intent, None, request=request)
        return 200, intent

    async def _get_payment_intent(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        intent = self.payment_intents.get(request.match_info["id"])
        if intent is None:
            raise _missing("payment_intent", request.match_info["id"])
        return 200, intent

    async def _create_verification(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        type_ = _param_str(params, "type") or "document"
        if type_ not in ("document", "id_number"):
            raise StripeApiError(400, f"Invalid type: {type_}", param="type")
        options = params.get("options", {})
        document = options.get("document", {}) if isinstance(options, dict) else {}
        selfie = isinstance(document, dict) and document.get("require_matching_selfie") == "true"
        id_ = new_id("vs")
        session = objects.verification_session(
            id_=id_,
            type_=type_,
            created=self.now(),
            client_reference_id=_param_str(params, "client_reference_id"),
            metadata=_param_metadata(params),
            require_matching_selfie=selfie,
        )
        self.verification_sessions[id_] = session
        self._emit("identity.verification_session.created", session, None, request=request)
        return 200, session

    async def _get_verification(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        session = self.verification_sessions.get(request.match_info["id"])
        if session is None:
            raise _missing("identity.verification_session", request.match_info["id"])
        return 200, session

    async def _cancel_verification(self, request: web.Request, params: JSON) -> tuple[int, JSON]:
        session = self.verification_sessions.get(request.match_info["id"])
        if session is None:
            raise _missing("identity.verification_session", request.match_info["id"])
        if session["status"] != "requires_input":
            raise StripeApiError(
                400,
                "Only a VerificationSession with status `requires_input` can be canceled.",
                saved=True,
            )
        return 200, self.set_verification_status(session["id"], "canceled")

    # --- admin handlers --------------------------------------------------------------------------

    async def _admin_state(self, _request: web.Request) -> web.Response:
        statuses: dict[str, int] = {}
        for payout in self.payouts.values():
            statuses[payout["status"]] = statuses.get(payout["status"], 0) + 1
        return web.json_response(
            {
                "requests": self.requests,
                "accounts": len(self.accounts),
                "transfers": len(self.transfers),
                "payouts": statuses,
                "events": len(self.events),
                "payment_intents": len(self.payment_intents),
                "verification_sessions": len(self.verification_sessions),
                "platform_balance": dict(self.platform.available),
                "auto_advance_seconds": self.auto_advance_seconds,
            }
        )

    async def _admin_create_account(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if isinstance(data, web.Response):
            return data
        try:
            id_ = self.create_account(
                country=str(data.get("country", "US")),
                currency=str(data.get("currency", "usd")),
                email=data.get("email"),
                payouts_enabled=bool(data.get("payouts_enabled", True)),
                past_due=[str(p) for p in data.get("past_due", [])],
                balance=int(data.get("balance", 0)),
                payout_failure_code=data.get("payout_failure_code"),
                fail_after_paid=bool(data.get("fail_after_paid", False)),
                metadata={str(k): str(v) for k, v in dict(data.get("metadata", {})).items()},
                payout_fee_bps=int(data.get("payout_fee_bps", 0)),
            )
        except (TypeError, ValueError) as exc:
            return admin_error(str(exc))
        return web.json_response(self.accounts[id_].body, status=201)

    async def _admin_update_account(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if isinstance(data, web.Response):
            return data
        try:
            body = self.update_account(
                request.match_info["id"],
                payouts_enabled=data.get("payouts_enabled"),
                past_due=data.get("past_due"),
                payout_failure_code=data.get("payout_failure_code"),
                fail_after_paid=data.get("fail_after_paid"),
                clear_failure="payout_failure_code" in data and data["payout_failure_code"] is None,
            )
        except KeyError as exc:
            return admin_error(str(exc.args[0]), 404)
        except ValueError as exc:
            return admin_error(str(exc))
        return web.json_response(body)

    async def _admin_advance_payout(self, request: web.Request) -> web.Response:
        data = await _admin_json(request, allow_empty=True)
        if isinstance(data, web.Response):
            return data
        try:
            payout = self.advance_payout(
                request.match_info["id"], data.get("status"), data.get("failure_code")
            )
        except KeyError as exc:
            return admin_error(str(exc.args[0]), 404)
        except ValueError as exc:
            return admin_error(str(exc), 409)
        return web.json_response(payout)

    async def _admin_succeed_intent(self, request: web.Request) -> web.Response:
        return _admin_call(lambda: self.succeed_payment_intent(request.match_info["id"]))

    async def _admin_fail_intent(self, request: web.Request) -> web.Response:
        data = await _admin_json(request, allow_empty=True)
        if isinstance(data, web.Response):
            return data
        code = str(data.get("code", "card_declined"))
        return _admin_call(lambda: self.fail_payment_intent(request.match_info["id"], code))

    async def _admin_verification(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if isinstance(data, web.Response):
            return data
        outputs = data.get("verified_outputs")
        if outputs is not None and not isinstance(outputs, dict):
            return admin_error("verified_outputs must be an object")
        return _admin_call(
            lambda: self.set_verification_status(
                request.match_info["id"],
                str(data.get("status")),
                data.get("error_code"),
                outputs,
            )
        )

    async def _admin_webhooks(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"urls": self.webhook_urls, "deliveries": [d.to_json() for d in self.deliveries]}
        )

    async def _admin_add_webhook(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if isinstance(data, web.Response):
            return data
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return admin_error('expected {"url": "http://host:port/path"}')
        if url not in self.webhook_urls:
            self.webhook_urls.append(url)
        return web.json_response({"urls": self.webhook_urls}, status=201)

    async def _admin_clear_webhooks(self, _request: web.Request) -> web.Response:
        self.webhook_urls.clear()
        return web.json_response({"urls": []})

    async def _admin_resend(self, request: web.Request) -> web.Response:
        return _admin_call(lambda: self.resend(request.match_info["id"]))

    async def _admin_clock(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if isinstance(data, web.Response):
            return data
        offset = data.pop("offset_seconds", None)
        if offset is not None:
            if not isinstance(offset, int) or isinstance(offset, bool):
                return admin_error("offset_seconds must be a whole number of seconds")
            self.clock_offset_seconds = offset
            if "auto_advance_seconds" not in data:
                return web.json_response({"offset_seconds": offset})
        seconds = data.get("auto_advance_seconds")
        if seconds is not None and not (
            isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0
        ):
            return admin_error("auto_advance_seconds must be a positive number or null")
        self.auto_advance_seconds = None if seconds is None else float(seconds)
        if self.auto_advance_seconds is None:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        else:
            for payout_id in self.payouts:
                if payout_id not in self._timers:
                    self._schedule(payout_id)
        return web.json_response({"auto_advance_seconds": self.auto_advance_seconds})

    async def _admin_disagreements(self, _request: web.Request) -> web.Response:
        return web.json_response({"disagreements": [d.to_json() for d in self.disagreements.items]})

    async def _admin_add_disagreement(self, request: web.Request) -> web.Response:
        data = await _admin_json(request)
        if isinstance(data, web.Response):
            return data
        try:
            added = self.add_disagreement(Disagreement.from_json(data))
        except KeyError as exc:
            return admin_error(str(exc.args[0]), 404)
        except ValueError as exc:
            return admin_error(str(exc))
        return web.json_response(added.to_json(), status=201)

    async def _admin_clear_disagreements(self, _request: web.Request) -> web.Response:
        self.disagreements.clear()
        return web.json_response({"disagreements": []})


def build_for_runner(options: FakeOptions) -> FakeStripe:
    """The fake as `diamonds-fakes` runs it."""
    return FakeStripe(
        webhook_urls=[options.webhook_url] if options.webhook_url else [],
        auto_advance_seconds=options.advance_seconds,
        fault_seed=options.fault_seed,
    )


def _now() -> int:
    return int(time.time())


def _json(
    status: int, body: JSON, headers: Mapping[str, str] | None = None, *, saved: bool = True
) -> web.Response:
    response = web.Response(
        status=status,
        body=json.dumps(body, indent=2).encode(),
        content_type="application/json",
        headers=dict(headers or {}),
    )
    response[SAVED] = saved
    return response


def _with_headers(response: web.StreamResponse, headers: Mapping[str, str]) -> web.StreamResponse:
    for name, value in headers.items():
        response.headers[name] = value
    return response


_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}


def _page(url: str, items: list[JSON], params: JSON, *, newest_first: bool = True) -> JSON:
    """One page of a Stripe list: newest first, `limit` (1 to 100, default 10), `starting_after`
    an id, and `created[gte|gt|lte|lt]` filters."""
    ordered = list(reversed(items)) if newest_first else list(items)
    created = params.get("created")
    if isinstance(created, dict):
        for op, raw in created.items():
            compare = _COMPARISONS.get(op)
            if compare is None:
                raise StripeApiError(400, f"Invalid created filter: {op}", param="created")
            ordered = [item for item in ordered if compare(int(item["created"]), int(raw))]
    limit = int(params.get("limit", 10))
    if not 1 <= limit <= 100:
        raise StripeApiError(400, "Limit must be between 1 and 100.", param="limit")
    after, before = params.get("starting_after"), params.get("ending_before")
    if after is not None and before is not None:
        raise StripeApiError(
            400, "You may only specify one of these parameters: ending_before, starting_after."
        )
    cursor, name = (after, "starting_after") if after is not None else (before, "ending_before")
    if cursor is None:
        return stripe_list(url, ordered[:limit], has_more=len(ordered) > limit)
    ids = [item["id"] for item in ordered]
    if cursor not in ids:
        raise StripeApiError(
            400, f"No such object: '{cursor}'", code="resource_missing", param=name
        )
    if after is not None:
        rest = ordered[ids.index(cursor) + 1 :]
        return stripe_list(url, rest[:limit], has_more=len(rest) > limit)
    earlier = ordered[: ids.index(cursor)]  # newer than the cursor: the page nearest to it
    return stripe_list(url, earlier[-limit:], has_more=len(earlier) > limit)


def _render_fault(fault: Fault) -> web.Response:
    """Stripe's answers to an injected rate limit or server error."""
    if fault.kind is FaultKind.RATE_LIMIT:
        error = StripeApiError(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff of "
            "your requests.",
            code="rate_limit",
        )
        return _json(429, error.body, {"Retry-After": str(fault.retry_after)}, saved=False)
    error = StripeApiError(fault.status, "An unknown error occurred", type_="api_error")
    return _json(fault.status, error.body, {"Stripe-Should-Retry": "true"}, saved=False)


async def _admin_json(request: web.Request, *, allow_empty: bool = False) -> JSON | web.Response:
    raw = await request.read()
    if not raw.strip() and allow_empty:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return admin_error("the body must be a JSON object")
    if not isinstance(data, dict):
        return admin_error("the body must be a JSON object")
    return data


def _admin_call(action: Callable[[], JSON]) -> web.Response:
    try:
        return web.json_response(action())
    except KeyError as exc:
        return admin_error(str(exc.args[0]), 404)
    except ValueError as exc:
        return admin_error(str(exc), 409)
