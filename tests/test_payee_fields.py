"""Payee fields as part of the provider contract: the built-in providers' fields and checks (PayPal
email, Stripe account id, SEPA IBAN/BIC, ACH routing and account), the generic rules (required,
pattern, undeclared names), compliance's method built from them, and the registry's statuses as
`diamonds serve` logs them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import pytest
from aiohttp.test_utils import TestClient, TestServer

from compliance.methods.rules import PayeeRefused, validate_method
from diamonds.app import create_service_app
from economy.app import Economy
from providers.bank.provider import AchProvider, SepaProvider
from providers.base import PayeeField, PayoutInstruction, PayoutProvider, PayoutResult
from providers.errors import InvalidPayee, ProviderConfigError
from providers.paypal import PayPalProvider
from providers.registry import ProviderRegistry
from providers.stripe import StripeProvider

from .compliance_fixtures import METHODS, contract

ACH = METHODS["ach"]
SEPA = METHODS["sepa"]


def codes(provider: type[PayoutProvider], fields: Mapping[str, str]) -> dict[str, str]:
    with pytest.raises(InvalidPayee) as refused:
        provider.validate_payee(fields)
    return {p.field: p.code for p in refused.value.problems}


def test_each_built_in_provider_declares_its_payee_fields() -> None:
    declared = {
        cls.slug: [(f.name, f.required, f.secret) for f in cls.payee_fields]
        for cls in (PayPalProvider, StripeProvider, SepaProvider, AchProvider)
    }
    assert declared == {
        "paypal": [("email", True, False)],
        "stripe": [("account_id", True, False)],
        "sepa": [("holder_name", True, False), ("iban", True, True), ("bic", False, False)],
        "ach": [
            ("holder_name", True, False),
            ("routing_number", True, False),
            ("account_number", True, True),
            ("account_type", True, False),
        ],
    }


def test_valid_details_come_back_normalized() -> None:
    sepa = SepaProvider.validate_payee(
        {"holder_name": " Erika ", "iban": "DE89 3704 0044 0532 0130 00"}
    )
    assert sepa == {"holder_name": "Erika", "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}
    assert SepaProvider.payee_country(sepa) == "DE"
    ach = AchProvider.validate_payee(
        {**ACH, "routing_number": "1110-0002-5", "account_type": "Savings"}
    )
    assert (ach["routing_number"], ach["account_type"]) == ("111000025", "savings")
    assert PayPalProvider.validate_payee({"email": "Jane@Example.com"}) == {
        "email": "jane@example.com"
    }


@pytest.mark.parametrize(
    ("provider", "fields", "expected"),
    [
        (PayPalProvider, {}, {"email": "MISSING_FIELD"}),
        (PayPalProvider, {"email": "not-an-email"}, {"email": "INVALID_EMAIL"}),
        (StripeProvider, {"account_id": "cus_123"}, {"account_id": "INVALID_STRIPE_ACCOUNT"}),
        (SepaProvider, {**SEPA, "iban": "DE89 3704 0044 0532 0130 01"}, {"iban": "INVALID_IBAN"}),
        (SepaProvider, {**SEPA, "iban": "BR1500000000000010932840814P2"}, {"iban": "INVALID_IBAN"}),
        (SepaProvider, {**SEPA, "bic": "NOPE"}, {"bic": "INVALID_BIC"}),
        (SepaProvider, {"iban": SEPA["iban"]}, {"holder_name": "MISSING_FIELD"}),
        (
            AchProvider,
            {**ACH, "routing_number": "111000026", "account_number": "12ab", "account_type": "x"},
            {
                "routing_number": "INVALID_ROUTING_NUMBER",
                "account_number": "INVALID_ACCOUNT_NUMBER",
                "account_type": "INVALID_ACCOUNT_TYPE",
            },
        ),
        (AchProvider, {**ACH, "iban": "DE89370400440532013000"}, {"iban": "UNKNOWN_FIELD"}),
    ],
)
def test_bad_details_are_refused_naming_every_bad_field(
    provider: type[PayoutProvider], fields: dict[str, str], expected: dict[str, str]
) -> None:
    assert codes(provider, fields) == expected


def test_refusals_never_repeat_a_secret_value() -> None:
    with pytest.raises(InvalidPayee) as refused:
        SepaProvider.validate_payee({**SEPA, "iban": "DE89370400440532013001"})
    assert "DE89370400440532013001" not in str(refused.value)
    with pytest.raises(InvalidPayee) as refused:
        AchProvider.validate_payee({**ACH, "account_number": "1234567890123456789"})
    assert "1234567890123456789" not in str(refused.value)


class Patterned(PayoutProvider):
    """A provider whose fields use the generic rules only: a pattern, an optional field."""

    slug = "patterned"
    currencies = frozenset({"USD"})
    payee_fields = (
        PayeeField("wallet", "Wallet id", pattern=r"w-[0-9]{6}", help="w- and six digits"),
        PayeeField("memo", "Memo", required=False, max_length=5),
    )

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        raise NotImplementedError


def test_the_generic_rules_need_no_code_from_the_provider() -> None:
    assert Patterned.validate_payee({"wallet": " w-123456 ", "memo": " "}) == {"wallet": "w-123456"}
    assert codes(Patterned, {"wallet": "w-12", "memo": "too long"}) == {
        "wallet": "INVALID_FIELD",
        "memo": "INVALID_FIELD",
    }
    with pytest.raises(InvalidPayee, match=r"wallet: this is not a valid Wallet id \(w- and six"):
        Patterned.validate_payee({"wallet": "nope"})


def test_compliance_keeps_the_providers_fields_with_secrets_apart() -> None:
    method = validate_method(contract("sepa"), {"holder_name": "Erika", "iban": SEPA["iban"]})
    assert (method.provider, method.holder_name, method.country) == ("sepa", "Erika", "DE")
    assert [(f.name, f.secret, f.last4) for f in method.fields] == [
        ("holder_name", False, None),
        ("iban", True, "3000"),
        ("bic", False, None),
    ]
    assert SEPA["iban"] not in repr(method)
    with pytest.raises(PayeeRefused) as refused:
        validate_method(contract("ach"), {})
    assert (refused.value.code, refused.value.field) == ("MISSING_FIELD", "fields.holder_name")
    assert [p.field for p in refused.value.problems] == [
        "holder_name",
        "routing_number",
        "account_number",
        "account_type",
    ]


def test_the_registry_names_what_a_provider_misses_without_building_it() -> None:
    registry = ProviderRegistry({"DIAMONDS_BANK_OUTBOX": "/tmp/outbox"})  # noqa: S108
    assert {"paypal", "stripe", "sepa", "ach"} <= set(registry.slugs())
    assert "bank" not in registry.slugs(), "one name per rail: sepa and ach"
    assert registry.contract("sepa") is SepaProvider, "the contract is read without building"
    with pytest.raises(ProviderConfigError) as failed:
        registry.get("sepa")
    assert failed.value.missing == (
        "DIAMONDS_SEPA_DEBTOR_NAME",
        "DIAMONDS_SEPA_DEBTOR_IBAN",
        "DIAMONDS_SEPA_DEBTOR_BIC",
    )
    status = registry.status("stripe")
    assert not status.configured
    assert status.describe() == "not configured: missing DIAMONDS_STRIPE_API_KEY"


async def test_serve_logs_each_providers_state_at_start_up(
    economy: Economy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [n for n in os.environ if n.startswith(("DIAMONDS_STRIPE_", "DIAMONDS_PAYPAL_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DIAMONDS_STRIPE_API_KEY", "sk_test_startup")
    caplog.set_level(logging.INFO, logger="payouts.setup")
    app = create_service_app(economy, run_worker=False)
    async with TestClient(TestServer(app)):
        pass
    logged = [r.getMessage() for r in caplog.records if r.name == "payouts.setup"]
    assert "payout provider stripe: configured" in logged
    assert (
        "payout provider paypal: not configured: missing DIAMONDS_PAYPAL_CLIENT_ID, "
        "DIAMONDS_PAYPAL_CLIENT_SECRET"
    ) in logged
