"""The finance console's payout page and review queues without a browser: the payout page lists
every ledger entry the payout booked and its creator's compliance state (for FINANCE; ADMIN sees
the entries only), and each identity review, payout-method review and sanctions hit shows the
person's other compliance state beside it, all through the one ComplianceState fragment.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from compliance.identity import service as identity_service
from diamonds.app import mount_consoles
from economy.app import Economy
from graph.global_ids import pk_of
from graph.server import create_app
from kernel.clock import utc_today
from payouts.dispatch import Dispatcher
from providers.base import PayoutState

from .compliance_fixtures import (
    add_method,
    compliance_of,
    fresh_compliance_tables,  # noqa: F401  (autouse)
    make_payout_ready,
)
from .payout_fixtures import Rig, signed

REQUEST = """
mutation($diamonds: BigInt!) {
  requestPayout(input: {diamonds: $diamonds, provider: "ledgerbank", currency: "USD",
                        idempotencyKey: "page"}) { payout { id net } errors { code } }
}
"""


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[TestClient[Any, Any]]:
    """The API and the consoles on one app, with the payout pipeline (overrides the suite's
    plain `api`, which `graphql` posts to)."""
    app = create_app(rig.eco, rig.svc)
    mount_consoles(app, rig.eco, rig.svc)
    async with TestClient(TestServer(app)) as client:
        yield client


async def sign_in(client: TestClient[Any, Any], token: str) -> None:
    client.session.cookie_jar.clear()
    answer = await client.post("/console/sign-in", data={"token": token}, allow_redirects=False)
    assert answer.status == 303


def text_of(fragment: str) -> str:
    """`fragment`'s text as a person reads it: tags dropped, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def ledger_rows(page: str) -> list[tuple[str, str, str]]:
    """The payout page's ledger entries as (kind, effect, amount as shown)."""
    (table,) = re.findall(r'<table class="grid ledger-entries">(.*?)</table>', page, re.S)
    return [
        (kind, effect, text_of(re.findall(r'<td class="num">(.*?)</td>', row, re.S)[0]))
        for kind, effect, row in re.findall(
            r'<tr data-kind="([A-Z_]+)" data-effect="([A-Z_]+)">(.*?)</tr>', table, re.S
        )
    ]


def compliance(fragment: str) -> dict[str, str]:
    """A compliance state block's checks by name, as their text."""
    return {
        name: text_of(value)
        for name, value in re.findall(r'<dd data-check="(\w+)">(.*?)</dd>', fragment, re.S)
    }


async def test_the_payout_page_shows_its_ledger_entries_and_the_creators_compliance(
    api: TestClient[Any, Any],
    graphql: Callable[..., Awaitable[Any]],
    rig: Rig,
    economy: Economy,
    rich_creator: Callable[..., Awaitable[Any]],
    token_for: Callable[..., str],
) -> None:
    rig.bank.fee = 30
    creator = await rich_creator(60_000, subject="creator:ann")
    await make_payout_ready(economy, creator, provider="paypal")
    sent = await graphql(REQUEST, {"diamonds": 20_000}, subject="creator:ann", roles=["CREATOR"])
    assert sent.data["requestPayout"]["errors"] == [], sent.body
    payout = sent.data["requestPayout"]["payout"]
    await Dispatcher(rig.svc).run_once()
    reference = f"diamonds-payout-{pk_of(payout['id'], 'Payout')}"
    rig.bank.settled[reference] = PayoutState.PAID
    headers, body = signed({"id": "evt_page", "state": "PAID", "payout": reference})
    assert (await api.post("/webhooks/ledgerbank", data=body, headers=headers)).status == 200

    await sign_in(api, token_for("finance:fay", "FINANCE"))
    answer = await api.get(f"/console/payouts/{payout['id']}")
    assert answer.status == 200
    page = await answer.text()
    net = f"{payout['net'] // 100:,}.{payout['net'] % 100:02d} USD"
    assert ledger_rows(page) == [
        ("PAYOUT_HOLD", "HOLD_PLACED", "20,000 diamonds"),
        ("HOLD_POSTED", "TRANSFER", "20,000 diamonds"),
        ("PAYOUT_PAID", "TRANSFER", net),
        ("PAYOUT_PAID", "TRANSFER", "0.30 USD"),
    ]
    assert f"user:{creator.id}" in page
    assert "fees:ledgerbank" in page
    (card,) = re.findall(
        r'<section class="card" id="payout-compliance">(.*?)</section>', page, re.S
    )
    assert compliance(card) == {
        "identity": "verified manual",
        "tax": "W9 valid",
        "sanctions": "clear",
        # Only this payout's provider's method: the creator's PayPal one is not it.
        "methods": "none",
    }

    # ADMIN may open the console and read the entries, not another person's compliance data.
    await sign_in(api, token_for("admin:al", "ADMIN"))
    answer = await api.get(f"/console/payouts/{payout['id']}")
    assert answer.status == 200
    page = await answer.text()
    assert len(ledger_rows(page)) == 4
    assert "Shown to FINANCE only." in page


async def test_each_review_shows_the_persons_other_compliance_state(
    api: TestClient[Any, Any], economy: Economy, token_for: Callable[..., str]
) -> None:
    # One person waiting on their identity, with a PayPal method waiting too.
    bea = await economy.users.ensure("creator:bea")
    await identity_service.start_manual(
        compliance_of(economy),
        bea,
        legal_name="Bea Brown",
        birth_date=date(1991, 2, 3),
        country="US",
        today=utc_today(),
    )
    await add_method(economy, bea, "paypal")
    # One whose name matches the sample sanctions list, everything else done.
    anvar = await economy.users.ensure("creator:anvar")
    await make_payout_ready(economy, anvar, legal_name="Anvar Karimov", country="UZ")

    await sign_in(api, token_for("finance:fay", "FINANCE"))
    pages = {}
    for queue in ("identity", "payout-methods", "sanctions"):
        answer = await api.get(f"/console/reviews/{queue}")
        assert answer.status == 200
        pages[queue] = await answer.text()

    def row_of(page: str, subject: str) -> dict[str, str]:
        rows = re.findall(r"<tr data-review-id=[^>]*>(.*?)</tr>", page, re.S)
        (row,) = [r for r in rows if subject in r]
        return compliance(row)

    assert row_of(pages["identity"], "creator:bea") == {
        "identity": "pending manual",
        "tax": "none on file",
        "sanctions": "clear",
        "methods": "paypal: creator@example.com pending",
    }
    assert row_of(pages["payout-methods"], "creator:bea")["identity"] == "pending manual"
    beside_hit = row_of(pages["sanctions"], "creator:anvar")
    assert beside_hit.pop("tax").startswith("W8BEN valid · until ")
    assert beside_hit == {
        "identity": "verified manual",
        "sanctions": "possible match",
        "methods": "paypal: creator@example.com verified",
    }
