"""The provider registry: finds payout providers through the `diamonds.payout_providers` entry-point
group (so an integrator's package adds one without touching this repo) or takes them by hand.

An entry point names either a `PayoutProvider` subclass (built with its `from_env(env)` class
method when it has one, else with no arguments) or a factory `(env: Mapping[str, str]) ->
PayoutProvider`. Providers are built on first use, so one provider's missing configuration does not
stop the others.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points

from providers.base import PayoutProvider
from providers.errors import ProviderConfigError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "diamonds.payout_providers"

ProviderFactory = Callable[[Mapping[str, str]], PayoutProvider]


class UnknownProvider(ProviderConfigError):
    """No provider is registered under this slug."""

    def __init__(self, slug: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(slug, f"no payout provider is registered under this slug (known: {names})")


class ProviderRegistry:
    """Payout providers by slug. `env` is the environment handed to entry-point providers
    (default `os.environ`); `discover=False` leaves entry points out (tests)."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        discover: bool = True,
        group: str = ENTRY_POINT_GROUP,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._built: dict[str, PayoutProvider] = {}
        self._entry_points: dict[str, list[EntryPoint]] = {}
        if discover:
            for ep in entry_points(group=group):
                self._entry_points.setdefault(ep.name, []).append(ep)

    def register(self, provider: PayoutProvider, *, replace: bool = False) -> None:
        """Add a ready provider under its slug; it takes precedence over an entry point of the
        same name. Registering a second provider under a taken slug needs `replace=True`."""
        slug = provider.slug
        if not slug or slug != slug.strip().lower():
            raise ValueError(f"a provider slug must be lower-case and non-empty, got {slug!r}")
        current = self._built.get(slug)
        if current is not None and current is not provider and not replace:
            raise ValueError(f"a payout provider is already registered under {slug!r}")
        self._built[slug] = provider

    def slugs(self) -> list[str]:
        """Every slug this registry can answer, built or not, sorted."""
        return sorted(set(self._built) | set(self._entry_points))

    def __contains__(self, slug: object) -> bool:
        return slug in self._built or slug in self._entry_points

    def get(self, slug: str) -> PayoutProvider:
        """The provider registered under `slug`, built from its entry point on first use.

        Raises `UnknownProvider` for a slug nobody registered, and `ProviderConfigError` when the
        provider cannot be loaded or configured.
        """
        provider = self._built.get(slug)
        if provider is not None:
            return provider
        found = self._entry_points.get(slug)
        if not found:
            raise UnknownProvider(slug, self.slugs())
        if len(found) > 1:
            where = ", ".join(sorted(ep.value for ep in found))
            raise ProviderConfigError(slug, f"several entry points claim this slug: {where}")
        provider = _build(found[0], self.env)
        self._built[slug] = provider
        log.info("payout provider %r loaded from %s", slug, found[0].value)
        return provider

    def built(self) -> list[PayoutProvider]:
        """The providers built so far."""
        return list(self._built.values())

    async def close(self) -> None:
        """Close every provider built so far."""
        for provider in self._built.values():
            await provider.close()


def _build(ep: EntryPoint, env: Mapping[str, str]) -> PayoutProvider:
    slug = ep.name
    try:
        target = ep.load()
    except Exception as exc:  # an integrator's import error, named with the entry point
        raise ProviderConfigError(slug, f"entry point {ep.value} cannot be loaded: {exc}") from exc
    provider = _instantiate(slug, ep.value, target, env)
    if provider.slug != slug:
        raise ProviderConfigError(
            slug, f"entry point {ep.value} built a provider whose slug is {provider.slug!r}"
        )
    return provider


def _instantiate(slug: str, where: str, target: object, env: Mapping[str, str]) -> PayoutProvider:
    try:
        if isinstance(target, type):
            if not issubclass(target, PayoutProvider):
                raise ProviderConfigError(
                    slug, f"entry point {where} names {target.__name__}, not a PayoutProvider"
                )
            from_env = getattr(target, "from_env", None)
            built: object = from_env(env) if callable(from_env) else target()
        elif callable(target):
            built = target(env)
        else:
            raise ProviderConfigError(slug, f"entry point {where} is neither a class nor a factory")
    except ProviderConfigError:
        raise
    except Exception as exc:  # a provider that cannot start is a configuration problem
        raise ProviderConfigError(slug, f"entry point {where} failed to build: {exc}") from exc
    if not isinstance(built, PayoutProvider):
        raise ProviderConfigError(
            slug, f"entry point {where} returned {type(built).__name__}, not a PayoutProvider"
        )
    return built
