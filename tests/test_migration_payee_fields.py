"""Migration 0005 on both databases: payout methods stored in the typed columns of revision 0002
(PayPal email, Stripe account, SEPA IBAN sealed, ACH account sealed) come out as the providers'
fields, the sealed values still opening with the same keys; the downgrade puts them back. Payouts
of the old `bank` provider become their rail's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alembic import command
from sqlalchemy import text

from compliance.crypto import cipher_for
from compliance.gate import service as gate_service
from compliance.methods import store as methods_store
from diamonds.migrate import alembic_config
from economy.app import Economy
from economy.users import User
from kernel.clock import utcnow
from payouts.requests import request_payout
from payouts.store import load_payout
from payouts.webhooks import apply_statement
from providers.base import PayoutState, StatusUpdate

from .compliance_fixtures import fresh_compliance_tables  # noqa: F401  (autouse)
from .payout_fixtures import LedgerBank, Rig

IBAN, ACCOUNT = "DE89370400440532013000", "000123456789"


def migrate_to(url: str, revision: str, *, down: bool = False) -> None:
    """Alembic runs its own event loop: give it a thread."""
    step = command.downgrade if down else command.upgrade
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(step, alembic_config(url), revision).result()


async def test_typed_columns_become_fields_and_come_back(
    economy: Economy, database_url: str
) -> None:
    users = [(await economy.users.ensure(f"creator:{n}")).id for n in range(4)]
    box = cipher_for(tuple(economy.settings.compliance.tin_keys))
    iban, account = box.seal(IBAN), box.seal(ACCOUNT)
    rows: list[dict[str, Any]] = [
        {"user_id": users[0], "provider": "paypal", "email": "jane@example.com"},
        {"user_id": users[1], "provider": "stripe", "stripe_account": "acct_1Nv0FGQ9RKHgCVdK"},
        {
            "user_id": users[2],
            "provider": "sepa",
            "holder_name": "Erika Mustermann",
            "country": "DE",
            "bic": "COBADEFFXXX",
            "secret_ciphertext": iban.token,
            "secret_key_id": iban.key_id,
            "secret_last4": "3000",
        },
        {
            "user_id": users[3],
            "provider": "ach",
            "holder_name": "Jane Doe",
            "country": "US",
            "routing_number": "111000025",
            "account_type": "checking",
            "secret_ciphertext": account.token,
            "secret_key_id": account.key_id,
            "secret_last4": "6789",
        },
    ]
    columns = sorted({name for row in rows for name in row})
    migrate_to(database_url, "0002", down=True)
    try:
        async with economy.db.write() as conn:
            for row in rows:
                await conn.execute(
                    text(
                        f"INSERT INTO compliance_payout_methods ({', '.join(columns)}, status) "  # noqa: S608
                        f"VALUES ({', '.join(':' + c for c in columns)}, 'VERIFIED')"
                    ),
                    {c: row.get(c) for c in columns},
                )
    finally:
        migrate_to(database_url, "head")

    async with economy.db.read() as conn:
        found = {
            p: await methods_store.current(conn, users[i], p)
            for i, p in enumerate(["paypal", "stripe", "sepa", "ach"])
        }
        payees = {
            p: await gate_service.payee_for(
                conn, user_id=users[i], provider=p, settings=economy.settings
            )
            for i, p in enumerate(["paypal", "stripe", "sepa", "ach"])
        }
    assert {p: m.display for p, m in found.items() if m} == {
        "paypal": "paypal: jane@example.com",
        "stripe": "stripe: acct_1Nv0FGQ9RKHgCVdK",
        "sepa": "sepa: Erika Mustermann · ••••3000 · COBADEFFXXX",
        "ach": "ach: Jane Doe · 111000025 · ••••6789 · checking",
    }
    # Nobody has a legal name on file here, so the payee is the holder's: only bank rails have one.
    assert payees["paypal"] is None
    assert payees["sepa"] is not None
    assert dict(payees["sepa"].fields) == {
        "holder_name": "Erika Mustermann",
        "iban": IBAN,
        "bic": "COBADEFFXXX",
    }
    assert payees["ach"] is not None
    assert payees["ach"].ach_account_number == ACCOUNT

    migrate_to(database_url, "0002", down=True)
    try:
        async with economy.db.read() as conn:
            back = (
                await conn.execute(
                    text(
                        "SELECT provider, email, stripe_account, bic, routing_number, "
                        "account_type, secret_ciphertext, secret_last4 "
                        "FROM compliance_payout_methods ORDER BY id"
                    )
                )
            ).all()
    finally:
        migrate_to(database_url, "head")
    assert [tuple(r) for r in back] == [
        ("paypal", "jane@example.com", None, None, None, None, None, None),
        ("stripe", None, "acct_1Nv0FGQ9RKHgCVdK", None, None, None, None, None),
        ("sepa", None, None, "COBADEFFXXX", None, None, iban.token, "3000"),
        ("ach", None, None, None, "111000025", "checking", account.token, "6789"),
    ]


class OldBank(LedgerBank):
    """What the `bank` provider was to the pipeline: a slug that paid USD by ACH."""

    slug = "bank"


async def test_payouts_of_the_bank_provider_become_their_rails(
    rig: Rig, rich_creator: Callable[..., Awaitable[User]], database_url: str
) -> None:
    rig.svc.providers.register(OldBank())
    creator = await rich_creator(60_000)
    requested = await request_payout(
        rig.svc, creator, diamonds=10_000, provider="bank", currency="USD", key="old-bank"
    )
    news = StatusUpdate("evt-1", PayoutState.PENDING, utcnow(), requested.payout.reference)
    assert (await apply_statement(rig.svc, "bank", news)).outcome != "unmatched"
    migrate_to(database_url, "0002", down=True)
    migrate_to(database_url, "head")
    async with rig.eco.db.read() as conn:
        payout = await load_payout(conn, requested.payout.id)
        events = (await conn.execute(text("SELECT provider FROM provider_webhook_events"))).all()
    assert payout is not None
    assert payout.provider == "ach"
    assert [tuple(e) for e in events] == [("ach",)]
