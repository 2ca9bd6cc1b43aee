"""Per-provider configuration from `DIAMONDS_<SLUG>_*` environment variables, validated once, with
every problem named together in one `ProviderConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from kernel.env import EnvReader, describe_problems
from providers.errors import ProviderConfigError

STRIPE_API_BASE = "https://api.stripe.com"


class ProviderEnv(EnvReader):
    """Reads one provider's `DIAMONDS_<SLUG>_<NAME>` variables and collects what is wrong with
    them; `check()` raises one `ProviderConfigError` naming every bad variable.

    A value that is empty or only blanks counts as unset. `integer`, `number`, `boolean`,
    `choice` and `items` come from the kernel's `EnvReader`, with keys relative to the slug.
    """

    def __init__(self, slug: str, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env, prefix=f"DIAMONDS_{slug.upper()}_")
        self.slug = slug

    def required(
        self, key: str, *, expect: str | None = None, prefixes: tuple[str, ...] = ()
    ) -> str:
        """A value that must be set; `prefixes` (e.g. `("sk_", "rk_")`) it must start with."""
        raw = super().required(key, expect=expect)
        if raw:
            self._check_prefix(key, raw, expect, prefixes)
        return raw

    def optional(self, key: str, *, expect: str, prefixes: tuple[str, ...] = ()) -> str | None:
        raw = self.raw(key)
        if raw is not None:
            self._check_prefix(key, raw, expect, prefixes)
        return raw

    def _check_prefix(
        self, key: str, raw: str, expect: str | None, prefixes: tuple[str, ...]
    ) -> None:
        if prefixes and not raw.startswith(prefixes):
            shown = raw[:4] + "..." if len(raw) > 4 else raw
            self.refuse(key, shown, expect or "a value starting with " + " or ".join(prefixes))

    def url(self, key: str, default: str) -> str:
        """An http(s) base URL without a trailing slash, path, query or fragment."""
        raw = self.raw(key) or default
        parts = urlsplit(raw)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path.strip("/")
            or parts.query
            or parts.fragment
        ):
            self.refuse(
                key, raw, f"a base URL such as {default} (scheme and host, optional port, no path)"
            )
            return default
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            self.problems.append(f"{self.name(key)}={raw!r}: the port is not a number")
            return default
        return raw.rstrip("/")

    def check(self) -> None:
        """Raise one `ProviderConfigError` listing every problem found so far."""
        if self.problems:
            raise ProviderConfigError(self.slug, describe_problems(self.problems))


@dataclass(frozen=True)
class StripeConfig:
    """What the Stripe provider needs. `api_base` points at Stripe, or at the fake Stripe server
    in tests and development."""

    api_key: str = field(repr=False)
    api_base: str = STRIPE_API_BASE
    webhook_secret: str | None = field(default=None, repr=False)
    timeout_seconds: float = 20.0
    """Bound on every HTTP call; a submit that runs past it is an unknown outcome."""
    webhook_tolerance_seconds: int = 300
    """How old (or how far in the future) a webhook's signed timestamp may be."""
    max_concurrent_requests: int = 16
    """Requests to Stripe in flight at once, over every payout this process dispatches."""
    requests_per_second: float = 100.0
    """Requests started per second at most (Stripe's live-mode limit is 100 reads and 100 writes
    a second); 0 for no bound."""

    def __post_init__(self) -> None:
        if self.max_concurrent_requests < 1 or not self.requests_per_second >= 0:
            raise ProviderConfigError(
                "stripe", "max_concurrent_requests must be at least 1, requests_per_second >= 0"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StripeConfig:
        """From `DIAMONDS_STRIPE_API_KEY` (required), `DIAMONDS_STRIPE_API_BASE`,
        `DIAMONDS_STRIPE_WEBHOOK_SECRET`, `DIAMONDS_STRIPE_TIMEOUT_SECONDS`,
        `DIAMONDS_STRIPE_WEBHOOK_TOLERANCE_SECONDS`, `DIAMONDS_STRIPE_MAX_CONCURRENT_REQUESTS`
        and `DIAMONDS_STRIPE_REQUESTS_PER_SECOND`."""
        read = ProviderEnv("stripe", env)
        api_key = read.required(
            "API_KEY", expect="a Stripe secret key (sk_... or rk_...)", prefixes=("sk_", "rk_")
        )
        api_base = read.url("API_BASE", STRIPE_API_BASE)
        webhook_secret = read.optional(
            "WEBHOOK_SECRET", expect="a webhook signing secret (whsec_...)", prefixes=("whsec_",)
        )
        timeout = read.number("TIMEOUT_SECONDS", 20.0, 0.05, 600.0)
        tolerance = read.integer("WEBHOOK_TOLERANCE_SECONDS", 300, 1, 86_400)
        concurrent = read.integer("MAX_CONCURRENT_REQUESTS", 16, 1, 256)
        per_second = read.number("REQUESTS_PER_SECOND", 100.0, 0.0, 10_000.0)
        read.check()
        return cls(
            api_key=api_key,
            api_base=api_base,
            webhook_secret=webhook_secret,
            timeout_seconds=timeout,
            webhook_tolerance_seconds=tolerance,
            max_concurrent_requests=concurrent,
            requests_per_second=per_second,
        )
