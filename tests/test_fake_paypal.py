"""The fake PayPal server speaks PayPal's Payouts v1 wire format over real HTTP: OAuth2, batches
validated against PayPal's OpenAPI document, duplicates, transitions, signed webhooks and faults.
"""

from __future__ import annotations

import asyncio
import base64
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from diamonds_fakes.paypal_server import (
    DEFAULT_SPEC,
    SPEC_SERVER,
    FakePayPal,
    FakePayPalSettings,
    spec_validator,
)
from openapi_core.validation.response.validators import V30ResponseDataValidator

JSON = dict[str, Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def token(http: aiohttp.ClientSession, fake: FakePayPal) -> str:
    auth = basic(fake.settings.client_id, fake.settings.client_secret)
    async with http.post(
        f"{fake.url}/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers=auth
    ) as response:
        assert response.status == 200
        body = await response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    return str(body["access_token"])


def batch_request(sender_batch_id: str, value: str = "12.34", currency: str = "USD") -> JSON:
    return {
        "sender_batch_header": {"sender_batch_id": sender_batch_id, "email_subject": "Payout"},
        "items": [
            {
                "recipient_type": "EMAIL",
                "amount": {"value": value, "currency": currency},
                "receiver": "creator@example.com",
                "sender_item_id": sender_batch_id,
            }
        ],
    }


class SpecResponse:
    """An answer as openapi-core's response validator reads it."""

    def __init__(self, status: int, data: bytes) -> None:
        self.status_code = status
        self.data = data
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}


class SpecRequest:
    def __init__(self, method: str, path: str) -> None:
        from openapi_core.datatypes import RequestParameters

        self.host_url = SPEC_SERVER
        self.path = path
        self.method = method
        self.body = b""
        self.content_type = "application/json"
        self.parameters = RequestParameters()


def assert_matches_spec(method: str, path: str, status: int, data: bytes) -> None:
    """The answer is what PayPal's OpenAPI document says this operation answers."""
    validator = V30ResponseDataValidator(spec_validator(DEFAULT_SPEC).spec)
    validator.validate(SpecRequest(method, path), SpecResponse(status, data))


async def call(
    http: aiohttp.ClientSession,
    fake: FakePayPal,
    method: str,
    path: str,
    body: JSON | None = None,
    bearer: str | None = None,
) -> tuple[int, JSON, bytes]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with http.request(method, f"{fake.url}{path}", json=body, headers=headers) as response:
        raw = await response.read()
        return response.status, json.loads(raw) if raw else {}, raw


async def test_token_needs_the_client_credentials(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    assert await token(http, fake)
    bad = basic(fake.settings.client_id, "wrong-secret")
    async with http.post(
        f"{fake.url}/v1/oauth2/token", data={"grant_type": "client_credentials"}, headers=bad
    ) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_client"
    good = basic(fake.settings.client_id, fake.settings.client_secret)
    async with http.post(
        f"{fake.url}/v1/oauth2/token", data={"grant_type": "password"}, headers=good
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"


async def test_the_api_refuses_requests_without_a_valid_token(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    for bearer in (None, "not-a-token"):
        status, body, _ = await call(
            http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer
        )
        assert status == 401
        assert body["name"] == "AUTHENTICATION_FAILURE"
    assert fake.batches == {}


async def test_a_batch_is_created_read_and_refused_when_its_sender_batch_id_comes_again(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    bearer = await token(http, fake)
    status, created, raw = await call(
        http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer
    )
    assert status == 201
    assert_matches_spec("post", "/v1/payments/payouts", status, raw)
    batch_id = created["batch_header"]["payout_batch_id"]
    assert created["batch_header"]["batch_status"] == "PENDING"
    assert created["batch_header"]["sender_batch_header"]["sender_batch_id"] == "p-1"

    status, batch, raw = await call(
        http, fake, "GET", f"/v1/payments/payouts/{batch_id}", None, bearer
    )
    assert status == 200
    assert_matches_spec("get", f"/v1/payments/payouts/{batch_id}", status, raw)
    (item,) = batch["items"]
    assert item["transaction_status"] == "PENDING"
    assert item["payout_item"]["amount"] == {"value": "12.34", "currency": "USD"}
    assert batch["batch_header"]["amount"] == {"value": "12.34", "currency": "USD"}

    item_path = f"/v1/payments/payouts-item/{item['payout_item_id']}"
    status, item_view, raw = await call(http, fake, "GET", item_path, None, bearer)
    assert status == 200
    assert_matches_spec("get", item_path, status, raw)
    assert item_view["sender_batch_id"] == "p-1"

    status, duplicate, raw = await call(
        http, fake, "POST", "/v1/payments/payouts", batch_request("p-1", "99.00"), bearer
    )
    assert status == 400
    assert_matches_spec("post", "/v1/payments/payouts", status, raw)
    assert duplicate["name"] == "USER_BUSINESS_ERROR"
    assert duplicate["details"][0]["field"] == "SENDER_BATCH_ID"
    assert duplicate["links"][0]["href"] == f"{fake.url}/v1/payments/payouts/{batch_id}"
    assert len(fake.batches) == 1

    status, missing, _ = await call(http, fake, "GET", "/v1/payments/payouts/NOPE", None, bearer)
    assert (status, missing["name"]) == (404, "INVALID_RESOURCE_ID")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sender_batch_header": {"sender_batch_id": "x"}, "items": []}, ""),
        ({"items": batch_request("x")["items"]}, ""),
        (batch_request("x", value="12.345"), "items[0].amount.value"),
        (batch_request("x", value="0.00"), "items[0].amount.value"),
        (batch_request("x", value="500.5", currency="JPY"), "items[0].amount.value"),
        (batch_request("x", currency="XXX"), "items[0].amount.currency"),
        (
            {
                **batch_request("x"),
                "items": [{**batch_request("x")["items"][0], "receiver": "nope"}],
            },
            "items[0].receiver",
        ),
    ],
    ids=["no-items", "no-header", "3-decimals", "zero", "jpy-decimals", "currency", "receiver"],
)
async def test_invalid_batches_are_refused_with_paypal_validation_errors(
    fake: FakePayPal, http: aiohttp.ClientSession, body: JSON, field: str
) -> None:
    bearer = await token(http, fake)
    status, error, raw = await call(http, fake, "POST", "/v1/payments/payouts", body, bearer)
    assert status == 400
    assert_matches_spec("post", "/v1/payments/payouts", status, raw)
    assert error["name"] == "VALIDATION_ERROR"
    assert error["details"]
    if field:
        assert error["details"][0]["field"] == field
    assert fake.batches == {}


async def test_items_move_only_as_paypal_moves_them(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    bearer = await token(http, fake)
    await call(http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer)
    admin = f"{fake.url}/__fake__/payouts/p-1"
    async with http.post(admin, json={"status": "SUCCESS"}) as response:
        assert response.status == 200
        assert (await response.json())["transaction_status"] == "SUCCESS"
    batch = fake.batch_of("p-1")
    assert batch is not None
    assert batch.status == "SUCCESS"
    async with http.post(admin, json={"status": "RETURNED"}) as response:
        assert response.status == 200  # paid, then it came back
    async with http.post(admin, json={"status": "SUCCESS"}) as response:
        assert response.status == 409
    async with http.post(f"{fake.url}/__fake__/payouts/nope", json={"status": "SUCCESS"}) as r:
        assert r.status == 404


async def test_only_an_unclaimed_item_can_be_canceled_and_its_money_returns(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    bearer = await token(http, fake)
    await call(http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer)
    item = fake.item_of("p-1")
    cancel = f"/v1/payments/payouts-item/{item.payout_item_id}/cancel"
    status, error, raw = await call(http, fake, "POST", cancel, {}, bearer)
    assert (status, error["name"]) == (400, "ITEM_INCORRECT_STATUS")
    assert_matches_spec("post", cancel, status, raw)
    fake.set_payout_status("p-1", "UNCLAIMED")
    status, canceled, raw = await call(http, fake, "POST", cancel, {}, bearer)
    assert status == 200
    assert_matches_spec("post", cancel, status, raw)
    assert canceled["transaction_status"] == "RETURNED"
    assert canceled["errors"]["name"] == "RECEIVER_UNREGISTERED"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook endpoint on 127.0.0.1 that keeps what it receives."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/webhooks/paypal", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/webhooks/paypal", received
    await runner.cleanup()


async def test_webhooks_are_signed_as_paypal_signs_them(
    http: aiohttp.ClientSession, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, received = receiver
    async with FakePayPal(FakePayPalSettings(webhook_url=url)) as fake:
        bearer = await token(http, fake)
        await call(http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer)
        fake.set_payout_status("p-1", "SUCCESS")
        await fake.wait_for_deliveries(3)
        async with http.get(fake.cert_url) as response:
            cert = x509.load_pem_x509_certificate(await response.read())

    types = [json.loads(body)["event_type"] for _, body in received]
    assert types == [
        "PAYMENT.PAYOUTSBATCH.PROCESSING",
        "PAYMENT.PAYOUTS-ITEM.SUCCEEDED",
        "PAYMENT.PAYOUTSBATCH.SUCCESS",
    ]
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    for headers, body in received:
        assert headers["PAYPAL-AUTH-ALGO"] == "SHA256withRSA"
        assert headers["PAYPAL-CERT-URL"] == fake.cert_url
        crc = zlib.crc32(body) & 0xFFFFFFFF
        message = (
            f"{headers['PAYPAL-TRANSMISSION-ID']}|{headers['PAYPAL-TRANSMISSION-TIME']}"
            f"|{fake.settings.webhook_id}|{crc}"
        )
        signature = base64.b64decode(headers["PAYPAL-TRANSMISSION-SIG"])
        key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())
    item_event = json.loads(received[1][1])
    assert item_event["resource"]["sender_batch_id"] == "p-1"
    assert item_event["resource"]["transaction_status"] == "SUCCESS"


async def test_faults_and_business_errors_are_driven_through_the_admin_api(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    bearer = await token(http, fake)
    rate_limit = {"kind": "rate_limit", "path": "/v1/payments/payouts", "retry_after": 7}
    async with http.post(f"{fake.url}/__fake__/faults", json=rate_limit) as response:
        assert response.status == 201
    status, body, _ = await call(
        http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer
    )
    assert (status, body["name"]) == (429, "RATE_LIMIT_REACHED")
    async with http.post(f"{fake.url}/__fake__/errors", json={"status": 422}) as response:
        assert response.status == 201
    status, body, _ = await call(
        http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer
    )
    assert (status, body["name"]) == (422, "INSUFFICIENT_FUNDS")
    assert fake.batches == {}
    status, _, _ = await call(
        http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer
    )
    assert status == 201
    async with http.post(f"{fake.url}/__fake__/errors", json={"status": 200}) as response:
        assert response.status == 400


async def test_auto_advance_moves_batches_on_by_itself(http: aiohttp.ClientSession) -> None:
    settings = FakePayPalSettings(
        auto_advance_seconds=0.02, outcomes={"unclaimed@example.com": "UNCLAIMED"}
    )
    async with FakePayPal(settings) as fake:
        bearer = await token(http, fake)
        second = batch_request("p-2")
        second["items"][0]["receiver"] = "unclaimed@example.com"
        await call(http, fake, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer)
        await call(http, fake, "POST", "/v1/payments/payouts", second, bearer)
        for _ in range(100):
            if all(fake.item_of(p).status != "PENDING" for p in ("p-1", "p-2")):
                break
            await asyncio.sleep(0.01)
        assert fake.item_of("p-1").status == "SUCCESS"
        assert fake.item_of("p-2").status == "UNCLAIMED"


async def test_the_admin_api_signs_any_event_for_hand_testing(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    event = {"id": "WH-1", "event_type": "PAYMENT.PAYOUTSBATCH.DENIED", "resource": {}}
    async with http.post(f"{fake.url}/__fake__/webhooks/sign", json={"event": event}) as response:
        signed = await response.json()
    assert json.loads(signed["body"]) == event
    assert set(signed["headers"]) >= {
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    }


async def test_bodies_are_checked_against_paypals_openapi_document(
    fake: FakePayPal, http: aiohttp.ClientSession
) -> None:
    bearer = await token(http, fake)
    body = batch_request("p-1")
    body["sender_batch_header"]["email_subject"] = "x" * 256  # the document allows 255
    status, error, _ = await call(http, fake, "POST", "/v1/payments/payouts", body, bearer)
    assert (status, error["name"]) == (400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "sender_batch_header/email_subject"
    assert "too long" in error["details"][0]["issue"]


async def test_diamonds_fakes_starts_it_with_the_variables_for_the_service(
    http: aiohttp.ClientSession,
) -> None:
    from diamonds_fakes.runner import FAKE_SERVERS, FakeOptions, _builder

    (entry,) = [e for e in FAKE_SERVERS if e.name == "paypal"]
    options = FakeOptions(webhook_url=None, advance_seconds=0.02, fault_seed=1)
    server = _builder(entry)(options)
    url = await server.start("127.0.0.1", 0)
    try:
        env = server.environment()
        assert env["DIAMONDS_PAYPAL_API_BASE"] == url
        assert env["DIAMONDS_PAYPAL_CERT_HOSTS"] == "http://127.0.0.1"
        assert isinstance(server, FakePayPal)
        bearer = await token(http, server)
        await call(http, server, "POST", "/v1/payments/payouts", batch_request("p-1"), bearer)
        for _ in range(100):
            if server.item_of("p-1").status == "SUCCESS":
                break
            await asyncio.sleep(0.01)
        assert server.item_of("p-1").status == "SUCCESS"
    finally:
        await server.stop()
