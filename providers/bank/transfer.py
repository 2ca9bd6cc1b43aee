"""The `bank` payout provider: one slug for bank transfers, choosing the rail by currency and
payee (SEPA credit transfer for EUR to an IBAN, ACH credit for USD to a US routing number).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from providers.bank.provider import AchProvider, BankProvider, SepaProvider
from providers.base import Capability, PayoutInstruction, PayoutProvider, PayoutResult
from providers.errors import PayoutNotFound, PermanentProviderError, ProviderConfigError

SLUG = "bank"


class BankTransferProvider(PayoutProvider):
    """Routes each payout to the rail configured for its currency; lookups go to the rail named
    by the reference (`sepa:...` or `ach:...`), or ask each rail."""

    slug: ClassVar[str] = SLUG
    currencies: ClassVar[frozenset[str]] = frozenset({"EUR", "USD"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.BATCH_FILES, Capability.LOOKUP}
    )

    def __init__(self, rails: Mapping[str, BankProvider]) -> None:
        if not rails:
            raise ProviderConfigError(
                SLUG, "no bank rail is configured (set DIAMONDS_SEPA_* and/or DIAMONDS_ACH_*)"
            )
        self.rails = dict(rails)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BankTransferProvider:
        """Every rail whose variables are set: SEPA with DIAMONDS_SEPA_DEBTOR_IBAN, ACH with
        DIAMONDS_ACH_ORIGIN_ROUTING (plus DIAMONDS_BANK_OUTBOX and each rail's other settings)."""
        environ = os.environ if env is None else env
        rails: dict[str, BankProvider] = {}
        if environ.get("DIAMONDS_SEPA_DEBTOR_IBAN"):
            rails["EUR"] = SepaProvider.from_env(environ)
        if environ.get("DIAMONDS_ACH_ORIGIN_ROUTING"):
            rails["USD"] = AchProvider.from_env(environ)
        return cls(rails)

    def serves(self, currency: str, country: str) -> bool:
        rail = self.rails.get(currency)
        return rail is not None and rail.serves(currency, country)

    def _rail_for(self, instruction: PayoutInstruction) -> BankProvider:
        rail = self.rails.get(instruction.currency)
        if rail is None:
            raise PermanentProviderError(
                SLUG,
                "UNSUPPORTED_CURRENCY",
                f"no bank rail pays {instruction.currency} here "
                f"(configured: {', '.join(sorted(self.rails))})",
            )
        return rail

    async def submit(self, instruction: PayoutInstruction) -> PayoutResult:
        return await self._rail_for(instruction).submit(instruction)

    async def lookup(self, payout_id: str, provider_reference: str | None) -> PayoutResult:
        for rail in self._rails_for_reference(provider_reference):
            try:
                return await rail.lookup(payout_id, provider_reference)
            except PayoutNotFound:
                continue
        raise PayoutNotFound(SLUG, f"no bank rail has payout {payout_id!r}")

    def _rails_for_reference(self, reference: str | None) -> list[BankProvider]:
        named = [r for r in self.rails.values() if reference and reference.startswith(f"{r.slug}:")]
        return named or list(self.rails.values())

    async def flush(self) -> int:
        """Write every rail's open batch into the outbox; returns how many files were written."""
        return sum([len(await rail.flush()) for rail in self.rails.values()])

    async def close(self) -> None:
        for rail in self.rails.values():
            await rail.close()
