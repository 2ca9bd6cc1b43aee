"""A creator is paid through the guide's example provider (`examples/acme-payouts`) end to end
over the API, on both databases, with no code of ours naming it: the method added with generic
fields, verified by FINANCE, the payout requested, dispatched, settled by a signed webhook at
/webhooks/acme, the ledger clean; and an unconfigured provider is PROVIDER_NOT_CONFIGURED.

The package is discovered the real way, by `importlib.metadata`: installed
(`pip install --no-deps --no-build-isolation -e examples/acme-payouts`), or else through a
`*.dist-info` made from its own pyproject.toml (tests/acme_fixtures.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from economy.app import Economy
from graph.server import create_app
from payouts.dispatch import Dispatcher
from payouts.service import PayoutService
from payouts.setup import build_payout_service

from .acme_fixtures import ENV
from .compliance_fixtures import (
    fresh_compliance_tables,  # noqa: F401  (autouse)
    make_payout_ready,
)
from .payout_fixtures import ledger_is_clean

CREATOR = ("CREATOR", "VIEWER")
FINANCE = ("FINANCE",)


@pytest.fixture
async def acme_service(acme_discoverable: None, economy: Economy) -> PayoutService:
    """The payout pipeline as `diamonds serve` assembles it, from this environment."""
    return build_payout_service(economy, ENV)


@pytest.fixture
async def api(economy: Economy, acme_service: PayoutService) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the payout pipeline (overrides the suite's plain `api`)."""
    async with TestClient(TestServer(create_app(economy, acme_service))) as client:
        yield client


PROVIDERS = (
    "{ payoutProviders { slug currencies countries payeeFields { name label required secret } } }"
)

ADD_METHOD = """
mutation ($input: AddPayoutMethodInput!) {
  addPayoutMethod(input: $input) {
    payoutMethod { id provider status display fields { name value secret } }
    errors { field message code }
  }
}"""

REVIEW_METHOD = """
mutation ($input: ReviewPayoutMethodInput!) {
  reviewPayoutMethod(input: $input) { payoutMethod { status } errors { code } }
}"""

REQUEST = """
mutation ($provider: String!, $currency: String!) {
  requestPayout(input: {diamonds: 4000, provider: $provider, currency: $currency,
                        idempotencyKey: "acme-1"}) {
    payout { id status gross net provider }
    errors { field message code }
  }
}"""


def fields(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]


async def test_a_creator_is_paid_through_the_example_provider_end_to_end(
    graphql: Callable[..., Awaitable[Any]],
    api: TestClient[Any, Any],
    economy: Economy,
    acme_service: PayoutService,
    rich_creator: Callable[..., Awaitable[Any]],
) -> None:
    listed = await graphql(PROVIDERS, subject="creator:ada", roles=CREATOR)
    acme = next(p for p in listed.data["payoutProviders"] if p["slug"] == "acme")
    assert acme == {
        "slug": "acme",
        "currencies": ["EUR", "USD"],
        "countries": None,
        "payeeFields": [
            {"name": "wallet", "label": "Acme wallet number", "required": True, "secret": True},
            {
                "name": "email",
                "label": "Email for payment receipts",
                "required": True,
                "secret": False,
            },
            {"name": "nickname", "label": "Wallet nickname", "required": False, "secret": False},
        ],
    }
    creator = await rich_creator(10_000, subject="creator:ada")
    await make_payout_ready(economy, creator, with_method=False)

    refused = await graphql(
        ADD_METHOD,
        {"input": {"provider": "acme", "fields": fields(wallet="7992 7398 710", pin="1")}},
        subject="creator:ada",
        roles=CREATOR,
    )
    assert [(e["field"], e["code"]) for e in refused.data["addPayoutMethod"]["errors"]] == [
        ("fields.pin", "UNKNOWN_FIELD"),
        ("fields.wallet", "INVALID_FIELD"),
        ("fields.email", "MISSING_FIELD"),
    ]
    added = await graphql(
        ADD_METHOD,
        {
            "input": {
                "provider": "acme",
                "fields": fields(wallet="7992 7398 713", email="Ada@Example.com"),
            }
        },
        subject="creator:ada",
        roles=CREATOR,
    )
    method = added.data["addPayoutMethod"]["payoutMethod"]
    assert added.data["addPayoutMethod"]["errors"] == []
    assert (method["provider"], method["status"], method["display"]) == (
        "acme",
        "PENDING",
        "acme: ••••8713 · ada@example.com",
    )
    blocked = await graphql(
        REQUEST, {"provider": "acme", "currency": "USD"}, subject="creator:ada", roles=CREATOR
    )
    assert [e["code"] for e in blocked.data["requestPayout"]["errors"]] == [
        "PAYOUT_METHOD_UNVERIFIED"
    ]
    verified = await graphql(
        REVIEW_METHOD,
        {"input": {"payoutMethodId": method["id"], "decision": "VERIFY", "note": "test payment"}},
        subject="finance:fay",
        roles=FINANCE,
    )
    assert verified.data["reviewPayoutMethod"] == {
        "payoutMethod": {"status": "VERIFIED"},
        "errors": [],
    }

    requested = await graphql(
        REQUEST, {"provider": "acme", "currency": "USD"}, subject="creator:ada", roles=CREATOR
    )
    payout = requested.data["requestPayout"]["payout"]
    assert requested.data["requestPayout"]["errors"] == []
    assert (payout["status"], payout["gross"], payout["provider"]) == ("APPROVED", 2000, "acme")

    assert await Dispatcher(acme_service).run_once() == 1
    provider = acme_service.providers.get("acme")
    [payment] = provider.api.payments.values()  # type: ignore[attr-defined]
    assert (payment["wallet"], payment["receipt_to"], payment["amount"]) == (
        "79927398713",  # decrypted for the instruction only
        "ada@example.com",
        2000,
    )
    follow = "query ($id: ID!) { payout(id: $id) { status } }"
    seen = await graphql(follow, {"id": payout["id"]}, subject="creator:ada", roles=CREATOR)
    assert seen.data["payout"]["status"] == "SUBMITTED"

    provider.api.settle(payment["id"], "paid")  # type: ignore[attr-defined]
    headers, body = provider.api.webhook_for(payment["id"])  # type: ignore[attr-defined]
    forged = await api.post("/webhooks/acme", data=body + b" ", headers=headers)
    assert forged.status == 400
    delivered = await api.post("/webhooks/acme", data=body, headers=headers)
    assert delivered.status == 200
    seen = await graphql(follow, {"id": payout["id"]}, subject="creator:ada", roles=CREATOR)
    assert seen.data["payout"]["status"] == "PAID"
    await ledger_is_clean(economy)


async def test_an_unconfigured_provider_is_not_available_and_finance_learns_why(
    economy: Economy,
    acme_discoverable: None,
    rich_creator: Callable[..., Awaitable[Any]],
    token_for: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = build_payout_service(economy, {})  # registered, but no DIAMONDS_ACME_* here
    async with TestClient(TestServer(create_app(economy, svc))) as client:
        await rich_creator(10_000, subject="creator:ada")

        async def request(*roles: str) -> dict[str, Any]:
            token = token_for("creator:ada", *roles)
            response = await client.post(
                "/graphql",
                json={"query": REQUEST, "variables": {"provider": "acme", "currency": "USD"}},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = await response.json()
            [error] = body["data"]["requestPayout"]["errors"]
            return dict(error)

        creator = await request("CREATOR")
        assert creator == {
            "field": "provider",
            "message": "payouts through acme are not available now",
            "code": "PROVIDER_NOT_CONFIGURED",
        }
        staff = await request("CREATOR", "FINANCE")
        assert staff["message"] == (
            "acme is not configured here: set DIAMONDS_ACME_API_KEY, DIAMONDS_ACME_WEBHOOK_SECRET"
        )
        assert "DIAMONDS_ACME_API_KEY" in caplog.text
        listed = await client.post(
            "/graphql",
            json={"query": "{ payoutProviders { slug } }"},
            headers={"Authorization": f"Bearer {token_for('creator:ada', 'CREATOR')}"},
        )
        slugs = [p["slug"] for p in (await listed.json())["data"]["payoutProviders"]]
        assert "acme" not in slugs
