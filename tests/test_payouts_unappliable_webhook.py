"""A validly signed payout webhook we cannot apply (Stripe's `created` past year 9999) is
recorded and answered 200, so Stripe stops redelivering; it is logged at WARNING and noted in the
payout's history, where FINANCE sees it, and nothing else changes."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from graph.server import create_app
from payouts.states import PayoutStatus
from payouts.store import payout_history
from payouts.tables import provider_events
from providers.config import StripeConfig
from providers.stripe import StripeProvider

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
