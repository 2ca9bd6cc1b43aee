"""The provider registry: finds payout providers through the `diamonds.payout_providers` entry-point
group (so an integrator's package adds one without touching this repo) or takes them by hand.

An entry point names either a `PayoutProvider` subclass (built with its `from_env(env)` class
method when it has one, else with no arguments) or a factory `(env: Mapping[str, str]) ->
PayoutProvider`. Providers are built on first use, so one provider's missing configuration does not
stop the others. A provider's class (its payee fields, its `validate_payee`) is read without
building it, and the `required_env` it declares tells "registered" from "configured".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a registered provider can be used here: `provider` when it is built and
    configured; otherwise `missing` (the unset variables, when that is why) and `problem`."""

    slug: str
    provider: PayoutProvider | None
    missing: tuple[str, ...]
    problem: str | None

    @property
    def configured(self) -> bool:
        return self.provider is not None

    def describe(self) -> str:
        """`configured`, or `not configured: missing DIAMONDS_X, DIAMONDS_Y`, or the problem."""
        if self.provider is not None:
            return "configured"
        if self.missing:
            return f"not configured: missing {', '.join(self.missing)}"
        return f"not configured: {self.problem}"


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
        self._targets: dict[str, object] = {}
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
        provider cannot be loaded or configured (`missing` names the unset variables it declares
        in `required_env`).
        """
        provider = self._built.get(slug)
        if provider is not None:
            return provider
        ep = self._entry_point(slug)
        target = self._target(slug, ep)
        missing = self._missing_env(target)
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise ProviderConfigError(
                slug, f"not configured: {', '.join(missing)} {verb} not set", missing=missing
            )
        provider = _instantiate(slug, ep.value, target, self.env)
        if provider.slug != slug:
            raise ProviderConfigError(
                slug, f"entry point {ep.value} built a provider whose slug is {provider.slug!r}"
            )
        self._built[slug] = provider
        log.info("payout provider %r loaded from %s", slug, ep.value)
        return provider

    def contract(self, slug: str) -> type[PayoutProvider]:
        """The provider's class, for what it declares (`payee_fields`, `validate_payee`,
        currencies): read without building the provider, so it answers for a provider that is
        not configured here. A factory entry point has to be built to tell. Raises like `get`."""
        provider = self._built.get(slug)
        if provider is not None:
            return type(provider)
        target = self._target(slug, self._entry_point(slug))
        if isinstance(target, type) and issubclass(target, PayoutProvider):
            return target
        return type(self.get(slug))

    def status(self, slug: str) -> ProviderStatus:
        """Whether the provider can be used here; builds it (once) to find out."""
        try:
            provider = self.get(slug)
        except ProviderConfigError as exc:
            return ProviderStatus(slug, None, exc.missing, exc.detail)
        return ProviderStatus(slug, provider, (), None)

    def statuses(self) -> list[ProviderStatus]:
        """Every registered provider's status, by slug."""
        return [self.status(slug) for slug in self.slugs()]

    def _entry_point(self, slug: str) -> EntryPoint:
        found = self._entry_points.get(slug)
        if not found:
            raise UnknownProvider(slug, self.slugs())
        if len(found) > 1:
            where = ", ".join(sorted(ep.value for ep in found))
            raise ProviderConfigError(slug, f"several entry points claim this slug: {where}")
        return found[0]

    def _target(self, slug: str, ep: EntryPoint) -> object:
        if slug not in self._targets:
            try:
                self._targets[slug] = ep.load()
            except Exception as exc:  # an integrator's import error, named with the entry point
                raise ProviderConfigError(
                    slug, f"entry point {ep.value} cannot be loaded: {exc}"
                ) from exc
        return self._targets[slug]

    def _missing_env(self, target: object) -> tuple[str, ...]:
        if not (isinstance(target, type) and issubclass(target, PayoutProvider)):
            return ()
        return tuple(name for name in target.required_env if not (self.env.get(name) or "").strip())

    def built(self) -> list[PayoutProvider]:
        """The providers built so far."""
        return list(self._built.values())

    async def close(self) -> None:
        """Close every provider built so far."""
        for provider in self._built.values():
            await provider.close()


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
