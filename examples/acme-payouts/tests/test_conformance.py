"""Runs the Diamonds conformance suite against Acme: `pytest` in this folder, with diamonds and
this package installed (`pip install -e '.[test]'`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from acme_payouts.api import AcmeApi
from acme_payouts.provider import AcmeProvider
from acme_payouts.sandbox import AcmeSandbox

from providers.base import Payee, PayoutProvider
from providers.testing import ProviderConformance, ProviderSandbox

KEY, SECRET = "acme_test_key", "acme-webhook-secret"
SAMPLE_FIELDS = {"wallet": "7992 7398 713", "email": "Tess@Example.com", "nickname": "main"}
"""A payee Acme accepts: the wallet number passes the Luhn check."""


class TestAcmeConformance(ProviderConformance):
    @pytest.fixture
    def api(self) -> AcmeApi:
        return AcmeApi(KEY, SECRET)

    @pytest_asyncio.fixture
    async def provider(self, api: AcmeApi) -> AsyncIterator[PayoutProvider]:
        provider = AcmeProvider(api, KEY, SECRET)
        yield provider
        await provider.close()

    @pytest.fixture
    def payee(self) -> Payee:
        return Payee("Tess Toy", "NL", AcmeProvider.validate_payee(SAMPLE_FIELDS))

    @pytest_asyncio.fixture
    async def sandbox(self, api: AcmeApi) -> AsyncIterator[ProviderSandbox]:
        yield AcmeSandbox(api)

    @pytest_asyncio.fixture
    async def bad_credentials_provider(self, api: AcmeApi) -> AsyncIterator[PayoutProvider]:
        yield AcmeProvider(api, "acme_wrong_key", SECRET)
