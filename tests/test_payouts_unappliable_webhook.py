"""A validly signed payout webhook we cannot apply (Stripe's `created` past year 9999, PayPal's
`create_time` past it, a field of the wrong type, a signed body that is no readable event) is
recorded and answered 200 by every provider alike, so the provider stops redelivering; it is
logged at WARNING and noted in the history of the payout it names, where FINANCE sees it, and
nothing else changes."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from diamonds_fakes.paypal_server import FakePayPal

from economy.app import Economy
from graph.server import create_app
from payouts.requests import request_payout
from payouts.service import PayoutService
from payouts.setup import build_payout_service
from payouts.states import PayoutStatus
from payouts.store import payout_history
from payouts.tables import provider_events
from providers.config import StripeConfig
from providers.stripe import StripeProvider

from .acme_fixtures import ENV as ACME_ENV
from .paypal_rig import PayPalRig
from .stripe_rig import Pay, StripeRig


async def test_a_signed_stripe_webhook_with_an_impossible_time_is_recorded_and_answered(
    stripe_rig: StripeRig, pay: Pay, caplog: pytest.LogCaptureFixture
) -> None:
    fake = stripe_rig.fake
    signed = StripeProvider(
        StripeConfig(
            api_key=fake.secret_key,
            api_base=fake.url,
            timeout_seconds=5.0,
            webhook_secret=fake.webhook_secret,
        )
    )
    stripe_rig.svc.providers.register(signed, replace=True)
    payout = await pay(settle=None)
    assert payout.provider_reference is not None
    event: Any = copy.deepcopy(fake.events_about(payout.provider_reference, "payout.created")[0])
    event["id"] = "evt_far_future"
    event["created"] = 10**15
    app = create_app(stripe_rig.eco, stripe_rig.svc)
    async with TestClient(TestServer(app)) as client:
        answers = []
        with caplog.at_level(logging.WARNING):
            for _ in range(2):
                headers, body = fake.webhook_delivery(event)
                response = await client.post("/webhooks/stripe", data=body, headers=headers)
                assert response.status == 200
                answers.append((await response.json())["received"][0]["outcome"])
        assert answers == ["unappliable", "duplicate"]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert any("evt_far_future" in r.getMessage() for r in warnings)
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
    async with stripe_rig.eco.db.read() as conn:
        rows = (
            await conn.execute(
                provider_events.select().where(provider_events.c.event_id == "evt_far_future")
            )
        ).all()
        history = await payout_history(conn, payout.id)
    assert [(r.payout_id, r.outcome) for r in rows] == [
        (payout.id, "unappliable: created 1000000000000000 is not a time")
    ]
    notes = [e for e in history if e.reason and "evt_far_future" in e.reason]
    assert len(notes) == 1
    assert notes[0].from_status == notes[0].to_status == PayoutStatus.SUBMITTED
    assert (await stripe_rig.reload(payout)).status is PayoutStatus.SUBMITTED


async def deliver_twice(
    svc: PayoutService, eco: Economy, slug: str, deliveries: list[tuple[dict[str, str], bytes]]
) -> list[list[str]]:
    """Each delivery POSTed to /webhooks/<slug> twice: every answer must be a 200."""
    outcomes = []
    async with TestClient(TestServer(create_app(eco, svc))) as client:
        for headers, body in deliveries:
            answers = []
            for _ in range(2):
                response = await client.post(f"/webhooks/{slug}", data=body, headers=headers)
                assert response.status == 200, (body, await response.text())
                answers.append((await response.json())["received"][0]["outcome"])
            outcomes.append(answers)
    return outcomes


async def unappliable_rows(eco: Economy, slug: str) -> list[tuple[int | None, str]]:
    async with eco.db.read() as conn:
        rows = (
            await conn.execute(
                provider_events.select()
                .where(provider_events.c.provider == slug)
                .order_by(provider_events.c.outcome)
            )
        ).all()
    return [(r.payout_id, r.outcome) for r in rows]


@pytest.fixture
async def paypal(economy: Economy) -> AsyncIterator[PayPalRig]:
    async with FakePayPal() as fake:
        rig = PayPalRig.build(economy, fake)
        yield rig
        await rig.paypal.close()


async def test_signed_paypal_webhooks_that_cannot_be_applied_are_recorded_and_answered(
    paypal: PayPalRig,
    economy: Economy,
    rich_creator: Callable[..., Awaitable[Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    creator = await rich_creator(40_000)
    requested = await request_payout(
        paypal.svc, creator, diamonds=40_000, provider="paypal", currency="USD", key="k"
    )
    await paypal.worker().run_once()
    payout = await paypal.reload(requested.payout)
    assert payout.status is PayoutStatus.SUBMITTED
    [item] = paypal.items_of(payout)
    far_future: Any = paypal.fake.event_for_item(item, "SUCCEEDED")
    far_future["id"] = "WH-far-future"
    far_future["create_time"] = "9999-12-31T23:59:59-14:00"
    wrong_type: Any = paypal.fake.event_for_item(item, "SUCCEEDED")
    wrong_type["id"] = "WH-wrong-type"
    wrong_type["resource"]["sender_batch_id"] = 12345
    wrong_type["resource"]["payout_item"] = "not an object"
    no_resource = {"event_type": "PAYMENT.PAYOUTS-ITEM.SUCCEEDED"}  # nor an id
    bodies = [json.dumps(e).encode() for e in (far_future, wrong_type, no_resource)]
    with caplog.at_level(logging.WARNING):
        outcomes = await deliver_twice(
            paypal.svc, economy, "paypal", [(paypal.fake.sign(body), body) for body in bodies]
        )
    assert outcomes == [["unappliable", "duplicate"]] * 3
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
    rows = await unappliable_rows(economy, "paypal")
    assert len(rows) == 3
    assert all(outcome.startswith("unappliable: ") for _id, outcome in rows), rows
    assert (payout.id, "unappliable: occurred_at 9999-12-31 23:59:59-14:00 is not a time") in rows
    async with economy.db.read() as conn:
        history = await payout_history(conn, payout.id)
    notes = [e for e in history if e.reason and "WH-far-future" in e.reason]
    assert len(notes) == 1
    assert (await paypal.reload(payout)).status is PayoutStatus.SUBMITTED
    await paypal.ledger_is_clean()


def acme_delivery(event: object) -> tuple[dict[str, str], bytes]:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    stamp = str(int(time.time()))
    secret = ACME_ENV["DIAMONDS_ACME_WEBHOOK_SECRET"].encode()
    signature = hmac.new(secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Acme-Signature": f"{stamp}:{signature}"}, body


async def test_signed_acme_webhooks_that_cannot_be_applied_are_recorded_and_answered(
    acme_discoverable: None, economy: Economy, caplog: pytest.LogCaptureFixture
) -> None:
    svc = build_payout_service(economy, ACME_ENV)
    payment = {
        "id": "pay_1",
        "status": "paid",
        "payout_id": "diamonds-payout-1",
        "failure": None,
    }
    events: list[object] = [
        {"id": "evt_far", "type": "payment.paid", "created": 10**15, "payment": payment},
        {"id": "evt_str", "type": "payment.paid", "created": "soon", "payment": payment},
        {"id": "evt_type", "type": "payment.paid", "created": 1, "payment": {**payment, "id": 7}},
        {"id": "evt_none", "type": "payment.paid", "created": 1},
        b"signed, but not JSON",
    ]
    with caplog.at_level(logging.WARNING):
        outcomes = await deliver_twice(
            svc, economy, "acme", [acme_delivery(event) for event in events]
        )
    assert outcomes == [["unappliable", "duplicate"]] * len(events)
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
    rows = await unappliable_rows(economy, "acme")
    assert len(rows) == len(events)
    assert all(payout_id is None and o.startswith("unappliable: ") for payout_id, o in rows)
    async with TestClient(TestServer(create_app(economy, svc))) as client:
        headers, body = acme_delivery(events[0])
        forged = await client.post("/webhooks/acme", data=body + b" ", headers=headers)
        assert forged.status == 400
