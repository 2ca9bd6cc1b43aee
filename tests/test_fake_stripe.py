"""The fake Stripe server over real HTTP: Stripe's wire format (form bodies, auth, Stripe-Account,
Idempotency-Key), object shapes as Stripe publishes them, payout transitions, signed webhooks,
fault injection, the admin API, and `diamonds-fakes`."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import stripe
from aiohttp import web
from diamonds_fakes import stripe_params
from diamonds_fakes.faults import Fault, FaultKind
from diamonds_fakes.stripe_server import API_VERSION, FakeStripe, decode_params
from diamonds_fakes.stripe_shapes import FIXTURES as PACKAGED_FIXTURES
from diamonds_fakes.stripe_shapes import shape_errors

FIXTURES = Path(__file__).parent / "data" / "stripe_fixtures3.json"
"""Stripe's published example objects (MIT License, `data/STRIPE-LICENSE`)."""
REPO = Path(__file__).resolve().parent.parent


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        yield server


@pytest_asyncio.fixture
async def http(fake: FakeStripe) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession(base_url=fake.url) as session:
        yield Http(session, fake.secret_key)


class Http:
    """Raw HTTP to the fake, as any Stripe client would send it."""

    def __init__(self, session: aiohttp.ClientSession, key: str) -> None:
        self.session = session
        self.key = key

    async def call(
        self,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        *,
        key: str | None = None,
        account: str | None = None,
        idempotency_key: str | None = None,
        auth: str | None = None,
    ) -> tuple[int, Any, Mapping[str, str]]:
        headers = {"Authorization": auth if auth is not None else f"Bearer {key or self.key}"}
        if account:
            headers["Stripe-Account"] = account
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        query, body = (data, None) if method == "GET" else (None, data)
        async with self.session.request(
            method, path, params=query, data=body, headers=headers
        ) as resp:
            return resp.status, await resp.json(), resp.headers

    async def admin(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        async with self.session.request(method, f"/__fake__{path}", json=body) as resp:
            return resp.status, await resp.json()


def shape(value: Any) -> Any:
    """The keys of an object, recursively, where both sides are objects."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return None


def assert_same_shape(ours: dict[str, Any], published: dict[str, Any], path: str = "") -> None:
    assert set(ours) == set(published), f"{path or 'top level'}: keys differ"
    for key, value in published.items():
        if isinstance(value, dict) and isinstance(ours[key], dict) and value:
            if key in ("metadata",) or not value.keys() - {"data", "has_more", "object", "url"}:
                continue
            assert_same_shape(ours[key], value, f"{path}.{key}")


# --- the wire format ------------------------------------------------------------------------------


def test_form_bodies_decode_into_nested_data() -> None:
    pairs = [
        ("amount", "100"),
        ("metadata[payout_id]", "po-1"),
        ("metadata[note]", ""),
        ("expand[]", "destination"),
        ("expand[]", "balance_transaction"),
        ("items[0][price]", "p_1"),
        ("items[1][price]", "p_2"),
        ("created[gte]", "10"),
    ]
    assert decode_params(pairs) == {
        "amount": "100",
        "metadata": {"payout_id": "po-1", "note": ""},
        "expand": ["destination", "balance_transaction"],
        "items": [{"price": "p_1"}, {"price": "p_2"}],
        "created": {"gte": "10"},
    }


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("", "You did not provide an API key"),
        ("Bearer sk_test_wrong_key_123", "Invalid API Key provided: sk_test_****_123"),
        ("Token abc", "You did not provide an API key"),
    ],
)
async def test_requests_without_the_secret_key_get_stripes_401(
    http: Http, auth: str, message: str
) -> None:
    status, body, _ = await http.call("GET", "/v1/balance", auth=auth)
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(message)


async def test_basic_auth_with_the_key_as_user_is_accepted(http: Http, fake: FakeStripe) -> None:
    auth = "Basic " + base64.b64encode(f"{fake.secret_key}:".encode()).decode()
    status, body, headers = await http.call("GET", "/v1/balance", auth=auth)
    assert status == 200
    assert body["object"] == "balance"
    assert headers["Request-Id"].startswith("req_")


async def test_an_unknown_connected_account_is_refused(http: Http) -> None:
    status, body, _ = await http.call("GET", "/v1/balance", account="acct_nobody")
    assert status == 403
    assert body["error"]["code"] == "account_invalid"


async def test_unknown_paths_and_ids_answer_in_stripes_shape(http: Http) -> None:
    status, body, _ = await http.call("GET", "/v1/nothing_here")
    assert status == 404
    assert body["error"]["message"].startswith("Unrecognized request URL (GET: /v1/nothing_here)")
    status, body, _ = await http.call("GET", "/v1/transfers/tr_missing")
    assert (status, body["error"]["code"]) == (404, "resource_missing")


async def test_missing_and_malformed_parameters_are_named(http: Http, fake: FakeStripe) -> None:
    account = fake.create_account()
    status, body, _ = await http.call("POST", "/v1/transfers", {"currency": "usd"})
    assert (status, body["error"]["code"], body["error"]["param"]) == (
        400,
        "parameter_missing",
        "amount",
    )
    status, body, _ = await http.call(
        "POST", "/v1/transfers", {"amount": "12.5", "currency": "usd", "destination": account}
    )
    assert (status, body["error"]["code"]) == (400, "parameter_invalid_integer")


# --- idempotency ----------------------------------------------------------------------------------


async def test_the_same_key_and_parameters_replay_the_first_answer(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    params = {"amount": "700", "currency": "usd", "destination": account}
    first = await http.call("POST", "/v1/transfers", params, idempotency_key="k-1")
    again = await http.call("POST", "/v1/transfers", params, idempotency_key="k-1")
    assert first[0] == again[0] == 200
    assert again[1] == first[1]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first[2]
    assert len(fake.transfers) == 1
    assert fake.balance_of(account) == 700


async def test_the_same_key_with_other_parameters_is_an_idempotency_error(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    params = {"amount": "700", "currency": "usd", "destination": account}
    await http.call("POST", "/v1/transfers", params, idempotency_key="k-2")
    status, body, _ = await http.call(
        "POST", "/v1/transfers", {**params, "amount": "701"}, idempotency_key="k-2"
    )
    assert status == 400
    assert body["error"]["type"] == "idempotency_error"
    assert len(fake.transfers) == 1


async def test_keys_are_scoped_to_the_account(http: Http, fake: FakeStripe) -> None:
    one, two = fake.create_account(balance=500), fake.create_account(balance=500)
    params = {"amount": "100", "currency": "usd"}
    a = await http.call("POST", "/v1/payouts", params, account=one, idempotency_key="same")
    b = await http.call("POST", "/v1/payouts", params, account=two, idempotency_key="same")
    assert a[0] == b[0] == 200
    assert a[1]["id"] != b[1]["id"]


async def test_a_refused_request_replays_its_refusal_but_a_validation_error_does_not(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account(balance=50)
    status, body, _ = await http.call(
        "POST",
        "/v1/payouts",
        {"amount": "100", "currency": "usd"},
        account=account,
        idempotency_key="short",
    )
    assert (status, body["error"]["code"]) == (400, "balance_insufficient")
    fake.accounts[account].available["usd"] = 500
    status, _, headers = await http.call(
        "POST",
        "/v1/payouts",
        {"amount": "100", "currency": "usd"},
        account=account,
        idempotency_key="short",
    )
    assert (status, headers["Idempotent-Replayed"]) == (400, "true"), "a result is kept"

    status, _, _ = await http.call(
        "POST", "/v1/payouts", {"currency": "usd"}, account=account, idempotency_key="fixme"
    )
    assert status == 400
    status, body, _ = await http.call(
        "POST",
        "/v1/payouts",
        {"amount": "100", "currency": "usd"},
        account=account,
        idempotency_key="fixme",
    )
    assert (status, body["object"]) == (200, "payout"), "a request that never ran is not kept"


# --- object shapes --------------------------------------------------------------------------------


async def test_objects_have_the_fields_stripe_publishes(http: Http, fake: FakeStripe) -> None:
    published = json.loads(await asyncio.to_thread(FIXTURES.read_text))["resources"]
    account_id = fake.create_account()
    _, account, _ = await http.call("GET", f"/v1/accounts/{account_id}")
    _, transfer, _ = await http.call(
        "POST", "/v1/transfers", {"amount": "300", "currency": "usd", "destination": account_id}
    )
    _, payout, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "100", "currency": "usd"}, account=account_id
    )
    _, reversal, _ = await http.call(
        "POST", f"/v1/transfers/{transfer['id']}/reversals", {"amount": "100"}
    )
    _, balance, _ = await http.call("GET", "/v1/balance", account=account_id)
    _, intent, _ = await http.call(
        "POST", "/v1/payment_intents", {"amount": "99", "currency": "usd"}
    )
    _, session, _ = await http.call(
        "POST", "/v1/identity/verification_sessions", {"type": "document"}
    )
    _, event, _ = await http.call("GET", f"/v1/events/{fake.events[0]['id']}")

    for name, ours in [
        ("account", account),
        ("transfer", transfer),
        ("payout", payout),
        ("transfer_reversal", reversal),
        ("balance", balance),
        ("payment_intent", intent),
        ("identity.verification_session", session),
    ]:
        assert_same_shape(ours, published[name], name)
        assert ours.get("object", "balance") == published[name].get("object", "balance")
    assert set(event) == set(published["event"])  # a platform event: no `account`
    payout_event = fake.events_about(payout["id"], "payout.created")[0]
    assert set(payout_event) == set(published["event"]) | {"account"}, "Connect events name it"


async def test_stripe_python_reads_the_fakes_objects() -> None:
    async with FakeStripe() as server:
        account = server.create_account(country="DE", currency="eur")
        http = stripe.AIOHTTPClient()
        client = stripe.StripeClient(
            server.secret_key, base_addresses={"api": server.url}, http_client=http
        )
        try:
            transfer = await client.v1.transfers.create_async(
                {"amount": 900, "currency": "eur", "destination": account, "transfer_group": "g"}
            )
            payout = await client.v1.payouts.create_async(
                {"amount": 900, "currency": "eur", "metadata": {"payout_id": "x"}},
                {"stripe_account": account},
            )
            listed = await client.v1.transfers.list_async({"transfer_group": "g"})
            session = await client.v1.identity.verification_sessions.create_async(
                {"type": "document", "client_reference_id": "user-7"}
            )
            server.set_verification_status(session.id, "verified")
            fetched = await client.v1.identity.verification_sessions.retrieve_async(session.id)
        finally:
            await http.close_async()  # type: ignore[no-untyped-call]
    assert isinstance(transfer, stripe.Transfer)
    assert transfer.destination == account
    assert isinstance(payout, stripe.Payout)
    assert payout.metadata is not None
    assert (payout.status, payout.currency, payout.metadata["payout_id"]) == ("pending", "eur", "x")
    assert [t.id for t in listed.data] == [transfer.id]
    assert isinstance(fetched, stripe.identity.VerificationSession)
    assert fetched.status == "verified"
    assert fetched.client_reference_id == "user-7"
    assert fetched.last_verification_report is not None


# --- as strict as Stripe -------------------------------------------------------------------------


async def test_unknown_parameters_are_refused_with_stripes_error(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    params = {"amount": "700", "currency": "usd", "destination": account, "foo": "bar"}
    status, body, headers = await http.call("POST", "/v1/transfers", params)
    assert status == 400
    assert body["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "param": "foo",
        "message": "Received unknown parameter: foo",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
    }
    assert headers["Request-Id"].startswith("req_")
    assert fake.transfers == {}, "nothing was made"
    status, body, _ = await http.call(
        "POST",
        "/v1/identity/verification_sessions",
        {"type": "document", "options[document][require_selfie]": "true"},
    )
    assert (status, body["error"]["param"]) == (400, "options[document][require_selfie]")
    status, body, _ = await http.call("GET", "/v1/payouts", {"created[since]": "1"})
    assert (status, body["error"]["code"]) == (400, "parameter_unknown")
    status, body, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "1", "currency": "usd", "method": "fast"}
    )
    assert (status, body["error"]["param"]) == (400, "method")


async def test_a_currency_stripe_does_not_take_is_refused(http: Http, fake: FakeStripe) -> None:
    account = fake.create_account()
    status, body, _ = await http.call(
        "POST", "/v1/transfers", {"amount": "700", "currency": "xyz", "destination": account}
    )
    assert (status, body["error"]["type"], body["error"]["param"]) == (
        400,
        "invalid_request_error",
        "currency",
    )
    assert body["error"]["message"].startswith(
        "Invalid currency: xyz. Stripe currently supports these currencies: "
    )
    assert fake.transfers == {}
    status, _, _ = await http.call(
        "POST", "/v1/payment_intents", {"amount": "700", "currency": "EUR"}
    )
    assert status == 200, "upper case is a currency Stripe takes"


async def test_expand_fills_the_fields_the_project_expands_and_refuses_others(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    params = {"amount": "300", "currency": "usd", "destination": account}
    _, transfer, _ = await http.call(
        "POST", "/v1/transfers", {**params, "expand[]": "balance_transaction"}
    )
    assert transfer["balance_transaction"]["object"] == "balance_transaction"
    assert transfer["balance_transaction"]["amount"] == -300
    assert isinstance(fake.transfers[transfer["id"]]["balance_transaction"], str), "a copy"
    _, listed, _ = await http.call(
        "GET",
        "/v1/transfers",
        {"expand[0]": "data.balance_transaction", "expand[1]": "data.destination"},
    )
    assert listed["data"][0]["destination"]["object"] == "account"
    assert listed["data"][0]["balance_transaction"]["id"] == transfer["balance_transaction"]["id"]
    status, body, _ = await http.call("GET", f"/v1/transfers/{transfer['id']}", {"expand[]": "foo"})
    assert (status, body["error"]["message"]) == (400, "This property cannot be expanded (foo).")
    assert fake.shape_violations == []


async def test_verified_outputs_are_set_over_the_admin_api_and_shown_when_expanded(
    http: Http, fake: FakeStripe
) -> None:
    _, session, _ = await http.call(
        "POST", "/v1/identity/verification_sessions", {"type": "document"}
    )
    path = f"/v1/identity/verification_sessions/{session['id']}"
    _, unverified, _ = await http.call("GET", path, {"expand[]": "verified_outputs"})
    assert unverified["verified_outputs"] is None
    status, bad = await http.admin(
        "POST",
        f"/identity/verification_sessions/{session['id']}",
        {"status": "verified", "verified_outputs": {"birthday": "1990-01-01"}},
    )
    assert (status, bad["error"]) == (409, "verified outputs have no birthday")
    outputs = {
        "first_name": "Jenny",
        "last_name": "Rosen",
        "dob": {"day": 17, "month": 5, "year": 1990},
        "address": {"country": "DE", "city": "Berlin"},
    }
    status, moved = await http.admin(
        "POST",
        f"/identity/verification_sessions/{session['id']}",
        {"status": "verified", "verified_outputs": outputs},
    )
    assert (status, moved["status"]) == (200, "verified")
    _, plain, _ = await http.call("GET", path)
    assert "verified_outputs" not in plain, "not there unless expanded"
    _, shown, _ = await http.call("GET", path, {"expand[]": "verified_outputs"})
    assert shown["verified_outputs"]["first_name"] == "Jenny"
    assert shown["verified_outputs"]["address"]["country"] == "DE"
    assert shown["verified_outputs"]["dob"] is None, "the date of birth is expanded on its own"
    _, full, _ = await http.call(
        "GET", path, {"expand[0]": "verified_outputs", "expand[1]": "verified_outputs.dob"}
    )
    assert full["verified_outputs"]["dob"] == {"day": 17, "month": 5, "year": 1990}
    event = fake.events_about(session["id"], "identity.verification_session.verified")[0]
    assert "verified_outputs" not in event["data"]["object"], "webhooks carry no outputs"
    assert fake.shape_violations == []


async def test_the_clients_stripe_version_is_answered_back(http: Http) -> None:
    _, _, default = await http.call("GET", "/v1/balance")
    assert default["Stripe-Version"] == API_VERSION
    headers = {"Authorization": f"Bearer {http.key}", "Stripe-Version": stripe.api_version}
    async with http.session.get("/v1/balance", headers=headers) as resp:
        assert resp.headers["Stripe-Version"] == stripe.api_version != API_VERSION
    headers["Stripe-Version"] = "last tuesday"
    async with http.session.get("/v1/balance", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["message"].startswith("Invalid Stripe API version")


async def test_injected_rate_limits_and_server_errors_carry_a_request_id(
    http: Http, fake: FakeStripe
) -> None:
    fake.add_fault(Fault(FaultKind.RATE_LIMIT, path="/v1/balance"))
    fake.add_fault(Fault(FaultKind.SERVER_ERROR, path="/v1/events", status=502))
    for path, expected in (("/v1/balance", 429), ("/v1/events", 502)):
        status, body, headers = await http.call("GET", path)
        assert status == expected
        assert body["error"]["type"] in ("invalid_request_error", "api_error")
        assert headers["Request-Id"].startswith("req_")
        assert headers["Stripe-Version"] == API_VERSION


async def test_a_connected_accounts_bank_account_is_a_full_bank_account(
    http: Http, fake: FakeStripe
) -> None:
    account_id = fake.create_account(country="DE", currency="eur", balance=10)
    _, account, _ = await http.call("GET", f"/v1/accounts/{account_id}")
    bank = account["external_accounts"]["data"][0]
    assert (bank["object"], bank["country"], bank["currency"], bank["last4"], bank["status"]) == (
        "bank_account",
        "DE",
        "eur",
        "6789",
        "new",
    )
    assert bank["account"] == account_id
    assert shape_errors(bank) == []
    _, payout, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "1", "currency": "eur"}, account=account_id
    )
    assert payout["destination"] == bank["id"]


async def test_every_answer_keeps_stripes_published_shape(http: Http, fake: FakeStripe) -> None:
    """Each endpoint once (expansions included) and every event: all of Stripe's shape."""
    _, account, _ = await http.call(
        "POST", "/v1/accounts", {"type": "express", "country": "US", "default_currency": "usd"}
    )
    account_id = account["id"]
    answers = [account]
    fake.accounts[account_id].available["usd"] = 10_000
    calls: list[tuple[str, str, dict[str, str], str | None]] = [
        ("GET", f"/v1/accounts/{account_id}", {}, None),
        ("GET", "/v1/balance", {}, account_id),
        (
            "POST",
            "/v1/transfers",
            {"amount": "500", "currency": "usd", "destination": account_id, "metadata[a]": "b"},
            None,
        ),
        ("POST", "/v1/payouts", {"amount": "100", "currency": "usd"}, account_id),
        ("GET", "/v1/transfers", {"expand[]": "data.balance_transaction"}, None),
        ("GET", "/v1/payouts", {"expand[]": "data.balance_transaction"}, account_id),
        ("GET", "/v1/balance_transactions", {"created[gte]": "0"}, account_id),
        ("GET", "/v1/events", {"limit": "100"}, None),
        ("POST", "/v1/payment_intents", {"amount": "99", "currency": "usd"}, None),
        ("POST", "/v1/identity/verification_sessions", {"type": "document"}, None),
    ]
    for method, path, params, on in calls:
        status, body, _ = await http.call(method, path, params, account=on)
        assert status == 200, body
        answers.append(body)
    transfer, payout, session = answers[3], answers[4], answers[10]
    fake.set_verification_status(
        session["id"], "verified", verified_outputs={"first_name": "J", "dob": None}
    )
    more = [
        ("POST", f"/v1/transfers/{transfer['id']}/reversals", {"amount": "100"}, None),
        ("GET", f"/v1/transfers/{transfer['id']}/reversals", {}, None),
        ("GET", f"/v1/transfers/{transfer['id']}", {"expand[]": "destination"}, None),
        ("GET", f"/v1/payouts/{payout['id']}", {"expand[]": "balance_transaction"}, account_id),
        ("POST", f"/v1/payouts/{payout['id']}/cancel", {}, account_id),
        ("GET", f"/v1/balance_transactions/{payout['balance_transaction']}", {}, account_id),
        ("GET", f"/v1/events/{fake.events[0]['id']}", {}, None),
        ("GET", f"/v1/payment_intents/{answers[9]['id']}", {}, None),
        (
            "GET",
            f"/v1/identity/verification_sessions/{session['id']}",
            {"expand[0]": "verified_outputs", "expand[1]": "verified_outputs.dob"},
            None,
        ),
    ]
    for method, path, params, on in more:
        status, body, _ = await http.call(method, path, params, account=on)
        assert status == 200, body
        answers.append(body)
    for answer in answers + fake.events:
        assert shape_errors(answer) == [], answer.get("object")
    assert fake.shape_violations == []


async def test_an_answer_that_leaves_the_published_shape_fails_loudly(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    _, transfer, _ = await http.call(
        "POST", "/v1/transfers", {"amount": "300", "currency": "usd", "destination": account}
    )
    assert shape_errors({**transfer, "amount": "300"}) == [
        "transfer.amount: expected integer, got string"
    ]
    stub = json.loads(json.dumps(fake.accounts[account].body))
    stub["external_accounts"]["data"][0] = {
        "id": "ba_1",
        "object": "bank_account",
        "account": account,
    }
    assert any("missing" in e and "last4" in e for e in shape_errors(stub))
    del fake.transfers[transfer["id"]]["reversed"]
    status, body, _ = await http.call("GET", f"/v1/transfers/{transfer['id']}")
    assert (status, body["error"]["type"]) == (500, "api_error")
    assert "transfer: missing reversed" in body["error"]["message"]
    assert len(fake.shape_violations) == 1


def test_the_packaged_shapes_are_stripes_published_fixtures() -> None:
    full = json.loads(FIXTURES.read_text())["resources"]
    packaged = json.loads(PACKAGED_FIXTURES.read_text())["resources"]
    assert packaged == {name: full[name] for name in packaged}


STRIPE_PARAMS: dict[tuple[str, str], Any] = {
    ("POST", "/v1/accounts"): stripe.params.AccountCreateParams,
    ("GET", "/v1/accounts/{id}"): stripe.params.AccountRetrieveParams,
    ("GET", "/v1/balance"): stripe.params.BalanceRetrieveParams,
    ("POST", "/v1/transfers"): stripe.params.TransferCreateParams,
    ("GET", "/v1/transfers"): stripe.params.TransferListParams,
    ("GET", "/v1/transfers/{id}"): stripe.params.TransferRetrieveParams,
    ("POST", "/v1/transfers/{id}/reversals"): stripe.params.TransferCreateReversalParams,
    ("GET", "/v1/transfers/{id}/reversals"): stripe.params.TransferListReversalsParams,
    ("POST", "/v1/payouts"): stripe.params.PayoutCreateParams,
    ("GET", "/v1/payouts"): stripe.params.PayoutListParams,
    ("GET", "/v1/payouts/{id}"): stripe.params.PayoutRetrieveParams,
    ("POST", "/v1/payouts/{id}/cancel"): stripe.params.PayoutCancelParams,
    ("GET", "/v1/balance_transactions"): stripe.params.BalanceTransactionListParams,
    ("GET", "/v1/balance_transactions/{id}"): stripe.params.BalanceTransactionRetrieveParams,
    ("GET", "/v1/events"): stripe.params.EventListParams,
    ("GET", "/v1/events/{id}"): stripe.params.EventRetrieveParams,
    ("POST", "/v1/payment_intents"): stripe.params.PaymentIntentCreateParams,
    ("GET", "/v1/payment_intents/{id}"): stripe.params.PaymentIntentRetrieveParams,
    ("POST", "/v1/identity/verification_sessions"): (
        stripe.params.identity.VerificationSessionCreateParams
    ),
    ("GET", "/v1/identity/verification_sessions/{id}"): (
        stripe.params.identity.VerificationSessionRetrieveParams
    ),
    ("POST", "/v1/identity/verification_sessions/{id}/cancel"): (
        stripe.params.identity.VerificationSessionCancelParams
    ),
}
"""The request types stripe-python generates from Stripe's OpenAPI document, per endpoint."""


def _stripe_fields(typed: Any) -> dict[str, str]:
    options = set(stripe.RequestOptions.__annotations__)
    return {k: str(v) for k, v in typed.__annotations__.items() if k not in options}


def _nested(typed: Any, annotation: str) -> Any:
    """The TypedDict a field's annotation names (`NotRequired['...Options']`)."""
    module = sys.modules[typed.__module__]
    names = [n for n in vars(module) if n in annotation and n.startswith(typed.__name__)]
    return getattr(module, max(names, key=len))


def _compare(ours: Mapping[str, stripe_params.Param], typed: Any, where: str) -> None:
    theirs = _stripe_fields(typed)
    assert set(theirs) <= set(ours), f"{where}: Stripe takes {sorted(set(theirs) - set(ours))}"
    unknown = set(ours) - set(theirs) - stripe_params.OLDER_NAMES
    assert not unknown, f"{where}: Stripe does not take {sorted(unknown)}"
    for name, param in ours.items():
        if param.kind is stripe_params.Kind.OBJECT:
            _compare(param.fields, _nested(typed, theirs[name]), f"{where}[{name}]")


@pytest.mark.parametrize("route", sorted(stripe_params.ENDPOINTS))
def test_the_parameter_table_names_what_stripes_published_api_takes(
    route: tuple[str, str],
) -> None:
    assert set(STRIPE_PARAMS) == set(stripe_params.ENDPOINTS)
    _compare(stripe_params.ENDPOINTS[route].params, STRIPE_PARAMS[route], " ".join(route))


# --- payouts: transitions and balances ------------------------------------------------------------


async def test_payouts_step_from_pending_to_paid_through_the_admin_api(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account(balance=1_000)
    _, payout, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "400", "currency": "usd"}, account=account
    )
    assert payout["status"] == "pending"
    assert fake.balance_of(account) == 600
    for expected in ("in_transit", "paid"):
        status, moved = await http.admin("POST", f"/payouts/{payout['id']}/advance")
        assert (status, moved["status"]) == (200, expected)
    status, body = await http.admin(
        "POST", f"/payouts/{payout['id']}/advance", {"status": "canceled"}
    )
    assert status == 409
    assert "cannot go from paid to canceled" in body["error"]
    types = [e["type"] for e in fake.events_about(payout["id"])]
    assert types == [
        "payout.created",
        "payout.updated",
        "payout.updated",
        "payout.paid",
    ]
    _, fetched, _ = await http.call("GET", f"/v1/payouts/{payout['id']}", account=account)
    assert fetched["status"] == "paid"
    assert (await http.call("GET", f"/v1/payouts/{payout['id']}"))[0] == 404, "other account"


async def test_a_paid_payout_can_still_fail_and_its_money_returns_to_the_account(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account(balance=400)
    _, payout, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "400", "currency": "usd"}, account=account
    )
    fake.advance_payout(payout["id"], "paid")
    status, failed = await http.admin(
        "POST",
        f"/payouts/{payout['id']}/advance",
        {"status": "failed", "failure_code": "invalid_account_number"},
    )
    assert status == 200
    assert failed["failure_code"] == "invalid_account_number"
    assert failed["failure_message"].startswith("The routing number seems correct")
    assert failed["failure_balance_transaction"].startswith("txn_")
    assert fake.balance_of(account) == 400
    (update,) = [
        e
        for e in fake.events_about(payout["id"], "payout.updated")
        if e["data"]["object"]["status"] == "failed"
    ]
    assert update["data"]["previous_attributes"]["status"] == "paid"
    assert update["account"] == account


async def test_account_rules_fail_payouts_as_they_advance(fake: FakeStripe, http: Http) -> None:
    closed = fake.create_account(balance=100, payout_failure_code="account_closed")
    flaky = fake.create_account(balance=100, fail_after_paid=True)
    outcomes = {}
    for account in (closed, flaky):
        _, payout, _ = await http.call(
            "POST", "/v1/payouts", {"amount": "100", "currency": "usd"}, account=account
        )
        seen = []
        for _ in range(3):
            seen.append(fake.advance_payout(payout["id"])["status"])
        outcomes[account] = seen
    assert outcomes[closed] == ["in_transit", "failed", "failed"]
    assert outcomes[flaky] == ["in_transit", "paid", "failed"]


async def test_a_clock_moves_payouts_by_itself() -> None:
    async with FakeStripe(auto_advance_seconds=0.02) as server:
        account = server.create_account(balance=100)
        async with aiohttp.ClientSession(base_url=server.url) as session:
            http = Http(session, server.secret_key)
            _, payout, _ = await http.call(
                "POST", "/v1/payouts", {"amount": "100", "currency": "usd"}, account=account
            )
            for _ in range(100):
                if server.payouts[payout["id"]]["status"] == "paid":
                    break
                await asyncio.sleep(0.01)
            status, _ = await http.admin("POST", "/clock", {"auto_advance_seconds": None})
    assert status == 200
    assert server.payouts[payout["id"]]["status"] == "paid"


async def test_a_pending_payout_can_be_canceled(http: Http, fake: FakeStripe) -> None:
    account = fake.create_account(balance=100)
    _, payout, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "100", "currency": "usd"}, account=account
    )
    status, canceled, _ = await http.call(
        "POST", f"/v1/payouts/{payout['id']}/cancel", account=account
    )
    assert (status, canceled["status"]) == (200, "canceled")
    assert fake.balance_of(account) == 100
    status, body, _ = await http.call("POST", f"/v1/payouts/{payout['id']}/cancel", account=account)
    assert (status, body["error"]["code"]) == (400, "payout_not_cancelable")


async def test_accounts_that_cannot_pay_out_refuse_payouts(http: Http) -> None:
    status, account = await http.admin(
        "POST", "/accounts", {"balance": 100, "past_due": ["external_account"]}
    )
    assert status == 201
    assert account["requirements"]["past_due"] == ["external_account"]
    status, body, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "1", "currency": "usd"}, account=account["id"]
    )
    assert (status, body["error"]["code"]) == (400, "payouts_not_allowed")
    await http.admin("POST", f"/accounts/{account['id']}", {"past_due": []})
    status, _, _ = await http.call(
        "POST", "/v1/payouts", {"amount": "1", "currency": "usd"}, account=account["id"]
    )
    assert status == 200


async def test_lists_page_and_filter(http: Http, fake: FakeStripe) -> None:
    account = fake.create_account()
    for n in range(5):
        await http.call(
            "POST",
            "/v1/transfers",
            {
                "amount": "1",
                "currency": "usd",
                "destination": account,
                "transfer_group": f"g{n % 2}",
            },
        )
    _, page, _ = await http.call("GET", "/v1/transfers?limit=2")
    assert (len(page["data"]), page["has_more"], page["url"]) == (2, True, "/v1/transfers")
    _, rest, _ = await http.call(
        "GET", f"/v1/transfers?limit=10&starting_after={page['data'][-1]['id']}"
    )
    assert len(rest["data"]) == 3
    assert not rest["has_more"]
    _, group, _ = await http.call("GET", "/v1/transfers?transfer_group=g1")
    assert [t["transfer_group"] for t in group["data"]] == ["g1", "g1"]


# --- webhooks -------------------------------------------------------------------------------------


async def test_events_are_posted_signed_and_verify_with_stripes_own_library() -> None:
    got: list[dict[str, Any]] = []
    flaky = {"left": 1}

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.read()
        event = stripe.Webhook.construct_event(
            body.decode(), request.headers["Stripe-Signature"], secret, tolerance=300
        )
        if event["type"] == "payout.paid" and flaky["left"]:
            flaky["left"] -= 1
            return web.Response(status=500)
        got.append({"type": event["type"], "id": event["id"]})
        return web.Response(status=200)

    secret = "whsec_test_endpoint"
    app = web.Application()
    app.router.add_post("/webhooks/stripe", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/stripe"
    try:
        async with FakeStripe(webhook_secret=secret, webhook_urls=[url]) as server:
            account = server.create_account(balance=100)
            async with aiohttp.ClientSession(base_url=server.url) as session:
                http = Http(session, server.secret_key)
                _, payout, _ = await http.call(
                    "POST", "/v1/payouts", {"amount": "100", "currency": "usd"}, account=account
                )
                server.advance_payout(payout["id"], "paid")
                await server.wait_for_deliveries()
                status, hooks = await http.admin("GET", "/webhooks")
                paid = server.events_about(payout["id"], "payout.paid")[0]["id"]
                await http.admin("POST", f"/events/{paid}/resend")
                await server.wait_for_deliveries()
    finally:
        await runner.cleanup()

    assert status == 200
    assert [g["type"] for g in got] == [
        "payout.created",
        "payout.updated",
        "payout.paid",
        "payout.paid",
    ]
    assert got[2]["id"] == got[3]["id"] == paid
    paid_delivery = next(d for d in hooks["deliveries"] if d["type"] == "payout.paid")
    assert (paid_delivery["status"], paid_delivery["attempts"]) == (200, 2), "retried after 500"


async def test_webhook_urls_are_managed_through_the_admin_api(http: Http) -> None:
    status, body = await http.admin("POST", "/webhooks", {"url": "http://127.0.0.1:9/x"})
    assert (status, body["urls"]) == (201, ["http://127.0.0.1:9/x"])
    status, body = await http.admin("POST", "/webhooks", {"url": "ftp://nope"})
    assert status == 400
    status, body = await http.admin("DELETE", "/webhooks")
    assert body["urls"] == []


# --- coin purchases and identity ------------------------------------------------------------------


async def test_payment_intents_succeed_or_fail_on_command(http: Http, fake: FakeStripe) -> None:
    _, intent, _ = await http.call(
        "POST",
        "/v1/payment_intents",
        {"amount": "499", "currency": "usd", "metadata[bundle]": "b1"},
    )
    assert intent["client_secret"].startswith(intent["id"] + "_secret_")
    assert intent["status"] == "requires_payment_method"
    status, failed = await http.admin(
        "POST", f"/payment_intents/{intent['id']}/fail", {"code": "insufficient_funds"}
    )
    assert failed["last_payment_error"]["code"] == "insufficient_funds"
    status, done = await http.admin("POST", f"/payment_intents/{intent['id']}/succeed")
    assert (status, done["status"], done["amount_received"]) == (200, "succeeded", 499)
    status, _ = await http.admin("POST", f"/payment_intents/{intent['id']}/succeed")
    assert status == 409
    types = [e["type"] for e in fake.events_about(intent["id"])]
    assert types == [
        "payment_intent.created",
        "payment_intent.payment_failed",
        "payment_intent.succeeded",
    ]


async def test_verification_sessions_move_through_their_statuses(
    http: Http, fake: FakeStripe
) -> None:
    _, session, _ = await http.call(
        "POST",
        "/v1/identity/verification_sessions",
        {"type": "document", "options[document][require_matching_selfie]": "true"},
    )
    assert session["status"] == "requires_input"
    assert session["options"] == {"document": {"require_matching_selfie": True}}
    status, moved = await http.admin(
        "POST",
        f"/identity/verification_sessions/{session['id']}",
        {"status": "requires_input", "error_code": "document_expired"},
    )
    assert moved["last_error"]["code"] == "document_expired"
    status, moved = await http.admin(
        "POST", f"/identity/verification_sessions/{session['id']}", {"status": "nonsense"}
    )
    assert status == 409
    _, canceled, _ = await http.call(
        "POST", f"/v1/identity/verification_sessions/{session['id']}/cancel"
    )
    assert canceled["status"] == "canceled"
    _, fetched, _ = await http.call("GET", f"/v1/identity/verification_sessions/{session['id']}")
    assert fetched["status"] == "canceled"
    assert [e["type"] for e in fake.events_about(session["id"])][-1] == (
        "identity.verification_session.canceled"
    )


# --- faults ---------------------------------------------------------------------------------------


async def test_faults_are_set_listed_and_cleared_through_the_admin_api(http: Http) -> None:
    status, body = await http.admin(
        "POST",
        "/faults",
        [
            {"kind": "rate_limit", "path": "/v1/balance", "retry_after": 4},
            {"kind": "server_error", "status": 503, "times": None, "probability": 0.0},
        ],
    )
    assert status == 201
    assert [f["kind"] for f in body["faults"]] == ["rate_limit", "server_error"]
    status, answer, headers = await http.call("GET", "/v1/balance")
    assert (status, headers["Retry-After"], answer["error"]["code"]) == (429, "4", "rate_limit")
    assert (await http.call("GET", "/v1/balance"))[0] == 200, "hit once, then gone"
    _, listed = await http.admin("GET", "/faults")
    assert listed["hits"]["rate_limit"] == 1
    assert len(listed["faults"]) == 1
    await http.admin("DELETE", "/faults")
    assert (await http.admin("GET", "/faults"))[1]["faults"] == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "meteor"}, "kind must be one of"),
        ({"kind": "latency", "seconds": -1}, "seconds must be from 0 to 3600"),
        ({"kind": "server_error", "status": 404}, "status must be a 5xx status"),
        ({"kind": "drop", "when": "later"}, "unknown fault fields: when"),
        ({"kind": "drop", "probability": 2}, "probability must be from 0 to 1"),
        ("drop", "a fault is a JSON object"),
    ],
)
async def test_a_bad_fault_is_refused_with_the_reason(
    http: Http, fault: object, message: str
) -> None:
    status, body = await http.admin("POST", "/faults", fault)
    assert status == 400
    assert message in body["error"]


async def test_a_server_error_changes_nothing_and_a_retry_with_the_key_succeeds(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    fake.add_fault(Fault(FaultKind.SERVER_ERROR, method="POST"))
    params = {"amount": "10", "currency": "usd", "destination": account}
    status, body, headers = await http.call("POST", "/v1/transfers", params, idempotency_key="r")
    assert (status, body["error"]["type"], headers["Stripe-Should-Retry"]) == (
        500,
        "api_error",
        "true",
    )
    assert fake.transfers == {}
    status, _, _ = await http.call("POST", "/v1/transfers", params, idempotency_key="r")
    assert status == 200
    assert len(fake.transfers) == 1


async def test_a_dropped_connection_after_the_effect_leaves_the_object_made(
    http: Http, fake: FakeStripe
) -> None:
    account = fake.create_account()
    fake.add_fault(Fault(FaultKind.DROP, method="POST", path="/v1/transfers"))
    params = {"amount": "10", "currency": "usd", "destination": account}
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.call("POST", "/v1/transfers", params, idempotency_key="d")
    assert len(fake.transfers) == 1
    status, _, headers = await http.call("POST", "/v1/transfers", params, idempotency_key="d")
    assert (status, headers["Idempotent-Replayed"]) == (200, "true")


async def test_a_hang_before_the_effect_times_the_client_out_and_makes_nothing(
    fake: FakeStripe,
) -> None:
    account = fake.create_account()
    fake.add_fault(Fault(FaultKind.TIMEOUT, path="/v1/transfers", seconds=2, after_effect=False))
    async with aiohttp.ClientSession(
        base_url=fake.url, timeout=aiohttp.ClientTimeout(total=0.2)
    ) as session:
        with pytest.raises(TimeoutError):
            await Http(session, fake.secret_key).call(
                "POST", "/v1/transfers", {"amount": "1", "currency": "usd", "destination": account}
            )
    assert fake.transfers == {}


async def test_probabilistic_faults_hit_about_their_share(http: Http, fake: FakeStripe) -> None:
    seeded = FakeStripe(fault_seed=7)
    seeded.add_fault(Fault(FaultKind.SERVER_ERROR, times=None, probability=0.25))
    hits = sum(seeded.faults.take("GET", "/v1/balance") is not None for _ in range(2_000))
    assert 400 <= hits <= 600
    assert seeded.faults.take("GET", "/__fake__/state") is None, "admin paths are never hit"


async def test_latency_delays_the_answer(http: Http, fake: FakeStripe) -> None:
    fake.add_fault(Fault(FaultKind.LATENCY, path="/v1/balance", seconds=0.15))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, _ = await http.call("GET", "/v1/balance")
    assert status == 200
    assert loop.time() - started >= 0.15


async def test_the_state_endpoint_counts_what_the_fake_holds(http: Http, fake: FakeStripe) -> None:
    account = fake.create_account(balance=10)
    await http.call("POST", "/v1/payouts", {"amount": "10", "currency": "usd"}, account=account)
    _, state = await http.admin("GET", "/state")
    assert state["accounts"] == 1
    assert state["payouts"] == {"pending": 1}
    assert state["requests"] == 1


# --- `diamonds-fakes` -----------------------------------------------------------------------------


async def test_diamonds_fakes_starts_the_servers_and_stops_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "diamonds_fakes",
        "--only",
        "stripe",
        "--stripe-port",
        "0",
        "--no-webhooks",
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert process.stdout is not None
    env: dict[str, str] = {}
    try:
        async with asyncio.timeout(20):
            while True:
                line = (await process.stdout.readline()).decode()
                assert line, "the command ended early"
                if line.strip().startswith("export "):
                    name, _, value = line.strip().removeprefix("export ").partition("=")
                    env[name] = value
                if line.startswith("Press Ctrl+C"):
                    break
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{env['DIAMONDS_STRIPE_API_BASE']}/v1/balance",
                headers={"Authorization": f"Bearer {env['DIAMONDS_STRIPE_API_KEY']}"},
            ) as resp,
        ):
            assert resp.status == 200
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert env["DIAMONDS_STRIPE_WEBHOOK_SECRET"].startswith("whsec_")


def test_diamonds_fakes_explains_a_port_in_use() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(  # noqa: S603 - our own command
            [
                sys.executable,
                "-m",
                "diamonds_fakes",
                "--only",
                "stripe",
                "--stripe-port",
                str(port),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert f"cannot run fake stripe on 127.0.0.1:{port}" in done.stderr
