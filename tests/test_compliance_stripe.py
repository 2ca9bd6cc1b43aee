"""The Stripe Identity verifier against the fake Stripe server over real HTTP: sessions created
through stripe-python's async client, webhooks delivered to our endpoint and verified by their
Stripe-Signature, every session status mapped onto ours, replays, stale and out-of-order events,
bad signatures, an unreachable Stripe, and a verified person passing the payout gate.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from diamonds_fakes.stripe_server import FakeStripe

from compliance.gate import service as gate_service
from compliance.identity import service as identity_service
from compliance.identity import store as identity_store
from compliance.identity.rules import IdentityMethod, IdentityStatus
from compliance.identity.stripe_identity import StripeIdentity
from compliance.methods import service as methods_service
from compliance.tax import service as tax_service
from compliance.tax.rules import TaxFormKind
from compliance.tax.tin import TinType
from economy.app import Economy
from economy.users import User
from graph.webhooks import IDENTITY_PATH, add_identity_webhook_route
from kernel.clock import utc_today
from kernel.errors import DomainError

from .compliance_fixtures import (
    VALID_SSN,
    add_method,
    compliance_of,
    fresh_compliance_tables,  # noqa: F401  (autouse)
    load_sample_sanctions,
)

S = IdentityStatus
TODAY = utc_today()


@dataclass
class Kyc:
    fake: FakeStripe
    eco: Economy
    webhook_url: str
    http: aiohttp.ClientSession

    def verifier(self) -> StripeIdentity:
        verifier = StripeIdentity.of(self.eco.settings)
        assert verifier is not None
        return verifier

    async def start(self, user: User) -> identity_service.StartedSession:
        verifier = self.verifier()
        try:
            return await identity_service.start_stripe(compliance_of(self.eco), user, verifier)
        finally:
            await verifier.close()

    async def record(self, user: User) -> identity_store.IdentityRecord:
        async with self.eco.db.read() as conn:
            return await identity_store.load(conn, user.id)

    async def post(self, event: dict[str, Any], *, secret: str | None = None) -> tuple[int, Any]:
        headers, body = self.fake.webhook_delivery(event, secret=secret)
        async with self.http.post(self.webhook_url, data=body, headers=headers) as response:
            return response.status, await response.json()

    async def settle(self) -> None:
        await self.fake.wait_for_deliveries()


@pytest.fixture
async def kyc(
    economy: Economy, start_economy: Callable[..., Awaitable[Economy]]
) -> AsyncIterator[Kyc]:
    async with FakeStripe() as fake:
        eco = await start_economy(
            compliance=replace(
                economy.settings.compliance,
                stripe_identity_api_key=fake.secret_key,
                stripe_identity_api_base=fake.url,
                stripe_identity_webhook_secret=fake.webhook_secret,
            )
        )
        app = web.Application()
        add_identity_webhook_route(app, compliance_of(eco))
        server = TestServer(app)
        await server.start_server()
        url = str(server.make_url(IDENTITY_PATH))
        fake.webhook_urls.append(url)
        try:
            async with aiohttp.ClientSession() as http:
                yield Kyc(fake, eco, url, http)
        finally:
            await fake.wait_for_deliveries()
            await server.close()


def verified_outputs(born: date, country: str = "US") -> dict[str, Any]:
    return {
        "first_name": "Jenny",
        "last_name": "Rosen",
        "dob": {"day": born.day, "month": born.month, "year": born.year},
        "address": {"city": "San Francisco", "country": country, "line1": "1234 Main St."},
        "email": None,
        "id_number": None,
        "id_number_type": None,
        "phone": None,
        "sex": None,
        "unparsed_place_of_birth": None,
        "unparsed_sex": None,
    }


async def test_starting_opens_a_stripe_session_and_waits_for_the_person(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    started = await kyc.start(creator)
    record = started.record
    assert (record.identity.status, record.identity.method) == (
        S.PENDING,
        IdentityMethod.STRIPE_IDENTITY,
    )
    session = kyc.fake.verification_sessions[record.provider_session_id or ""]
    assert session["client_reference_id"] == f"user:{creator.id}"
    assert session["options"]["document"]["require_matching_selfie"] is True
    assert started.url == session["url"]
    assert started.client_secret == session["client_secret"]
    await kyc.settle()  # the `created` event changes nothing
    assert (await kyc.record(creator)).identity.status is S.PENDING


async def test_a_session_moves_through_processing_to_verified_with_the_verified_birth_date(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    session_id = (await kyc.start(creator)).record.provider_session_id or ""
    kyc.fake.set_verification_status(session_id, "processing")
    await kyc.settle()
    assert (await kyc.record(creator)).identity.status is S.PROCESSING
    kyc.fake.set_verification_status(
        session_id, "verified", verified_outputs=verified_outputs(date(1990, 5, 17))
    )
    await kyc.settle()
    ident = (await kyc.record(creator)).identity
    assert (ident.status, ident.legal_name, ident.birth_date, ident.country) == (
        S.VERIFIED,
        "Jenny Rosen",
        date(1990, 5, 17),
        "US",
    )
    assert ident.birth_date_verified
    assert [d.status for d in kyc.fake.deliveries] == [200, 200, 200]


async def test_a_verified_event_without_outputs_fetches_them_from_stripe(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    session_id = (await kyc.start(creator)).record.provider_session_id or ""
    kyc.fake.webhook_urls.clear()  # deliver by hand, as Stripe does: without expanded fields
    kyc.fake.set_verification_status(
        session_id, "verified", verified_outputs=verified_outputs(date(2010, 1, 1))
    )
    event = copy.deepcopy(
        kyc.fake.events_about(session_id, "identity.verification_session.verified")[0]
    )
    assert "verified_outputs" not in event["data"]["object"]
    assert await kyc.post(event) == (200, {"event": event["id"], "outcome": "APPLIED"})
    ident = (await kyc.record(creator)).identity
    assert (ident.status, ident.birth_date) == (S.VERIFIED, date(2010, 1, 1))
    async with kyc.eco.db.read() as conn:
        found = await gate_service.check_payout(
            conn,
            user_id=creator.id,
            provider="paypal",
            currency="USD",
            amount_minor=1,
            today=TODAY,
            settings=kyc.eco.settings,
        )
    assert "AGE_UNVERIFIED" in [r.code for r in found.requirements]
    assert "IDENTITY_UNVERIFIED" not in [r.code for r in found.requirements]


async def test_requires_input_carries_the_reason_and_a_restart_leaves_the_old_session_behind(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    first = (await kyc.start(creator)).record.provider_session_id or ""
    kyc.fake.set_verification_status(first, "requires_input", "selfie_face_mismatch")
    await kyc.settle()
    ident = (await kyc.record(creator)).identity
    assert (ident.status, ident.reason) == (S.REQUIRES_INPUT, "The document could not be verified.")
    [created] = kyc.fake.events_about(first, "identity.verification_session.created")
    late_created = copy.deepcopy(created)  # Stripe does not promise the order of deliveries
    late_created["id"] = "evt_created_delivered_late"
    assert (await kyc.post(late_created))[1]["outcome"] == "NO_CHANGE"
    assert (await kyc.record(creator)).identity.status is S.REQUIRES_INPUT
    second = (await kyc.start(creator)).record.provider_session_id or ""
    assert second != first
    kyc.fake.webhook_urls.clear()
    kyc.fake.set_verification_status(first, "processing")
    [late] = kyc.fake.events_about(first, "identity.verification_session.processing")
    assert (await kyc.post(late))[1]["outcome"] == "UNKNOWN_SESSION"
    assert (await kyc.record(creator)).identity.status is S.PENDING


async def test_replays_out_of_order_events_and_cancellations(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    session_id = (await kyc.start(creator)).record.provider_session_id or ""
    kyc.fake.webhook_urls.clear()
    kyc.fake.set_verification_status(session_id, "processing")
    [processing] = kyc.fake.events_about(session_id, "identity.verification_session.processing")
    assert (await kyc.post(processing))[1]["outcome"] == "APPLIED"
    assert (await kyc.post(processing))[1]["outcome"] == "DUPLICATE"
    kyc.fake.set_verification_status(session_id, "canceled")
    [canceled] = kyc.fake.events_about(session_id, "identity.verification_session.canceled")
    assert (await kyc.post(canceled))[1]["outcome"] == "APPLIED"
    assert (await kyc.record(creator)).identity.status is S.CANCELED
    stale = copy.deepcopy(processing)
    stale["id"] = "evt_late_processing"
    assert (await kyc.post(stale))[1]["outcome"] == "OUT_OF_ORDER"
    assert (await kyc.record(creator)).identity.status is S.CANCELED
    restarted = await kyc.start(creator)  # canceled: the person may start again
    assert restarted.record.identity.status is S.PENDING


async def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    session_id = (await kyc.start(creator)).record.provider_session_id or ""
    kyc.fake.webhook_urls.clear()
    kyc.fake.set_verification_status(session_id, "verified")
    [event] = kyc.fake.events_about(session_id, "identity.verification_session.verified")
    status, body = await kyc.post(event, secret="whsec_someone_else")
    assert (status, body) == (400, {"error": "signature verification failed"})
    headers, raw = kyc.fake.webhook_delivery(event)
    headers["Stripe-Signature"] = kyc.fake.sign(raw, timestamp=1_000_000_000)  # too old
    async with kyc.http.post(kyc.webhook_url, data=raw, headers=headers) as response:
        assert response.status == 400
    async with kyc.http.post(kyc.webhook_url, data=raw) as response:  # no signature at all
        assert response.status == 400
    assert (await kyc.record(creator)).identity.status is S.PENDING


async def test_an_unreachable_stripe_is_a_typed_refusal_that_writes_nothing(
    economy: Economy,
    start_economy: Callable[..., Awaitable[Economy]],
    make_user: Callable[..., Awaitable[User]],
    unused_tcp_port: int,
) -> None:
    eco = await start_economy(
        compliance=replace(
            economy.settings.compliance,
            stripe_identity_api_key="sk_test_nobody_home",
            stripe_identity_api_base=f"http://127.0.0.1:{unused_tcp_port}",
        )
    )
    creator = await make_user()
    verifier = StripeIdentity.of(eco.settings)
    assert verifier is not None
    try:
        with pytest.raises(DomainError) as refused:
            await identity_service.start_stripe(compliance_of(eco), creator, verifier)
    finally:
        await verifier.close()
    assert refused.value.code == "PROVIDER_UNAVAILABLE"
    async with eco.db.read() as conn:
        assert (await identity_store.load(conn, creator.id)).identity.status is S.NOT_STARTED


async def test_a_person_verified_by_stripe_passes_the_payout_gate(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    creator = await make_user()
    finance = await kyc.eco.users.ensure("finance:fay")
    await load_sample_sanctions(kyc.eco)
    session_id = (await kyc.start(creator)).record.provider_session_id or ""
    kyc.fake.set_verification_status(
        session_id, "verified", verified_outputs=verified_outputs(date(1985, 2, 28))
    )
    await kyc.settle()
    await tax_service.submit_tax_form(
        compliance_of(kyc.eco),
        creator,
        kind=TaxFormKind.W9,
        legal_name="Jenny Rosen",
        country="US",
        tin_type=TinType.SSN,
        tin=VALID_SSN,
        certified=True,
        today=TODAY,
    )
    added = await add_method(kyc.eco, creator, "paypal")
    await methods_service.review_payout_method(
        compliance_of(kyc.eco), finance, method_id=added.id, verify=True, note="ok"
    )
    async with kyc.eco.db.read() as conn:
        found = await gate_service.check_payout(
            conn,
            user_id=creator.id,
            provider="paypal",
            currency="USD",
            amount_minor=10_000,
            today=TODAY,
            settings=kyc.eco.settings,
        )
    assert (found.eligible, found.requirements) == (True, ())


async def test_the_age_path_is_driven_over_http_through_the_fakes_admin_api(
    kyc: Kyc, make_user: Callable[..., Awaitable[User]]
) -> None:
    """Nothing injected into the fake's memory: the session is verified with its outputs through
    `/__fake__`, the webhook carries no outputs (as Stripe's does not), and our verifier reads the
    date of birth only because it expands `verified_outputs.dob` as well as `verified_outputs`."""
    creator = await make_user()
    session_id = (await kyc.start(creator)).record.provider_session_id or ""
    outputs = verified_outputs(date(2011, 3, 4))
    async with kyc.http.post(
        f"{kyc.fake.url}/__fake__/identity/verification_sessions/{session_id}",
        json={"status": "verified", "verified_outputs": outputs},
    ) as answer:
        assert answer.status == 200
        assert "verified_outputs" not in await answer.json()
    await kyc.settle()
    ident = (await kyc.record(creator)).identity
    assert (ident.status, ident.legal_name, ident.birth_date) == (
        S.VERIFIED,
        "Jenny Rosen",
        date(2011, 3, 4),
    )
    async with kyc.eco.db.read() as conn:
        found = await gate_service.check_payout(
            conn,
            user_id=creator.id,
            provider="paypal",
            currency="USD",
            amount_minor=1,
            today=TODAY,
            settings=kyc.eco.settings,
        )
    assert "AGE_UNVERIFIED" in [r.code for r in found.requirements], "a minor is held back"
    headers = {"Authorization": f"Bearer {kyc.fake.secret_key}"}
    url = f"{kyc.fake.url}/v1/identity/verification_sessions/{session_id}"
    async with kyc.http.get(url, params={"expand[]": "verified_outputs"}, headers=headers) as r:
        plain = await r.json()
    assert plain["verified_outputs"]["first_name"] == "Jenny"
    assert plain["verified_outputs"]["dob"] is None, "the date of birth needs its own expansion"
    assert kyc.fake.shape_violations == []
