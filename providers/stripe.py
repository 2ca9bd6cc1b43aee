"""The Stripe Connect payout provider: a Transfer to the creator's connected account, then a Payout
from that account to the creator's bank, both idempotent; lookups, cancels and signed webhooks.

Retries belong to our tenacity layer (`providers.retry`), not to stripe-python: the client runs
with `max_network_retries=0`, so one attempt of ours is one HTTP request and the two layers never
multiply (3 x 3 attempts), and every wait is logged and bounded in one place.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Literal, TypeVar

import aiohttp
import stripe
from stripe.params import PayoutListParams, TransferListParams

from providers.base import (
    Capability,
    PayeeField,
    PayoutInstruction,
    PayoutProvider,
    PayoutResult,
    PayoutState,
    StatusUpdate,
)
from providers.config import StripeConfig
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
from providers.pacing import RequestPacer
from providers.records import ProviderRecord
from providers.stripe_records import payout_record, transfer_record

log = logging.getLogger(__name__)

T = TypeVar("T")
Listed = TypeVar("Listed", bound=stripe.StripeObject)

SLUG = "stripe"
MAX_IDEMPOTENCY_KEY = 255
SIGNATURE_HEADER = "Stripe-Signature"

STATES: Mapping[str, PayoutState] = {
    "pending": PayoutState.PENDING,
    "in_transit": PayoutState.PENDING,
    "paid": PayoutState.PAID,
    "failed": PayoutState.FAILED,
    "canceled": PayoutState.CANCELED,
}
"""Stripe's payout statuses in our words."""

PAYOUT_EVENTS = frozenset(
    {"payout.created", "payout.updated", "payout.paid", "payout.failed", "payout.canceled"}
)

_Call = Literal["write", "read"]


def payout_state(status: str) -> PayoutState:
    return STATES.get(status, PayoutState.UNKNOWN)


def idempotency_key(key: str, step: str) -> str:
    """The Idempotency-Key of one step of a payout (`transfer`, `payout`, `cancel`): the
    instruction's key with the step appended, hashed when that would pass Stripe's 255 characters.
    The same instruction always gives the same keys."""
    joined = f"{key}:{step}"
    if len(joined) <= MAX_IDEMPOTENCY_KEY:
        return joined
    return f"sha256-{hashlib.sha256(key.encode()).hexdigest()}:{step}"


# --- webhook signatures --------------------------------------------------------------------------


def _metadata(metadata: stripe.StripeObject | None, key: str) -> str | None:
    """One metadata value of a Stripe object."""
    value = metadata.to_dict().get(key) if metadata is not None else None
    return value if isinstance(value, str) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, found in headers.items():
        if key.lower() == wanted:
            return found
    return None


def verify_signature(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> int:
    """Check a `Stripe-Signature` header (`t=<unix time>,v1=<hex>[,v1=<hex>...]`) against the raw
    body: some v1 must be the HMAC-SHA256 of `"<t>.<body>"` under `secret`, and `t` within
    `tolerance_seconds` of now (either way). Returns `t`; raises `WebhookVerificationError`."""
    if not header:
        raise WebhookVerificationError(SLUG, f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookVerificationError(
                    SLUG, "the signature's timestamp is not a number"
                ) from None
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookVerificationError(SLUG, "the signature header lacks t= or v1=")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError(
            SLUG, f"the signature's timestamp is outside the {tolerance_seconds}s tolerance"
        )
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    digest = expected.hexdigest().encode()
    # As bytes: compare_digest raises TypeError for a str with non-ASCII characters.
    signatures = (candidate.encode("utf-8", "replace") for candidate in candidates)
    if not any(hmac.compare_digest(digest, signature) for signature in signatures):
        raise WebhookVerificationError(SLUG, "no v1 signature matches the body")
    return timestamp


def _event_time(event: Mapping[str, Any], payout_id: str, reference: object) -> datetime:
    """The event's `created` as a time; `UnappliableWebhook` for one no datetime can hold."""
    try:
        return datetime.fromtimestamp(event["created"], UTC)
    except (ValueError, OverflowError, OSError):
        raise UnappliableWebhook(
            SLUG,
            event["id"],
            f"created {event['created']} is not a time",
            payout_reference=payout_id,
            provider_reference=reference if isinstance(reference, str) else None,
        ) from None


def _event_fields(body: bytes) -> dict[str, Any]:
    """The event's JSON, checked for the fields we read."""
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookVerificationError(SLUG, "the body is not JSON") from None
    if not (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("created"), int)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise WebhookVerificationError(SLUG, "the body is not a Stripe event")
    return event


# --- the provider --------------------------------------------------------------------------------


_ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")


def connected_account_id(raw: str) -> str:
    """A Stripe Connect account id (`acct_1A2b3C4d5E6f7G8h`), or `InvalidFieldValue`."""
    if not _ACCOUNT_ID.match(raw):
        raise InvalidFieldValue(
            "a Stripe connected account id looks like acct_1A2b3C4d5E6f7G8h",
            "INVALID_STRIPE_ACCOUNT",
        )
    return raw


class StripeProvider(PayoutProvider):
    """Pays a creator's Stripe Connect account (`Payee.stripe_account`) and on to their bank.

    submit: checks the connected account can receive payouts, then creates a Transfer
    (`transfer_group` = our payout id, Idempotency-Key `<key>:transfer`) and a Payout on the
    connected account (Stripe-Account header, metadata `payout_id`, Idempotency-Key
    `<key>:payout`). A refused payout (4xx) reverses the transfer before failing.

    A failed, returned or canceled payout leaves its money in the creator's Stripe balance:
    before reporting FAILED, RETURNED or CANCELED (by lookup, cancel or webhook) the provider
    reverses the transfer (idempotently), so the money is back on the platform before the
    pipeline gives the diamonds back.
    """

    slug = SLUG
    currencies = frozenset({"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "SEK", "DKK", "NOK", "PLN"})
    capabilities = frozenset(
        {Capability.LOOKUP, Capability.CANCEL, Capability.WEBHOOKS, Capability.RECONCILE}
    )
    idempotency_window = timedelta(hours=24)
    """Stripe keeps idempotency keys at least 24 hours."""
    payee_fields: ClassVar[Sequence[PayeeField]] = (
        PayeeField(
            "account_id",
            "Stripe connected account id",
            check=connected_account_id,
            help="acct_ followed by letters and digits",
            max_length=80,
        ),
    )
    required_env: ClassVar[Sequence[str]] = ("DIAMONDS_STRIPE_API_KEY",)

    def __init__(self, config: StripeConfig) -> None:
        self.config = config
        self._http = stripe.AIOHTTPClient(
            timeout=aiohttp.ClientTimeout(total=config.timeout_seconds)
        )
        self._client = stripe.StripeClient(
            config.api_key,
            base_addresses={"api": config.api_base},
            max_network_retries=0,
            http_client=self._http,
        )
        self._pacer = RequestPacer(config.max_concurrent_requests, config.requests_per_second)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StripeProvider:
        """The registry's way in: configuration from `DIAMONDS_STRIPE_*`."""
        return cls(StripeConfig.from_env(env))

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    def fee_minor(self, amount_minor: int, currency: str) -> int:
        """Stripe's fees are taken from the platform's balance, not from the creator's payout."""
        del amount_minor, currency
        return 0

    # --- submit ----------------------------------------------------------------------------------

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        account = self._check_instruction(instruction)
        await self._check_account(account)
        currency = instruction.currency.lower()
        metadata = {**instruction.metadata, "payout_id": instruction.payout_id}
        transfer = await self._call(
            "write",
            "create the transfer",
            lambda: self._client.v1.transfers.create_async(
                {
                    "amount": instruction.amount_minor,
                    "currency": currency,
                    "destination": account,
                    "transfer_group": instruction.payout_id,
                    "description": instruction.description or f"Payout {instruction.payout_id}",
                    "metadata": metadata,
                },
                {"idempotency_key": idempotency_key(instruction.idempotency_key, "transfer")},
            ),
        )
        try:
            payout = await self._call(
                "write",
                "create the payout",
                lambda: self._client.v1.payouts.create_async(
                    {
                        "amount": instruction.amount_minor,
                        "currency": currency,
                        "description": instruction.description or f"Payout {instruction.payout_id}",
                        "metadata": {**metadata, "transfer": transfer.id},
                    },
                    {
                        "idempotency_key": idempotency_key(instruction.idempotency_key, "payout"),
                        "stripe_account": account,
                    },
                ),
            )
        except PermanentProviderError as refused:
            await self._reverse(transfer.id, because=refused.code)
            raise
        return self._result(instruction.payout_id, payout)

    def _check_instruction(self, instruction: PayoutInstruction) -> str:
        account = instruction.payee.stripe_account
        if not account or not account.startswith("acct_"):
            raise PermanentProviderError(
                SLUG, "no_stripe_account", "the payee has no Stripe Connect account (acct_...)"
            )
        if instruction.currency not in self.currencies:
            raise PermanentProviderError(
                SLUG, "unsupported_currency", f"Stripe payouts do not take {instruction.currency}"
            )
        if instruction.amount_minor <= 0:
            raise PermanentProviderError(
                SLUG, "invalid_amount", f"the amount must be positive: {instruction.amount_minor}"
            )
        return account

    async def _check_account(self, account: str) -> None:
        """Refuse before any money moves when the account cannot pay out: Stripe requires
        `payouts_enabled` and nothing in `requirements.past_due`."""
        found = await self._call(
            "read",
            "retrieve the connected account",
            lambda: self._client.v1.accounts.retrieve_async(account),
        )
        requirements = found.requirements
        past_due = list(requirements.past_due or []) if requirements is not None else []
        if past_due:
            raise PermanentProviderError(
                SLUG,
                "account_requirements_past_due",
                f"the connected account {account} has requirements past due: {', '.join(past_due)}",
            )
        if not found.payouts_enabled:
            raise PermanentProviderError(
                SLUG, "payouts_not_allowed", f"payouts are not enabled on {account}"
            )

    # --- lookup and cancel -----------------------------------------------------------------------

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        transfer, payout = await self._find(payout_id, provider_reference)
        if payout is None:
            raise PayoutNotFound(
                SLUG,
                f"payout {payout_id}: transfer {transfer.id} exists but no payout was created; "
                "submitting it again with the same key completes it",
            )
        result = self._result(payout_id, payout)
        if result.state in (PayoutState.FAILED, PayoutState.CANCELED):
            await self._reverse(transfer.id, because=result.raw_status or "failed")
        return result

    async def cancel(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        transfer, payout = await self._find(payout_id, provider_reference)
        if payout is None:
            await self._reverse(transfer.id, because="canceled before the payout was created")
            return PayoutResult(payout_id, PayoutState.CANCELED, None, "canceled")
        account = transfer.destination
        assert isinstance(account, str)
        payout_ref = payout.id
        canceled = await self._call(
            "write",
            "cancel the payout",
            lambda: self._client.v1.payouts.cancel_async(
                payout_ref,
                options={
                    "idempotency_key": idempotency_key(f"{payout_id}:{payout_ref}", "cancel"),
                    "stripe_account": account,
                },
            ),
        )
        await self._reverse(transfer.id, because="canceled")
        return self._result(payout_id, canceled)

    async def _find(
        self, payout_id: str, provider_reference: str | None
    ) -> tuple[stripe.Transfer, stripe.Payout | None]:
        """Our transfer (by `transfer_group`) and the payout on its destination account (by
        reference, or by `metadata.payout_id`). Raises `PayoutNotFound` without a transfer."""
        transfers = await self._call(
            "read",
            "list transfers",
            lambda: self._client.v1.transfers.list_async(
                {"transfer_group": payout_id, "limit": 10}
            ),
        )
        if not transfers.data:
            raise PayoutNotFound(SLUG, f"payout {payout_id}: no transfer was made")
        if len(transfers.data) > 1:
            log.error("stripe: payout %s has %d transfers", payout_id, len(transfers.data))
        transfer = transfers.data[-1]  # the oldest: the one the payout was made from
        account = transfer.destination
        if not isinstance(account, str):
            raise PermanentProviderError(SLUG, "no_destination", f"transfer {transfer.id}")
        if provider_reference is not None:
            try:
                payout = await self._call(
                    "read",
                    "retrieve the payout",
                    lambda: self._client.v1.payouts.retrieve_async(
                        provider_reference, options={"stripe_account": account}
                    ),
                )
            except PermanentProviderError as exc:
                if exc.code != "resource_missing":
                    raise
            else:
                return transfer, payout
        return transfer, await self._search_payout(payout_id, account, transfer.created)

    async def _search_payout(
        self, payout_id: str, account: str, since: int
    ) -> stripe.Payout | None:
        """Page through the account's payouts made since the transfer for ours."""
        starting_after: str | None = None
        while True:
            params: PayoutListParams = {"limit": 100, "created": {"gte": since - 60}}
            if starting_after is not None:
                params["starting_after"] = starting_after
            page = await self._call(
                "read",
                "list payouts",
                partial(self._client.v1.payouts.list_async, params, {"stripe_account": account}),
            )
            for payout in page.data:
                if _metadata(payout.metadata, "payout_id") == payout_id:
                    return payout
            if not page.has_more or not page.data:
                return None
            starting_after = page.data[-1].id

    async def _reverse(self, transfer_id: str, *, because: str) -> None:
        """Bring a transfer's money back to the platform (what is left of it), idempotently.
        Transient troubles are raised as transient so the caller tries again; a refusal is
        permanent and logged: the money is then stuck in the connected account."""
        try:
            transfer = await self._call(
                "read",
                "retrieve the transfer",
                lambda: self._client.v1.transfers.retrieve_async(transfer_id),
            )
            remaining = transfer.amount - transfer.amount_reversed
            if remaining <= 0:
                return
            await self._call(
                "write",
                "reverse the transfer",
                lambda: self._client.v1.transfers.reversals.create_async(
                    transfer_id,
                    {"amount": remaining, "metadata": {"reason": because[:500]}},
                    {"idempotency_key": idempotency_key(transfer_id, "reversal")},
                ),
            )
        except UnknownOutcome as exc:
            raise TransientProviderError(SLUG, f"reversing transfer {transfer_id}: {exc}") from exc
        except PermanentProviderError as exc:
            log.error("stripe: transfer %s cannot be reversed (%s): %s", transfer_id, because, exc)
            raise PermanentProviderError(
                SLUG,
                "transfer_reversal_failed",
                f"the payout ended ({because}) but transfer {transfer_id} cannot be reversed: "
                f"{exc.detail}",
            ) from exc
        log.info("stripe: transfer %s reversed (%s)", transfer_id, because)

    # --- reconciliation --------------------------------------------------------------------------

    PAYOUT_LOOKAHEAD = timedelta(hours=1)
    """How long after the end of the period a payout made from one of its transfers is looked
    for (a payout follows its transfer within seconds)."""

    async def settled_records(
        self, since: datetime, until: datetime, *, references: Sequence[str] = ()
    ) -> AsyncIterator[ProviderRecord]:
        """The platform's transfers created in the period, each with the payout made from it on
        the connected account (matched by the payout's `metadata.transfer`, else its
        `metadata.payout_id`): one record per transfer, the payout's (`po_...`, the reference
        `submit` gave), or the transfer's own when no payout was made. Then the payouts on
        those accounts created in the period that no transfer of the period accounts for (money
        we never sent, or a payout whose transfer fell in an earlier period). Every list goes
        through stripe-python's auto-pagination (100 a page) with `created[gte]`/`created[lt]`
        and the balance transactions expanded, for fees and conversions. `references` is not
        needed: Stripe lists by date."""
        del references
        start, end = _period(since, until)
        transfer_params: TransferListParams = {
            "created": {"gte": start, "lt": end},
            "limit": 100,
            "expand": ["data.balance_transaction"],
        }
        by_account: dict[str, list[dict[str, Any]]] = {}
        async for transfer in self._listed(
            "list transfers", partial(self._client.v1.transfers.list_async, transfer_params)
        ):
            destination = transfer.get("destination")
            if isinstance(destination, str):
                by_account.setdefault(destination, []).append(transfer)
        accounts = sorted(by_account)
        for first in range(0, len(accounts), self.RECONCILE_CONCURRENCY):
            chunk = accounts[first : first + self.RECONCILE_CONCURRENCY]
            listed = await asyncio.gather(
                *(self._payouts_of(account, start, end) for account in chunk)
            )
            for account, payouts in zip(chunk, listed, strict=True):
                for record in self._joined(account, by_account[account], payouts, end):
                    yield record

    RECONCILE_CONCURRENCY = 8
    """Connected accounts whose payouts are listed at once (one list per account)."""

    async def _payouts_of(self, account: str, start: int, end: int) -> list[dict[str, Any]]:
        """The account's payouts created from `start` to `end` plus the lookahead."""
        lookahead = int(self.PAYOUT_LOOKAHEAD.total_seconds())
        payout_params: PayoutListParams = {
            "created": {"gte": start, "lt": end + lookahead},
            "limit": 100,
            "expand": ["data.balance_transaction"],
        }
        return [
            payout
            async for payout in self._listed(
                f"list payouts of {account}",
                partial(
                    self._client.v1.payouts.list_async,
                    payout_params,
                    {"stripe_account": account},
                ),
            )
        ]

    @staticmethod
    def _joined(
        account: str,
        transfers: list[dict[str, Any]],
        payouts: list[dict[str, Any]],
        end: int,
    ) -> list[ProviderRecord]:
        """One record per transfer (its payout's, or its own), then the account's payouts of
        the period that no transfer accounts for."""
        records: list[ProviderRecord] = []
        by_transfer = {(p.get("metadata") or {}).get("transfer"): p for p in payouts}
        by_payout_id = {(p.get("metadata") or {}).get("payout_id"): p for p in payouts}
        by_transfer.pop(None, None)
        by_payout_id.pop(None, None)
        used: set[str] = set()
        for transfer in transfers:
            payout = by_transfer.get(transfer["id"]) or by_payout_id.get(
                transfer.get("transfer_group")
            )
            if payout is None:
                records.append(transfer_record(transfer))
                continue
            used.add(payout["id"])
            records.append(payout_record(payout, transfer, account))
        for payout in payouts:
            if payout["id"] not in used and int(payout["created"]) < end:
                records.append(payout_record(payout, None, account))
        return records

    async def _listed(
        self, what: str, first_page: Callable[[], Awaitable[stripe.ListObject[Listed]]]
    ) -> AsyncIterator[dict[str, Any]]:
        """Every object of a list as plain JSON, page after page (stripe-python's
        `auto_paging_iter`), each request's failures typed as reads."""
        page = await self._call("read", what, first_page)
        objects = page.auto_paging_iter()
        while True:
            try:
                found = await self._call("read", what, objects.__anext__)
            except StopAsyncIteration:
                return
            yield found.to_dict()

    # --- webhooks --------------------------------------------------------------------------------

    def verify_event(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """A verified Stripe event from a webhook delivery (any type: payouts, payment intents,
        identity sessions). Raises `WebhookVerificationError`, or `ProviderConfigError` without
        a configured webhook secret."""
        secret = self.config.webhook_secret
        if not secret:
            raise ProviderConfigError(SLUG, "DIAMONDS_STRIPE_WEBHOOK_SECRET is not set")
        verify_signature(
            _header(headers, SIGNATURE_HEADER),
            body,
            secret,
            tolerance_seconds=self.config.webhook_tolerance_seconds,
        )
        return _event_fields(body)

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[StatusUpdate]:
        """`payout.*` events about our payouts (those with `metadata.payout_id`) as status
        updates; other verified events give none. A `payout.updated` from paid to failed is
        RETURNED; a `payout.failed` is FAILED (the pipeline treats FAILED after PAID as RETURNED,
        since Stripe's two events can arrive in either order)."""
        event = self.verify_event(headers, body)
        if event["type"] not in PAYOUT_EVENTS:
            return []
        payout = event["data"]["object"]
        metadata = payout.get("metadata") or {}
        if payout.get("object") != "payout" or not isinstance(metadata, dict):
            raise WebhookVerificationError(SLUG, f"{event['type']} does not carry a payout")
        payout_id = metadata.get("payout_id")
        if not isinstance(payout_id, str):
            return []
        occurred_at = _event_time(event, payout_id, payout.get("id"))
        status = str(payout.get("status"))
        state = payout_state(status)
        previous = event["data"].get("previous_attributes")
        was_paid = isinstance(previous, dict) and previous.get("status") == "paid"
        if state is PayoutState.FAILED and was_paid:
            state = PayoutState.RETURNED
        transfer_id = metadata.get("transfer")
        if state in (PayoutState.FAILED, PayoutState.RETURNED, PayoutState.CANCELED) and isinstance(
            transfer_id, str
        ):
            await self._reverse(transfer_id, because=f"{event['type']} {payout.get('id')}")
        return [
            StatusUpdate(
                event_id=event["id"],
                state=state,
                occurred_at=occurred_at,
                payout_id=payout_id,
                provider_reference=payout.get("id"),
                raw_type=event["type"],
                failure_code=payout.get("failure_code"),
                failure_message=payout.get("failure_message"),
            )
        ]

    # --- plumbing --------------------------------------------------------------------------------

    def _result(self, payout_id: str, payout: stripe.Payout) -> PayoutResult:
        return PayoutResult(
            payout_id=payout_id,
            state=payout_state(payout.status),
            provider_reference=payout.id,
            raw_status=payout.status,
            failure_code=payout.failure_code,
            failure_message=payout.failure_message,
        )

    async def _call(self, kind: _Call, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """One request to Stripe, its failures turned into our typed errors. For a `write`, a
        timeout or a connection lost after the request went out is an unknown outcome; for a
        `read` it is only transient. Every request waits for the provider's pacer first."""
        try:
            async with self._pacer.slot():
                return await call()
        except stripe.RateLimitError as exc:
            raise TransientProviderError(
                SLUG, f"{what}: rate limited", retry_after=retry_after(exc.headers)
            ) from exc
        except stripe.IdempotencyError as exc:
            if exc.http_status == 409:  # the same key is still being processed
                raise TransientProviderError(SLUG, f"{what}: {exc.user_message}") from exc
            raise PermanentProviderError(
                SLUG, "idempotency_error", f"{what}: {exc.user_message}"
            ) from exc
        except stripe.AuthenticationError as exc:
            raise ProviderConfigError(
                SLUG, f"{what}: Stripe refused the API key: {exc.user_message}"
            ) from exc
        except stripe.PermissionError as exc:
            if exc.code == "account_invalid":
                raise PermanentProviderError(
                    SLUG, "account_invalid", f"{what}: {exc.user_message}"
                ) from exc
            raise ProviderConfigError(
                SLUG, f"{what}: the API key may not do this: {exc.user_message}"
            ) from exc
        except (stripe.CardError, stripe.InvalidRequestError) as exc:
            code = exc.code or "invalid_request"
            raise PermanentProviderError(SLUG, code, f"{what}: {exc.user_message}") from exc
        except stripe.APIConnectionError as exc:
            raise self._lost(kind, what, exc.__cause__ or exc) from exc
        except stripe.APIError as exc:
            if exc.http_status is not None and exc.http_status >= 500:
                raise TransientProviderError(
                    SLUG, f"{what}: Stripe answered {exc.http_status}"
                ) from exc
            raise self._lost(kind, what, exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:  # while reading the answer's body
            raise self._lost(kind, what, exc) from exc
        except stripe.StripeError as exc:
            raise PermanentProviderError(
                SLUG, exc.code or type(exc).__name__, f"{what}: {exc.user_message}"
            ) from exc

    @staticmethod
    def _lost(kind: _Call, what: str, cause: BaseException) -> Exception:
        """The answer did not arrive. Nothing was sent if the connection never opened."""
        reason = f"{type(cause).__name__}: {cause}".rstrip(": ")
        if kind == "read" or isinstance(
            cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError
        ):
            return TransientProviderError(SLUG, f"{what}: {reason}")
        return UnknownOutcome(SLUG, f"{what}: no answer ({reason}); look the payout up")


def _period(since: datetime, until: datetime) -> tuple[int, int]:
    """The period as whole Unix seconds for `created[gte]` and `created[lt]`: an object created
    at whole second t is in [since, until) exactly when start <= t < end."""
    if since.tzinfo is None or until.tzinfo is None:
        raise ValueError("the period's bounds must carry a time zone")
    if not since < until:
        raise ValueError(f"the period is empty: {since.isoformat()} to {until.isoformat()}")
    return math.ceil(since.timestamp()), math.ceil(until.timestamp())


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date), if any."""
    raw = _header(headers or {}, "Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
