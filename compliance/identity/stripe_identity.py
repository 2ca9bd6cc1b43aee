"""The Stripe Identity verifier: verification sessions created and read through stripe-python's
async methods (an aiohttp client; the API base configurable, so tests point it at a local
server), and `identity.verification_session.*` webhooks checked against their Stripe-Signature.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import stripe

from settings.service import Settings

EVENT_PREFIX = "identity.verification_session."
TOLERANCE_SECONDS = 300


class IdentityProviderError(Exception):
    """Stripe could not be reached or refused the request; the message is safe to show."""


class WebhookRejected(Exception):
    """A webhook delivery whose signature, timestamp or body cannot be trusted."""


@dataclass(frozen=True)
class SessionState:
    """A verification session as we read it: status, last error and, once verified, the
    person's verified name, date of birth and country."""

    id: str
    status: str
    error_code: str | None = None
    error_reason: str | None = None
    legal_name: str | None = None
    birth_date: date | None = None
    country: str | None = None
    has_outputs: bool = False


@dataclass(frozen=True)
class CreatedSession:
    state: SessionState
    client_secret: str | None
    url: str | None


@dataclass(frozen=True)
class SessionEvent:
    event_id: str
    type: str
    session: SessionState


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def session_state(session: Any) -> SessionState:
    """Read a session (a `stripe` object or the plain dict of a webhook's payload)."""
    error = _get(session, "last_error")
    outputs = _get(session, "verified_outputs")
    name = dob = country = None
    if outputs:
        parts = [_get(outputs, "first_name"), _get(outputs, "last_name")]
        name = " ".join(p for p in parts if p) or None
        born = _get(outputs, "dob")
        if born and _get(born, "year") and _get(born, "month") and _get(born, "day"):
            dob = date(int(_get(born, "year")), int(_get(born, "month")), int(_get(born, "day")))
        country = _get(_get(outputs, "address"), "country")
    return SessionState(
        id=str(_get(session, "id")),
        status=str(_get(session, "status")),
        error_code=_get(error, "code"),
        error_reason=_get(error, "reason"),
        legal_name=name,
        birth_date=dob,
        country=country.upper() if isinstance(country, str) and len(country) == 2 else None,
        has_outputs=bool(outputs),
    )


class StripeIdentity:
    """One Stripe account's Identity product. `close()` releases its HTTP session."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str = "https://api.stripe.com",
        webhook_secret: str | None = None,
        return_url: str | None = None,
    ) -> None:
        self._http = stripe.AIOHTTPClient()
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=self._http,
            max_network_retries=2,
        )
        self._webhook_secret = webhook_secret
        self._return_url = return_url

    @classmethod
    def of(cls, settings: Settings) -> StripeIdentity | None:
        """The verifier the configuration describes; None when no API key is configured."""
        c = settings.compliance
        if not c.stripe_identity_api_key:
            return None
        return cls(
            c.stripe_identity_api_key,
            api_base=c.stripe_identity_api_base,
            webhook_secret=c.stripe_identity_webhook_secret,
            return_url=c.stripe_identity_return_url,
        )

    async def create_session(self, user_id: int) -> CreatedSession:
        """A new document check (with a matching selfie) for the person."""
        params: dict[str, Any] = {
            "type": "document",
            "client_reference_id": f"user:{user_id}",
            "metadata": {"user_id": str(user_id)},
            "options": {"document": {"require_matching_selfie": True}},
        }
        if self._return_url:
            params["return_url"] = self._return_url
        try:
            session = await self._client.v1.identity.verification_sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"identity-session:{user_id}:{uuid.uuid4().hex}"},
            )
        except stripe.StripeError as exc:
            raise IdentityProviderError(_safe_message(exc)) from exc
        return CreatedSession(
            state=session_state(session),
            client_secret=session.client_secret,
            url=session.url,
        )

    async def retrieve(self, session_id: str) -> SessionState:
        """The session now, with its verified outputs."""
        try:
            session = await self._client.v1.identity.verification_sessions.retrieve_async(
                session_id, {"expand": ["verified_outputs", "verified_outputs.dob"]}
            )
        except stripe.StripeError as exc:
            raise IdentityProviderError(_safe_message(exc)) from exc
        return session_state(session)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> SessionEvent | None:
        """The verification-session event a delivery carries (None for other event types).
        Raises `WebhookRejected` when the signature does not hold (HMAC-SHA256 of
        `"{t}.{body}"` with the endpoint secret, within 300 seconds)."""
        if not self._webhook_secret:
            raise WebhookRejected("no webhook secret is configured")
        header = headers.get("Stripe-Signature")
        try:
            payload = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                payload, header or "", self._webhook_secret, TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeError, ValueError) as exc:
            raise WebhookRejected(f"the webhook cannot be trusted: {exc}") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookRejected("the webhook is not a Stripe event")
        if not event["type"].startswith(EVENT_PREFIX):
            return None
        session = (event.get("data") or {}).get("object")
        if not isinstance(session, dict) or not isinstance(session.get("id"), str):
            raise WebhookRejected("the event carries no verification session")
        return SessionEvent(
            event_id=str(event.get("id")), type=event["type"], session=session_state(session)
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def _safe_message(exc: stripe.StripeError) -> str:
    status = f" (HTTP {exc.http_status})" if exc.http_status else ""
    return f"Stripe Identity is unavailable{status}; try again later"
