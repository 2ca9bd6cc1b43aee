"""Helpers for tests that need compliance in a known state: the sample sanctions list loaded, and
a creator made eligible for payouts (verified identity, tax form, screened, verified method)
through the real compliance services. Import them; they are plain async functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import asyncpg
import pytest

import compliance.tables  # noqa: F401  (registers the tables listed below)
from compliance.identity import service as identity_service
from compliance.identity.service import ReviewDecision
from compliance.methods import service as methods_service
from compliance.methods.rules import PayeeContract
from compliance.methods.store import StoredMethod
from compliance.sanctions import service as sanctions_service
from compliance.sanctions.rules import load_list
from compliance.sanctions.service import LoadResult
from compliance.service import Compliance
from compliance.tax import service as tax_service
from compliance.tax.rules import TaxFormKind
from compliance.tax.tin import TinType
from economy.app import Economy
from economy.users import User
from kernel.clock import utc_today
from kernel.tables import metadata
from providers.registry import ProviderRegistry

from .conftest import _asyncpg_dsn, run_blocking

DATA = Path(__file__).resolve().parent.parent / "compliance" / "data"
REVIEWER = "finance:compliance-fixture"
VALID_SSN = "536-90-4399"
VALID_DE_IDNR = "36 574 261 809"

METHODS: dict[str, dict[str, str]] = {
    "paypal": {"email": "creator@example.com"},
    "stripe": {"account_id": "acct_1Nv0FGQ9RKHgCVdK"},
    "sepa": {"holder_name": "Erika Mustermann", "iban": "DE89370400440532013000"},
    "ach": {
        "holder_name": "Jane Doe",
        "routing_number": "111000025",
        "account_number": "000123456789",
        "account_type": "checking",
    },
}
"""Each built-in provider's payee fields for a valid method."""


def compliance_of(eco: Economy) -> Compliance:
    """Compliance's services on the economy's database and settings, as the shell builds them."""
    return Compliance(eco.db, eco.settings)


def contract(provider: str) -> PayeeContract:
    """What the registered provider declares about payees (its class, found by entry point)."""
    return ProviderRegistry({}).contract(provider)


async def add_method(
    eco: Economy, creator: User, provider: str, fields: Mapping[str, str] | None = None
) -> StoredMethod:
    """`creator` adds a method for `provider` (the sample fields of METHODS by default)."""
    return await methods_service.add_payout_method(
        compliance_of(eco),
        creator,
        contract(provider),
        METHODS[provider] if fields is None else fields,
    )


async def load_sample_sanctions(eco: Economy) -> LoadResult:
    """The OFAC-format sample list shipped in compliance/data, loaded (once)."""
    loaded = load_list(
        (DATA / "sdn_sample.csv").read_bytes(),
        (DATA / "alt_sample.csv").read_bytes(),
        (DATA / "add_sample.csv").read_bytes(),
    )
    return await sanctions_service.load_sanctions_list(
        compliance_of(eco), loaded, source="sdn_sample.csv", actor="test:compliance"
    )


async def make_payout_ready(
    eco: Economy,
    creator: User,
    *,
    provider: str = "paypal",
    country: str = "US",
    legal_name: str = "Jane Quincy Doe",
    birth_date: date = date(1990, 5, 17),
    method: Mapping[str, str] | None = None,
    with_method: bool = True,
) -> None:
    """Everything the payout gate asks for, done the way people do it: a manual identity
    verification approved by FINANCE, a W-9 (US) or W-8BEN (else), the sanctions sample list
    loaded (the name screens clear), and (unless `with_method` is False) a payout method for
    `provider` verified by FINANCE."""
    today = utc_today()
    reviewer = await eco.users.ensure(REVIEWER)
    await load_sample_sanctions(eco)
    await identity_service.start_manual(
        compliance_of(eco),
        creator,
        legal_name=legal_name,
        birth_date=birth_date,
        country=country,
        today=today,
    )
    await identity_service.review(
        compliance_of(eco),
        reviewer,
        user_id=creator.id,
        decision=ReviewDecision.APPROVE,
        note="documents match",
        today=today,
    )
    us = country == "US"
    await tax_service.submit_tax_form(
        compliance_of(eco),
        creator,
        kind=TaxFormKind.W9 if us else TaxFormKind.W8BEN,
        legal_name=legal_name,
        country=country,
        tin_type=TinType.SSN if us else TinType.FOREIGN,
        tin=VALID_SSN if us else VALID_DE_IDNR,
        certified=True,
        today=today,
    )
    if not with_method:
        return
    added = await add_method(eco, creator, provider, method)
    await methods_service.review_payout_method(
        compliance_of(eco), reviewer, method_id=added.id, verify=True, note="test payment received"
    )


COMPLIANCE_TABLES = [t.name for t in metadata.sorted_tables if t.name.startswith("compliance_")]


@pytest.fixture(autouse=True)
def fresh_compliance_tables(database_url: str) -> None:
    """Empty the compliance tables on PostgreSQL before each test. tests/conftest.py truncates
    the tables registered when it was imported, which (so far) are not these. Import this
    fixture into a test module to have it apply there."""
    if not database_url.startswith("postgresql"):
        return
    names = ", ".join(f'"{name}"' for name in COMPLIANCE_TABLES)

    async def truncate() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=10)
        try:
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        finally:
            await conn.close()

    run_blocking(truncate)
